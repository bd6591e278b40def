"""mclust's fourteen covariance models: names, kernel layouts, M-steps, counts.

Each component's covariance is decomposed as Sigma_k = lambda_k D_k A_k D_k^T
(Banfield & Raftery 1993; Celeux & Govaert 1995): the volume lambda_k = |Sigma_k|^(1/d),
the shape A_k (diagonal, |A_k| = 1) and the orientation D_k (orthogonal). A model name
says, for volume, shape and orientation in that order, whether it is Equal across
components or Varies; I is the identity (spherical shape, or axis-aligned orientation).

The E-step never needs to know the model: every model's density is a 'full',
'diag', 'spherical' or 'tied' density, so the existing kernel routes compute it and
its sufficient statistics (``kernel_type``). Only the M-step differs: the kernel
type's own M-step (``_mstep.m_step``) gives the unconstrained per-component
estimates, from which the scatter matrices follow exactly,

    W_k + n_k reg_covar I = n_k * cov_k      (cov_k the kernel type's estimate),

and ``constrain`` turns them into the model's maximum-likelihood covariances: in
closed form where one exists, by the iterations of Celeux & Govaert (1995) and, for
a common orientation with varying shapes (EVE, VVE), by the MM algorithm of Browne
& McNicholas (2014) where not. ``reg_covar`` thus enters every model as it enters
scikit-learn's four: as ``reg_covar`` added to the diagonal of each component's
empirical covariance before the estimate.
"""

import math

import numpy as np

from ._mclust_loops import plane_rotations

#: The four scikit-learn names, and the mclust model each one is.
SKLEARN_TYPES = ("full", "tied", "diag", "spherical")
SKLEARN_AS_MCLUST = {"full": "VVV", "tied": "EEE", "diag": "VVI", "spherical": "VII"}

#: mclust's models, in mclust's order (mclust.options("emModelNames")).
MODELS = ("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE",
          "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV")

COVARIANCE_TYPES = SKLEARN_TYPES + MODELS

#: The kernel layout (a scikit-learn type) whose densities and statistics a model
#: uses. EEE is exactly 'tied' (its estimate needs only the pooled scatter, which the
#: 'tied' statistics give); every other constrained model needs each component's own
#: scatter W_k, so it takes the per-component layout even when its covariance is
#: shared (EII, EEI).
_KERNEL_TYPE = {
    "EII": "spherical", "VII": "spherical",
    "EEI": "diag", "VEI": "diag", "EVI": "diag", "VVI": "diag",
    "EEE": "tied",
    "VEE": "full", "EVE": "full", "VVE": "full", "EEV": "full", "VEV": "full",
    "EVV": "full", "VVV": "full",
}

#: Models whose estimate is exactly their kernel type's (no constraint to apply).
_UNCONSTRAINED = ("VII", "VVI", "EEE", "VVV")

#: The inner iterations stop when the relative change of their criterion falls below
#: this: mclust's default (``emControl()$tol[2]``, sqrt of double epsilon).
INNER_TOL = math.sqrt(np.finfo(np.float64).eps)
#: ... or after this many iterations. They start from the previous M-step's solution,
#: so after the first EM iterations a few suffice; where they do not (EVE and VVE on
#: badly scaled data), each capped M-step still increases the likelihood (a
#: generalised EM, whose fixed points are the same) instead of spending seconds.
INNER_MAX_ITER = 100


def kernel_type(covariance_type):
    """The scikit-learn covariance type whose kernel layout the model uses."""
    return _KERNEL_TYPE.get(covariance_type, covariance_type)


def is_constrained(covariance_type):
    """True for the models whose M-step is not their kernel type's."""
    return covariance_type in MODELS and covariance_type not in _UNCONSTRAINED


def n_parameters(covariance_type, n_components, n_features):
    """Free parameters of the mixture, as mclust's ``nMclustParams`` counts them.

    Means K d, proportions K - 1, and the covariance parameters: a volume counts 1
    (E) or K (V), a shape d - 1 or K (d - 1), an orientation d (d - 1) / 2 or
    K d (d - 1) / 2. For the scikit-learn names, their mclust model's count (the same
    numbers scikit-learn uses).
    """
    K, d = n_components, n_features
    name = SKLEARN_AS_MCLUST.get(covariance_type, covariance_type)
    vol, shape, orient = name
    if name == "EII":
        cov = 1
    elif name == "VII":
        cov = K
    else:
        cov = (1 if vol == "E" else K) + (d - 1) * (1 if shape == "E" else K)
        if orient != "I":
            cov += d * (d - 1) // 2 * (1 if orient == "E" else K)
    return int(cov + K * d + K - 1)


def _singular(name):
    """The error of a model whose scatter matrices are (numerically) singular."""
    return ValueError(
        f"A component's scatter matrix is singular to working precision (it has "
        f"collapsed onto too few samples or onto a subspace, or the features' scales "
        f"differ by ~1e8 or more), so the {name} model's M-step cannot continue (mclust "
        "reports such a fit as a singular covariance). Increase reg_covar, lower "
        "n_components, or scale the features of X."
    )


def _geomean(values, axis=-1):
    """|diag(values)|^(1/d): the geometric mean along ``axis`` (in logs: no overflow)."""
    return np.exp(np.log(values).mean(axis=axis))


def _relative_change(new, old):
    return float(np.max(np.abs(new - old) / (1.0 + np.abs(new))))


def constrain(covariance_type, nk, cov, state=None):
    """The model's covariances from the kernel type's unconstrained estimates.

    Parameters
    ----------
    covariance_type : str
        A constrained model (``is_constrained``).
    nk : ndarray (K,)
        The components' weights sum_i w_i r_ik (with scikit-learn's 10 eps guard).
    cov : ndarray
        The kernel type's estimates W_k / n_k + reg_covar (its layout: (K,) for
        'spherical', (K, D) for 'diag', (K, D, D) for 'full').
    state : dict or None
        The previous M-step's solution of an iterative model (its starting point);
        None starts where mclust starts (unit shapes, identity orientation).

    Returns
    -------
    cov : ndarray, the kernel layout
        The model's covariances.
    state : dict or None
        What the next M-step of the same fit starts from.
    """
    nk = np.asarray(nk, dtype=np.float64)
    n = nk.sum()
    if not (np.isfinite(cov).all() and (nk > 0).all()):
        raise _singular(covariance_type)
    if nk.size == 1:
        # one component: nothing is shared, every model is its layout's free one
        # (as mclust fits K = 1 in closed form, with mvn)
        return cov.copy(), None
    if cov.ndim == 1:                                      # EII
        return np.full_like(cov, nk @ cov / n), None
    if cov.ndim == 2:
        return _constrain_diag(covariance_type, nk, n, nk[:, None] * cov, state)
    return _constrain_full(covariance_type, nk, n, nk[:, None, None] * cov, state)


def _constrain_diag(name, nk, n, W, state):
    """EEI, EVI, VEI from the diagonals W (K, D) of the scatter matrices."""
    K, D = W.shape
    if name == "EEI":
        return np.broadcast_to(W.sum(axis=0) / n, (K, D)).copy(), None
    if not (W > 0).all():  # a variance collapsed to 0 (reg_covar=0)
        raise _singular(name)
    if name == "EVI":
        g = _geomean(W)
        return (g.sum() / n) * (W / g[:, None]), None
    # VEI: scale lambda_k and a common shape B (|B| = 1), each the maximiser given the
    # other (Celeux & Govaert 1995), in mclust's order (scale, then shape)
    shape = np.ones(D) if state is None else state["shape"]
    scale = np.ones(K) if state is None else state["scale"]
    for _ in range(INNER_MAX_ITER):
        new_scale = (W / shape).sum(axis=1) / (D * nk)
        new_shape = (W / new_scale[:, None]).sum(axis=0)
        new_shape /= _geomean(new_shape)
        change = max(_relative_change(new_scale, scale), _relative_change(new_shape, shape))
        scale, shape = new_scale, new_shape
        if change <= INNER_TOL:
            break
    return scale[:, None] * shape, {"scale": scale, "shape": shape}


def _eigen_descending(W):
    """Eigenvalues (K, D) in decreasing order and the eigenvectors as columns."""
    vals, vecs = np.linalg.eigh(W)
    return vals[:, ::-1], vecs[:, :, ::-1]


def _compose(scale, shape, orient):
    """scale_k * O_k diag(shape_k) O_k^T, for O (K, D, D) or a shared (D, D)."""
    diag = scale[:, None] * shape
    if orient.ndim == 2:
        return np.einsum("ij,kj,lj->kil", orient, diag, orient)
    return np.einsum("kij,kj,klj->kil", orient, diag, orient)


def _constrain_full(name, nk, n, W, state):
    """The ellipsoidal models from the scatter matrices W (K, D, D)."""
    K, D = W.shape[:2]
    if name == "EVV":
        # lambda C_k with |C_k| = 1: C_k = W_k / |W_k|^(1/d), lambda = sum |W_k|^(1/d) / n
        sign, logdet = np.linalg.slogdet(W)
        if not (sign > 0).all():
            raise _singular(name)
        g = np.exp(logdet / D)
        return (g.sum() / n) * (W / g[:, None, None]), None
    if name in ("EEV", "VEV"):
        omega, orient = _eigen_descending(W)
        if not (omega > 0).all():
            raise _singular(name)
        if name == "EEV":
            total = omega.sum(axis=0)
            g = _geomean(total)
            return _compose(np.full(K, g / n), total / g, orient), None
        # VEV: each W_k's own eigenvectors; scales and a common shape as in VEI, from
        # the eigenvalues (Celeux & Govaert 1995)
        cov, inner = _constrain_diag("VEI", nk, n, omega, state)
        return _compose(inner["scale"], inner["shape"], orient), inner
    if name == "VEE":
        return _constrain_vee(nk, W, state)
    return _constrain_common_orientation(name, nk, n, W, state)


def _constrain_vee(nk, W, state):
    """VEE: lambda_k C, |C| = 1; lambda_k = tr(W_k C^-1) / (d n_k), C ~ sum W_k / lambda_k."""
    K, D = W.shape[:2]
    C = np.eye(D) if state is None else state["C"]
    scale = np.ones(K) if state is None else state["scale"]
    # a component of fewer rows than features has a singular W_k, which VEE allows (as
    # mclust does): it needs each tr(W_k C^-1) > 0 and sum_k W_k / lambda_k of full rank
    if not ((np.trace(W, axis1=1, axis2=2) > 0).all()
            and np.linalg.eigvalsh(W.sum(axis=0))[0] > 0):
        raise _singular("VEE")
    for _ in range(INNER_MAX_ITER):
        Cinv = np.linalg.inv(C)
        new_scale = np.einsum("kij,ji->k", W, Cinv) / (D * nk)
        new_C = np.einsum("kij,k->ij", W, 1.0 / new_scale)
        new_C /= np.exp(np.linalg.slogdet(new_C)[1] / D)
        change = max(_relative_change(new_scale, scale), _relative_change(new_C, C))
        scale, C = new_scale, new_C
        if change <= INNER_TOL:
            break
    return scale[:, None, None] * C, {"scale": scale, "C": C}


def _constrain_common_orientation(name, nk, n, W, state):
    """EVE and VVE: Sigma_k = D Delta_k D^T with a common orientation D.

    Given D the diagonal Delta_k are closed form; given the Delta_k, D minimises
    sum_k tr(W_k D Delta_k^-1 D^T) over orthogonal matrices. Browne & McNicholas
    (2014), and mclust, take that step by majorisation-minimisation, whose steps
    shrink with the spread of W_k's eigenvalues: on raw breast-cancer data (variances
    from 1e-9 to 1e7) 10 000 of them do not converge. Here each step is a sweep of
    exact plane rotations (``plane_rotations``, compiled in _mclust_loops.pyx); both
    descend on the same objective, to its minimum. The objective weighs each
    component by its own Delta_k^-1 (for VVE, volume and shape), which is what
    maximises the likelihood (mclust's VVE weighs by the shape alone).
    """
    K, D = W.shape[:2]
    if not np.isfinite(W).all():
        raise _singular(name)
    W = np.ascontiguousarray(W, dtype=np.float64)
    orient = np.eye(D) if state is None else state["orient"]
    delta = np.ones((K, D)) if state is None else state["delta"]
    target = np.inf
    for _ in range(INNER_MAX_ITER):
        orient = plane_rotations(W, orient, 1.0 / delta)
        E = np.einsum("ji,kjl,li->ki", orient, W, orient)  # diag(D^T W_k D)
        if not (E > 0).all():  # rounding swamps a direction of ~eps relative variance
            raise _singular(name)
        if name == "EVE":
            shape = E / _geomean(E)[:, None]
            fit = (E / shape).sum()                        # n d lambda
            delta = (fit / (n * D)) * shape
            new_target = fit
        else:
            delta = E / nk[:, None]
            new_target = float(nk @ np.log(delta).sum(axis=1))
        done = abs(new_target - target) <= INNER_TOL * (1.0 + abs(new_target))
        target = new_target
        if done:
            break
    return _compose(np.ones(K), delta, orient), {"orient": orient, "delta": delta}


def decomposition(covariance_type, covariances, n_components, n_features):
    """(volumes (K,), shapes (K, D), orientations (K, D, D)) of fitted covariances.

    Sigma_k = volumes[k] * orientations[k] @ diag(shapes[k]) @ orientations[k].T with
    prod(shapes[k]) = 1. Diagonal and spherical models have identity orientations
    and their shapes in feature order; ellipsoidal ones their eigenvectors, shapes in
    decreasing order, the common orientation (EEE, VEE, EVE, VVE) taken from the
    eigenvectors of sum_k Sigma_k, which every Sigma_k shares.
    """
    cov = np.asarray(covariances, dtype=np.float64)
    K, D = n_components, n_features
    layout = kernel_type(covariance_type)
    name = SKLEARN_AS_MCLUST.get(covariance_type, covariance_type)
    axes = np.broadcast_to(np.eye(D), (K, D, D)).copy()
    if layout == "spherical":
        return cov.copy(), np.ones((K, D)), axes
    if layout == "diag":
        vol = _geomean(cov)
        return vol, cov / vol[:, None], axes
    mats = np.broadcast_to(cov, (K, D, D)) if layout == "tied" else cov
    if name[2] == "E":
        _, common = np.linalg.eigh(mats.sum(axis=0))
        orient = np.broadcast_to(common[:, ::-1], (K, D, D)).copy()
        eig = np.einsum("kji,kjl,kli->ki", orient, mats, orient)
    else:
        eig, orient = _eigen_descending(mats)
        orient = orient.copy()
    vol = _geomean(eig)
    return vol, eig / vol[:, None], orient
