"""gmmfast.plot: what each function draws, checked on the artists and the rendered PNG."""

import io
import os
import subprocess
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Ellipse  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.mixture import GaussianMixture as SkGaussianMixture  # noqa: E402

from gmmfast import GaussianMixture, select_model  # noqa: E402
from gmmfast import plot as gplot  # noqa: E402

# where the gmmfast under test lives: child processes run there, because "python -c"
# puts the cwd first on sys.path and a checkout's gmmfast/ would shadow an install
_GMMFAST_HOME = os.path.dirname(os.path.dirname(gplot.__file__))

TYPES = ["full", "tied", "diag", "spherical"]


def _blobs(D=2, n=80, seed=0):
    rng = np.random.RandomState(seed)
    centers = np.zeros((3, D))
    centers[0, 0], centers[1, 1], centers[2, 0] = -5.0, 5.0, 5.0
    scales = rng.uniform(0.5, 1.5, size=(3, D))
    return np.vstack([c + s * rng.standard_normal((n, D)) for c, s in zip(centers, scales)])


def _axes():
    return Figure(figsize=(4, 3)).subplots()


def _ellipses(ax):
    return [p for p in ax.patches if isinstance(p, Ellipse)]


def _scatters(ax):
    return [c for c in ax.collections if isinstance(c, PathCollection)]


def _covariance_from_precisions(gmm):
    """(K, D, D) covariances through the precisions: another route than plot.py's."""
    K, D = gmm.means_.shape
    P = gmm.precisions_
    if gmm.covariance_type == "full":
        return np.linalg.inv(P)
    if gmm.covariance_type == "tied":
        return np.repeat(np.linalg.inv(P)[None], K, axis=0)
    if gmm.covariance_type == "diag":
        return np.array([np.diag(1.0 / p) for p in P])
    return np.array([np.eye(D) / p for p in P])


def _axes_lengths(cov2):
    """Full axis lengths (minor, major) of the 1-sigma ellipse of a 2x2 covariance."""
    return 2.0 * np.sqrt(np.linalg.eigvalsh(cov2))


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=50)
    data = buf.getvalue()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return data


def _ink_fraction(fig):
    """Share of non-white pixels of the rendered figure."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    return float(np.mean(rgba[..., :3].min(axis=-1) < 250))


@pytest.mark.parametrize("covariance_type", TYPES)
def test_plot_gmm_2d_draws_three_ellipses_per_component(covariance_type):
    X = _blobs()
    gmm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    ax = _axes()
    assert gplot.plot_gmm(gmm, X, ax=ax) is ax
    ellipses = _ellipses(ax)
    assert len(ellipses) == 3 * 3
    points, means = _scatters(ax)
    assert len(points.get_offsets()) == len(X)
    np.testing.assert_allclose(points.get_offsets(), X)
    np.testing.assert_allclose(means.get_offsets(), gmm.means_)
    covs = _covariance_from_precisions(gmm)
    for k in range(3):
        mine = ellipses[3 * k: 3 * k + 3]
        for r, e in zip((1, 2, 3), mine):
            np.testing.assert_allclose(e.center, gmm.means_[k])
            np.testing.assert_allclose(sorted([e.width, e.height]),
                                       r * _axes_lengths(covs[k]), rtol=1e-6)
    assert ax.get_xlabel() == "feature 0" and ax.get_ylabel() == "feature 1"
    assert "K=3" in ax.get_title() and covariance_type in ax.get_title()
    _png(ax.figure)
    assert _ink_fraction(ax.figure) > 0.02


def test_plot_gmm_fades_uncertain_points():
    X = _blobs(n=60)
    # one point half-way between the two right blobs
    X = np.vstack([X, [[0.0, 2.5]]])
    gmm = GaussianMixture(3, random_state=0).fit(X)
    ax = gplot.plot_gmm(gmm, X, ax=_axes())
    points = _scatters(ax)[0]
    alpha = points.get_facecolors()[:, 3]
    sizes = points.get_sizes()
    conf = gmm.predict_proba(X).max(axis=1)
    assert alpha.min() >= 0.15 - 1e-12 and alpha.max() <= 1.0 + 1e-12
    # opacity and size follow the assignment probability
    order = np.argsort(conf)
    assert np.all(np.diff(alpha[order]) >= -1e-12)
    assert np.all(np.diff(sizes[order]) >= -1e-12)
    assert alpha[-1] < alpha[:-1].max()


@pytest.mark.parametrize("covariance_type", TYPES)
def test_plot_gmm_projects_on_chosen_features(covariance_type):
    X = _blobs(D=4)
    gmm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    ax = gplot.plot_gmm(gmm, X, ax=_axes(), features=(3, 1), n_std=(1, 2))
    ellipses = _ellipses(ax)
    assert len(ellipses) == 2 * 3
    covs = _covariance_from_precisions(gmm)[:, [3, 1]][:, :, [3, 1]]
    np.testing.assert_allclose(_scatters(ax)[0].get_offsets(), X[:, [3, 1]])
    for k in range(3):
        e = ellipses[2 * k]
        np.testing.assert_allclose(e.center, gmm.means_[k, [3, 1]])
        np.testing.assert_allclose(sorted([e.width, e.height]), _axes_lengths(covs[k]),
                                   rtol=1e-6)
    assert ax.get_xlabel() == "feature 3" and ax.get_ylabel() == "feature 1"


@pytest.mark.parametrize("covariance_type", TYPES)
def test_plot_gmm_projects_on_principal_axes(covariance_type):
    X = _blobs(D=5, seed=2)
    gmm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    ax = gplot.plot_gmm(gmm, X, ax=_axes())
    pca = PCA(2).fit(X)
    W = pca.components_  # (2, D), signs may differ from plot.py's
    Y = pca.transform(X)
    offsets = _scatters(ax)[0].get_offsets()
    np.testing.assert_allclose(np.abs(offsets), np.abs(Y), atol=1e-8)
    covs = np.einsum("ad,kde,be->kab", W, _covariance_from_precisions(gmm), W)
    for k, e in enumerate(_ellipses(ax)[::3]):
        np.testing.assert_allclose(np.abs(e.center), np.abs(pca.transform(gmm.means_[k:k + 1])[0]),
                                   atol=1e-8)
        np.testing.assert_allclose(sorted([e.width, e.height]), _axes_lengths(covs[k]),
                                   rtol=1e-6)
    assert ax.get_xlabel().startswith("principal axis 1")
    assert ax.get_ylabel().startswith("principal axis 2")


def test_plot_gmm_draws_a_scikit_learn_mixture_too():
    X = _blobs()
    sk = SkGaussianMixture(3, covariance_type="diag", random_state=0).fit(X)
    ax = gplot.plot_gmm(sk, X, ax=_axes())
    assert len(_ellipses(ax)) == 9


def test_plot_gmm_rejects_bad_shapes():
    X = _blobs()
    gmm = GaussianMixture(3, random_state=0).fit(X)
    with pytest.raises(ValueError, match="shape"):
        gplot.plot_gmm(gmm, X[:, :1], ax=_axes())
    one = GaussianMixture(2, random_state=0).fit(X[:, :1])
    with pytest.raises(ValueError, match="at least 2 features"):
        gplot.plot_gmm(one, X[:, :1], ax=_axes())
    with pytest.raises(ValueError, match="out of range"):
        gplot.plot_gmm(gmm, X, ax=_axes(), features=(0, 5))


def test_plot_convergence_draws_the_lower_bounds():
    X = _blobs(seed=3)
    gmm = GaussianMixture(3, covariance_type="full", init_params="random", tol=1e-6,
                          random_state=0).fit(X)
    ax = gplot.plot_convergence(gmm, ax=_axes())
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), np.arange(1, gmm.n_iter_ + 1))
    np.testing.assert_allclose(line.get_ydata(), gmm.lower_bounds_)
    assert gmm.n_iter_ > 3
    assert ax.get_xlabel() == "EM iteration"
    assert "log-likelihood" in ax.get_ylabel()
    assert f"{gmm.n_iter_} iterations" in ax.get_title()
    _png(ax.figure)


def test_plot_convergence_needs_iterations():
    gmm = GaussianMixture(2, max_iter=0, random_state=0).fit(_blobs())
    with pytest.raises(ValueError, match="lower_bounds_"):
        gplot.plot_convergence(gmm, ax=_axes())


def test_plot_selection_draws_a_curve_per_type_and_criterion():
    X = _blobs(n=50)
    result = select_model(X, n_components=range(1, 5), random_state=0)
    ax = gplot.plot_selection(result, ax=_axes())
    lines = ax.get_lines()
    assert len(lines) == 4 * 2 + 1
    best = result.rows[result.best_index_]
    star = lines[-1]
    assert star.get_marker() == "*"
    assert list(star.get_xdata()) == [best["n_components"]]
    assert list(star.get_ydata()) == [best["bic"]]
    for t, (bic, aic) in zip(result.covariance_types, zip(lines[:-1:2], lines[1:-1:2])):
        mine = [r for r in result.rows if r["covariance_type"] == t]
        np.testing.assert_array_equal(bic.get_xdata(), [1, 2, 3, 4])
        np.testing.assert_allclose(bic.get_ydata(), [r["bic"] for r in mine])
        np.testing.assert_allclose(aic.get_ydata(), [r["aic"] for r in mine])
        assert bic.get_linestyle() == "-" and aic.get_linestyle() == "--"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "BIC full" in legend and "AIC spherical" in legend
    assert any(s.startswith("best by BIC: K=3") for s in legend)
    assert ax.get_xlabel() == "number of components K"
    assert "BIC" in ax.get_ylabel() and "AIC" in ax.get_ylabel()

    ax2 = result.plot(ax=_axes(), criteria="bic")
    assert len(ax2.get_lines()) == 4 + 1
    assert ax2.get_ylabel().startswith("BIC")
    with pytest.raises(ValueError, match="Unknown criterion"):
        gplot.plot_selection(result, ax=_axes(), criteria=("bic", "hqc"))


def test_plot_uncertainty_colours_by_entropy():
    X = np.vstack([_blobs(n=60), [[0.0, 2.5], [2.5, 2.5]]])
    gmm = GaussianMixture(3, random_state=0).fit(X)
    ax = gplot.plot_uncertainty(gmm, X, ax=_axes())
    (points,) = _scatters(ax)
    H = np.ma.getdata(points.get_array())
    resp = gmm.predict_proba(X)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = -np.where(resp > 0, resp * np.log(resp), 0.0).sum(axis=1)
    np.testing.assert_allclose(H, expected, atol=1e-12)
    assert H.min() >= 0 and H.max() <= np.log(3) + 1e-12
    assert H[-2:].min() > np.median(H)  # the points between blobs are the uncertain ones
    assert points.norm.vmin == 0 and points.norm.vmax == pytest.approx(np.log(3))
    assert len(ax.figure.axes) == 2  # the colour bar
    assert "entropy" in ax.figure.axes[1].get_ylabel()
    assert ax.get_title().startswith("Uncertainty")
    _png(ax.figure)


def test_plot_samples_draws_data_and_samples():
    X = _blobs(D=3)
    gmm = GaussianMixture(3, covariance_type="diag", random_state=0).fit(X)
    ax = gplot.plot_samples(gmm, X, 123, ax=_axes(), features=(0, 1))
    data, samples = _scatters(ax)
    assert len(data.get_offsets()) == len(X)
    assert len(samples.get_offsets()) == 123
    expected, _ = gmm.sample(123)  # the same random_state gives the same samples
    np.testing.assert_allclose(samples.get_offsets(), expected[:, :2])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [f"data ({len(X)})", "samples from the mixture (123)"]
    assert ax.get_xlabel() == "feature 0"


def test_without_ax_each_plot_makes_a_new_figure():
    import matplotlib.pyplot as plt

    X = _blobs(n=30)
    gmm = GaussianMixture(3, random_state=0).fit(X)
    result = select_model(X, n_components=[2, 3], covariance_types="full", random_state=0)
    try:
        axes = [
            gplot.plot_gmm(gmm, X),
            gplot.plot_convergence(gmm),
            gplot.plot_selection(result),
            gplot.plot_uncertainty(gmm, X),
            gplot.plot_samples(gmm, X, 10),
        ]
        figures = {id(ax.figure) for ax in axes}
        assert len(figures) == 5
        for ax in axes:
            assert ax.has_data()
    finally:
        plt.close("all")


_BLOCK_MATPLOTLIB = textwrap.dedent(
    """
    import sys
    class _Block:
        def find_spec(self, name, path=None, target=None):
            if name == "matplotlib" or name.startswith("matplotlib."):
                raise ImportError("No module named 'matplotlib' (blocked by the test)")
            return None
    sys.meta_path.insert(0, _Block())
    """
)


def test_without_matplotlib_gmmfast_works_and_plot_says_how_to_install():
    code = _BLOCK_MATPLOTLIB + textwrap.dedent(
        """
        import numpy as np
        import gmmfast
        assert "matplotlib" not in sys.modules
        X = np.random.RandomState(0).standard_normal((40, 2))
        result = gmmfast.select_model(X, n_components=[1, 2], covariance_types="full")
        print(result.best_params_["n_components"] >= 1)
        for attempt in (lambda: __import__("gmmfast.plot"), lambda: result.plot()):
            try:
                attempt()
            except ImportError as exc:
                print(str(exc))
            else:
                print("no error")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=_GMMFAST_HOME)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "True"
    assert len(lines) == 3
    for line in lines[1:]:
        assert 'pip install "gmmfast[plot]"' in line


def test_importing_gmmfast_does_not_import_matplotlib():
    code = "import sys, gmmfast, gmmfast.selection; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=_GMMFAST_HOME)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
