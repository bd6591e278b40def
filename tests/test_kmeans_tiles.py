"""k-means++'s distances (gmmfast/_kmeans.pyx kpp_distances, in tiles of rows from
gmmfast/_kernels/csrc/kmeans_tiles.h): every build gives, to the bit, the formula they
follow written out in numpy, scikit-learn's ((-2 <c, xc>) + ||c||^2) + ||xc||^2 with
the dot product summed over the features in order, cast to X's dtype, clipped at 0,
and its minimum with the closest distance so far."""

import os
import subprocess
import sys

import numpy as np
import pytest

import gmmfast

# rows: not a multiple of the tiles' 8 rows nor of the blocks' 1024; candidates: 1 to
# 7 (groups of 4 and the rest); features 1 to 41
SHAPES = [(2053, 16, 4), (1001, 3, 3), (517, 41, 7), (99, 1, 5), (1030, 64, 1), (8, 2, 6)]


def _inputs(dtype, n, D, T, seed):
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n, D)) * rng.uniform(0.1, 10, D) + rng.normal(0, 5, D))
    X = X.astype(dtype)
    mean = X.mean(axis=0).astype(dtype)
    xc = (X - mean).astype(np.float64)
    xx = np.einsum("ij,ij->i", xc, xc)
    cand = xc[rng.integers(0, n, T)] + rng.normal(0, 0.1, (T, D))
    cn = np.einsum("ij,ij->i", cand, cand)
    closest = (rng.uniform(0.3, 1.5, n) * xx).astype(dtype)
    return X, mean, xx, cand, cn, closest


def _reference(X, mean, xx, cand, cn, closest):
    """The formula, step by step, with numpy's elementwise operations (each rounded
    as the compiled code rounds it)."""
    xc = (X - mean).astype(np.float64)
    out = np.empty((len(cand), len(X)), dtype=X.dtype)
    for t, c in enumerate(cand):
        g = np.zeros(len(X))
        for d in range(X.shape[1]):       # in feature order
            g = g + c[d] * xc[:, d]
        f = ((-2.0 * g + cn[t]) + xx).astype(X.dtype)
        f = np.where(f < 0, np.zeros_like(f), f)
        if closest is not None:
            f = np.where(closest <= f, closest, f)
        out[t] = f
    return out


def _digest(compute):
    import hashlib

    h = hashlib.sha256()
    for dtype in (np.float64, np.float32):
        for i, (n, D, T) in enumerate(SHAPES):
            args = _inputs(dtype, n, D, T, seed=i)
            for with_closest in (False, True):
                h.update(compute(*args[:5], args[5] if with_closest else None).tobytes())
    return h.hexdigest()


def _compiled(X, mean, xx, cand, cn, closest, n_threads=2):
    from gmmfast import _kmeans

    out = np.empty((len(cand), len(X)), dtype=X.dtype)
    status = _kmeans.kpp_distances(
        X, mean, xx, cand, cn,
        np.empty(0, dtype=X.dtype) if closest is None else closest, out, n_threads)
    assert status == _kmeans.STATUS_OK
    return out


@pytest.mark.parametrize("n_threads", [1, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_distances_are_the_formula_to_the_bit(dtype, n_threads):
    for i, (n, D, T) in enumerate(SHAPES):
        X, mean, xx, cand, cn, closest = _inputs(dtype, n, D, T, seed=i)
        for cl in (None, closest):
            got = _compiled(X, mean, xx, cand, cn, cl, n_threads)
            assert got.dtype == dtype
            np.testing.assert_array_equal(got, _reference(X, mean, xx, cand, cn, cl))


def test_distances_clip_at_zero_and_take_the_closest():
    # a candidate on a row: its distance rounds to about 0 and may come out negative
    X, mean, xx, cand, cn, closest = _inputs(np.float64, 64, 5, 2, seed=9)
    cand[0] = (X[3] - mean).astype(np.float64)
    cn[0] = cand[0] @ cand[0]
    got = _compiled(X, mean, xx, cand, cn, None)
    assert got[0, 3] >= 0 and got[0, 3] <= 1e-9 * xx[3]
    assert (got >= 0).all()
    got = _compiled(X, mean, xx, cand, cn, closest)
    assert (got <= closest).all()


_CHILD = """
import sys
sys.path.insert(0, sys.argv[1])
import test_kmeans_tiles as t
from gmmfast import _kmeans
print(_kmeans.tiles_impl(), t._digest(t._compiled))
"""


def test_every_build_of_the_tiles_gives_the_formula():
    # The tiles' vector builds are compiled without contraction (setup.py): each
    # build, run in a child process of its own (GMMFAST_ISA is read at import), gives
    # the numpy formula's bits.
    from gmmfast import _kmeans

    builds = _kmeans.tiles_builds()
    if len(builds) == 1:
        pytest.skip("only the baseline build of the tiles is compiled in")
    want = _digest(_reference)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(gmmfast.__file__)))
    got = {}
    for cap in ("baseline", "avx2", "neon", "avx512"):
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, os.path.dirname(os.path.abspath(__file__))],
            capture_output=True, text=True, timeout=300, cwd="/",
            env=dict(env, GMMFAST_ISA=cap))
        assert proc.returncode == 0, proc.stderr
        impl, digest = proc.stdout.split()
        got[impl] = digest
    assert "baseline" in got and len(got) >= 2, got
    assert set(got) <= set(builds)
    assert all(d == want for d in got.values()), (want, got)
