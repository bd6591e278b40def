"""The kernels' vector exp and log (gmmfast/_kernels/csrc/vmath.h) against numpy, over their whole domain.

Bounds, and why: both are Cody-Waite reductions with a polynomial whose truncation is
at most 2.3e-16 (double exp, at r = -ln 2 / 2) / 7e-9 (float exp) relative; with the
rounding in about a dozen multiply-adds the errors measure 3.2e-16 (exp), 4.1e-16 (log,
worst just above 1), 1.2e-7 (float exp and log) relative. We allow 4e-16 / 5e-16 /
2.5e-7: two to three units in the last place.
"""

import numpy as np
import pytest

from gmmfast import _kernels

TINY = np.finfo(np.float64).tiny  # smallest normal double


def test_implementation_is_named():
    assert _kernels.vmath_impl() in ("avx512", "avx2+fma", "neon", "baseline")
    assert _kernels.vmath_impl() in _kernels.isa_builds()
    assert _kernels.isa_builds()[0] == "baseline"


def test_every_wheel_platform_has_its_vector_builds():
    # the builds setup.py's ISA_BUILDS gives this machine (a compiler that could not
    # make one would leave it out with a warning: the wheels' compilers make them all)
    import platform

    machine = platform.machine().lower()
    expected = {"x86_64": ("baseline", "avx2+fma", "avx512"), "amd64":
                ("baseline", "avx2+fma", "avx512"), "aarch64": ("baseline", "neon"),
                "arm64": ("baseline", "neon")}.get(machine)
    if expected is None:
        assert _kernels.isa_builds() == ("baseline",)
    else:
        assert _kernels.isa_builds() == expected


def test_exp_matches_numpy_on_its_domain():
    x = np.concatenate([np.linspace(-746.0, 0.0, 400_001), -np.logspace(-300, 2, 20_001)])
    got = x.copy()
    _kernels.vexp(got)
    want = np.exp(x)
    normal = want >= TINY
    rel = np.abs(got[normal] - want[normal]) / want[normal]
    assert rel.max() <= 4e-16
    # subnormal results: within a few units of the smallest subnormal, never negative
    sub = ~normal
    assert np.all(got[sub] >= 0)
    assert np.abs(got[sub] - want[sub]).max() <= 4 * np.finfo(np.float64).smallest_subnormal
    assert got[x == 0.0].tolist() == [1.0] * int((x == 0.0).sum())


def test_exp_special_values():
    got = np.array([-np.inf, -1e308, -746.0, -800.0, np.nan])
    _kernels.vexp(got)
    assert got[:4].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert np.isnan(got[4])


def test_log_matches_numpy_on_its_domain():
    x = np.concatenate([np.linspace(1.0, 3.0, 200_001), np.logspace(0, 300, 20_001),
                        1.0 + np.logspace(-15, -1, 10_001)])
    got = x.copy()
    _kernels.vlog(got)
    want = np.log(x)
    pos = want > 0
    assert (np.abs(got[pos] - want[pos]) / want[pos]).max() <= 5e-16
    assert got[x == 1.0].tolist() == [0.0] * int((x == 1.0).sum())
    nan = np.array([np.nan])
    _kernels.vlog(nan)
    assert np.isnan(nan[0])


@pytest.mark.parametrize("which", ["exp", "log"])
def test_float32_versions(which):
    if which == "exp":
        x = np.linspace(-87.0, 0.0, 200_001, dtype=np.float32)
        got = x.copy()
        _kernels.vexp32(got)
        want = np.exp(x.astype(np.float64))
    else:
        x = np.linspace(1.0, 1000.0, 200_001, dtype=np.float32)
        got = x.copy()
        _kernels.vlog32(got)
        want = np.log(x.astype(np.float64))
    keep = np.abs(want) > 1e-30
    rel = np.abs(got[keep] - want[keep]) / np.abs(want[keep])
    assert rel.max() <= 2.5e-7


def test_float32_exp_is_zero_below_its_floor_and_never_subnormal():
    # below -80 (e^-80 = 1.8e-35 of the log-sum-exp's largest term) float exp is 0:
    # subnormal floats cost a microcode assist each on Intel CPUs (tall2d_f32 ran 1.4x
    # slower than float64 there), in exp and in the products that scale its results
    x = np.concatenate([np.linspace(-120.0, 0.0, 240_001, dtype=np.float32),
                        np.float32([-np.inf, -1e30, -80.0, np.nextafter(-80.0, -100.0)])])
    got = x.copy()
    _kernels.vexp32(got)
    assert np.all((got == 0) | (got >= np.finfo(np.float32).tiny))
    assert np.all(got[x < -80.0] == 0)
    kept = x >= -80.0
    np.testing.assert_allclose(got[kept], np.exp(x[kept].astype(np.float64)), rtol=2.5e-7)
    nan = np.float32([np.nan])
    _kernels.vexp32(nan)
    assert np.isnan(nan[0])


# Every vector build is run here, not only the widest this CPU has: GMMFAST_ISA caps
# the choice at import, in a child process. The AVX2 and AVX-512 builds do the same
# operations per lane (vector width changes no result), so their fits agree bit for
# bit; the x86 baseline build has no fused multiply-add, so it agrees to rounding. On
# aarch64 the caps avx512 and avx2 both give the NEON build (its one vector build), and
# its baseline build (plain C, FMA contracted by the compiler where it chooses) agrees
# with it to rounding.
_ISA_CHILD = """
import numpy as np
from gmmfast import GaussianMixture, _kernels
rng = np.random.default_rng(0)
out = {"impl": _kernels.vmath_impl()}
# 'diag' with 37 components and 17 features: two tiles of components in every build,
# and a masked last vector of the feature rows in the AVX-512 one (csrc/diag_products.h); one
# iteration, as 40 rows a component would amplify the baseline's rounding over five.
# 'tied' with 20 features: the float64 rank update in whole and edge tiles (csrc/rank_update.h);
# float32 'full' with 41: its log-density groups and rank tiles, whole and edge.
for cov, d, k, it in [("full", 3, 3, 5), ("full", 12, 3, 5), ("full", 41, 3, 5),
                      ("tied", 5, 3, 5), ("tied", 20, 3, 5), ("diag", 9, 3, 5),
                      ("diag", 17, 37, 1), ("spherical", 4, 3, 5)]:
    for dtype in (np.float64, np.float32):
        X = (rng.standard_normal((1500, d)) + rng.integers(0, 3, (1500, 1)) * 3.0)
        X = X.astype(dtype)
        g = GaussianMixture(k, covariance_type=cov, random_state=0, max_iter=it,
                            tol=0).fit(X)
        out[f"{cov}{d}k{k}{np.dtype(dtype).name}"] = (
            g.means_.tolist(), np.asarray(g.precisions_cholesky_).tolist(),
            float(g.lower_bound_), g.score_samples(X[:50]).tolist(),
            g.predict_proba(X[:50]).tolist())
# the exponential alone, subnormal results and special values included (the AVX-512
# build's own lanes, vmath.h's gmm_exp8_d, against the others' compiled loop)
x = np.concatenate([np.linspace(-760.0, 0.0, 30_001), np.linspace(-746.0, -708.0, 30_001),
                    [-np.inf, np.nan, -0.0, -746.0, -1e308]])
_kernels.vexp(x)
out["vexp_float64"] = (np.nan_to_num(x, nan=-1.0).tolist(),)   # NaN stays NaN: -1
print(repr(out))
"""


def _fit_with_isa(isa):
    import ast
    import os
    import subprocess
    import sys

    import gmmfast

    env = dict(os.environ, GMMFAST_ISA=isa)
    proc = subprocess.run([sys.executable, "-c", _ISA_CHILD], capture_output=True,
                          text=True, env=env, timeout=300,
                          cwd=os.path.dirname(os.path.dirname(gmmfast.__file__)))
    assert proc.returncode == 0, proc.stderr
    return ast.literal_eval(proc.stdout)


def test_every_vector_build_fits_the_same_model():
    wide, avx2, base = (_fit_with_isa(isa) for isa in ("avx512", "avx2", "baseline"))
    assert base.pop("impl") == "baseline"
    if "neon" in _kernels.isa_builds():
        assert avx2.pop("impl") == wide.pop("impl") == "neon"
    else:   # a CPU without AVX2 runs baseline
        assert avx2.pop("impl") in ("avx2+fma", "baseline")
        wide.pop("impl")
    for key in wide:
        if _kernels.vmath_impl() != "baseline":
            assert wide[key] == avx2[key], f"{key}: AVX-512 and AVX2 builds differ"
        if key.startswith("diag17k37"):
            # for the vector builds' tiles; its small components' variances differ
            # from the baseline's by more than a few units (1.8e-14 measured)
            continue
        for got, want in zip(base[key], wide[key]):
            # the baseline build has no fused multiply-add: rounding differences,
            # carried through 5 EM iterations (measured: 2e-16 float64, 6e-8 float32,
            # relative to max(1, |value|)); a few units in the last place allowed
            tol = 1e-14 if key.endswith("float64") else 5e-7
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=key)
