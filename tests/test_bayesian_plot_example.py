"""gmmfast.plot draws a BayesianGaussianMixture, and its example runs (small sizes)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Ellipse  # noqa: E402
from sklearn.datasets import make_blobs  # noqa: E402

import gmmfast  # noqa: E402
from gmmfast import BayesianGaussianMixture  # noqa: E402
from gmmfast import plot as gplot  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _fit():
    X, _ = make_blobs(n_samples=300, centers=3, cluster_std=0.7, random_state=0)
    bgm = BayesianGaussianMixture(n_components=6, weight_concentration_prior=1e-2,
                                  max_iter=300, random_state=0).fit(X)
    return bgm, X


def test_plot_gmm_shades_ellipses_by_weight():
    bgm, X = _fit()
    ax = gplot.plot_gmm(bgm, X, ax=Figure().subplots())
    ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
    assert len(ellipses) == 3 * 6
    # the innermost ellipse of each component: its opacity follows its weight
    alphas = np.array([ellipses[3 * k].get_alpha() for k in range(6)])
    order = np.argsort(bgm.weights_)
    assert np.all(np.diff(alphas[order]) >= 0)
    assert alphas.max() == 1.0 and alphas.min() < 0.1
    assert bgm.n_effective_components_ == 3
    assert "Bayesian GMM" in ax.get_title()


def test_plot_convergence_draws_the_variational_bound():
    bgm, _ = _fit()
    ax = gplot.plot_convergence(bgm, ax=Figure().subplots())
    (line,) = ax.get_lines()
    np.testing.assert_allclose(line.get_ydata(), bgm.lower_bounds_)
    assert ax.get_ylabel() == "variational lower bound"


def test_example_runs_and_finds_the_blobs(tmp_path):
    env = dict(os.environ, GMMFAST_EXAMPLES_SMALL="1", MPLBACKEND="Agg",
               PYTHONPATH=str(Path(gmmfast.__file__).resolve().parent.parent))
    env.pop("GMMFAST_EXAMPLES_OUT", None)
    out = subprocess.run([sys.executable, str(EXAMPLES / "bayesian_components.py"),
                          str(tmp_path)], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    found = re.findall(r"blobs, \w+: (\d+) of 10 components carry data .* ARI against "
                       r"the truth ([\d.]+)", out.stdout)
    assert found == [("4", "1.000"), ("4", "1.000")]
    assert re.search(r"digits, 'diag', dirichlet_process: 1 of 20 components", out.stdout)
    for name in ("bayesian_blobs.png", "bayesian_digits.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
