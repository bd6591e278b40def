"""The examples and ``python -m gmmfast`` run as scripts (small sizes) and draw what they say."""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.image import imread  # noqa: E402

import gmmfast  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _run(args, cwd, extra_env=None, timeout=240):
    env = dict(os.environ)
    env["GMMFAST_EXAMPLES_SMALL"] = "1"
    env["MPLBACKEND"] = "Agg"
    env.pop("GMMFAST_EXAMPLES_OUT", None)
    # the gmmfast under test (installed or in place), not whatever the cwd holds
    env["PYTHONPATH"] = str(Path(gmmfast.__file__).resolve().parent.parent)
    env.update(extra_env or {})
    out = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, f"{args} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def _check_png(path, size_inches, dpi):
    """A real PNG of the figure's pixel size with a drawing on it; returns the pixels."""
    data = Path(path).read_bytes()
    assert data[:8] == PNG_SIGNATURE, path
    img = imread(path)
    h, w = img.shape[:2]
    assert (w, h) == (round(size_inches[0] * dpi), round(size_inches[1] * dpi)), path
    ink = np.mean(img[..., :3].min(axis=-1) < 0.95)
    assert 0.02 < ink < 0.9, (path, ink)  # neither blank nor a solid block
    return img


def test_clustering_tour(tmp_path):
    out = tmp_path / "tour"
    text = _run([str(EXAMPLES / "clustering_tour.py"), str(out)], cwd=tmp_path)
    assert re.search(r"BIC chose K=4 .*ARI against the truth 1\.000", text)
    ari = dict(re.findall(r"stretched blobs, (covariance_type='full'|k-means): ARI ([\d.]+)",
                          text))
    assert float(ari["covariance_type='full'"]) > 0.95 > float(ari["k-means"])
    rows = re.findall(r"x=\[.*\]:\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", text)
    assert len(rows) == 3
    for row in rows:
        assert abs(sum(map(float, row)) - 1) < 2e-3
    for name, size in [("tour_blobs.png", (11, 4.5)), ("tour_soft.png", (11, 4.5)),
                       ("tour_anisotropic.png", (12, 4)), ("tour_moons.png", (11, 4.5))]:
        _check_png(out / name, size, 80)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["tour_blobs.png", "tour_soft.png", "tour_anisotropic.png", "tour_moons.png"])


def test_digits_density(tmp_path):
    out = tmp_path / "digits"
    text = _run([str(EXAMPLES / "digits_density.py")], cwd=tmp_path,
                extra_env={"GMMFAST_EXAMPLES_OUT": str(out)})
    assert "41 whitened PCA features" in text
    assert re.search(r"Model selection by BIC over 3 candidates", text)
    assert re.search(r"GaussianMixture\(40, 'full'\): \d+ EM iterations", text)
    real = _check_png(out / "digits_real.png", (7.0, 7.4), 80)
    new = _check_png(out / "digits_new.png", (7.0, 7.4), 80)
    assert not np.array_equal(real, new)
    _check_png(out / "digits_selection.png", (11, 4), 80)


def test_imputation_regression(tmp_path):
    out = tmp_path / "imp"
    text = _run([str(EXAMPLES / "imputation_regression.py"), str(out)], cwd=tmp_path)
    err = dict(re.findall(r"(conditional means|column means|draws) ([\d.]+)", text))
    # the mixture's conditional means beat the column means on the held-out truth
    assert float(err["conditional means"]) < float(err["column means"])
    r2, sd_low, sd_high, inside = re.search(
        r"R\^2 ([\d.]+); sd of y \| x ([\d.]+) for x < 0, ([\d.]+) for x > 1.5 .*; "
        r"([\d.]+)% of the points within 2 sd", text).groups()
    # one branch of noise 0.1 on the left; two branches 1.5 apart on the right
    assert 0.08 < float(sd_low) < 0.15 and float(sd_high) > 0.5
    assert float(r2) > 0.7 and float(inside) > 90
    _check_png(out / "imputation.png", (15, 4.5), 80)
    _check_png(out / "regression.png", (11, 4.5), 80)
    assert sorted(p.name for p in out.iterdir()) == ["imputation.png", "regression.png"]


def test_from_scratch_to_fast(tmp_path):
    out = tmp_path / "scratch"
    text = _run([str(EXAMPLES / "from_scratch_to_fast.py"), str(out)], cwd=tmp_path)
    gaps = [float(g) for g in re.findall(r"scratch vs gmmfast ([\d.e+-]+)", text)]
    assert len(gaps) == 3 and max(gaps) < 1e-8  # the from-scratch EM and gmmfast agree
    assert len(re.findall(r"scikit-learn [\d.]+ ms", text)) == 3
    assert re.search(r"elliptical GaussianMixture full\s+1\.000", text)
    assert re.search(r"blobs\s+BIC chooses K=3", text)
    _check_png(out / "from_scratch_to_fast.png", (13, 12), 60)


def test_main_job_writes_pictures_under_the_current_directory(tmp_path):
    text = _run(["-m", "gmmfast"], cwd=tmp_path)
    demo = tmp_path / "gmmfast-demo"
    assert f"5 pictures written to {demo}" in text
    found = re.search(r"1\. iris.*?chosen by BIC: K=(\d+), covariance_type='(\w+)', "
                      r"log-likelihood=(-?[\d.]+), BIC=([\d.]+)", text, re.S)
    assert found and int(found.group(1)) >= 1
    assert re.search(r"2\. handwritten digits.*chosen by AIC: K=\d+", text, re.S)
    times = re.findall(r"([\d.]+) ms/iteration", text)
    assert len(times) == 3 and all(float(t) > 0 for t in times)
    assert len(re.findall(r"gmmfast is [\d.]+x as fast", text)) == 2
    same = re.search(r"lower bound (-?[\d.]+) \(gmmfast\) vs (-?[\d.]+) \(scikit-learn\)", text)
    assert abs(float(same.group(1)) - float(same.group(2))) < 1e-6
    for name, size in [("ellipses.png", (9, 4)), ("selection.png", (6, 4)),
                       ("convergence_uncertainty.png", (9, 3.5)),
                       ("moons_samples.png", (5, 4)), ("digits_samples.png", (6, 4.2))]:
        _check_png(demo / name, size, 72)
    done = float(re.search(r"done in ([\d.]+) s", text).group(1))
    assert done < 60


def test_main_job_without_matplotlib_says_how_to_get_pictures(tmp_path):
    code = textwrap.dedent(
        """
        import runpy, sys
        class _Block:
            def find_spec(self, name, path=None, target=None):
                if name == "matplotlib" or name.startswith("matplotlib."):
                    raise ImportError("No module named 'matplotlib' (blocked by the test)")
                return None
        sys.meta_path.insert(0, _Block())
        sys.argv = ["gmmfast", "--out", "pics"]
        runpy.run_module("gmmfast", run_name="__main__", alter_sys=True)
        """
    )
    text = _run(["-c", code], cwd=tmp_path)
    assert "chosen by BIC" in text and "ms/iteration" in text
    assert 'pip install "gmmfast[plot]"' in text
    assert "no pictures were drawn" in text
    assert not (tmp_path / "pics").exists()
