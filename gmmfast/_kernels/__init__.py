"""The compiled kernels (the extension module ``_core``, built from ``_core.pyx``, the
route files ``route_*.pxi`` it includes and the C headers in ``csrc/``).

docs/architecture.md describes the layers, the kernel contract and how to add a route.
Everything the Python layer calls is re-exported here.
"""

from ._core import (  # noqa: F401
    NO_MEMORY,
    NOT_FINITE,
    OK,
    SMALL_FEATURES,
    ZERO_DENSITY,
    N_ROUTES,
    ROUTE_DIAG,
    ROUTE_FULL_MEANS,
    ROUTE_FULL_MOMENTS,
    ROUTE_FULL_SMALL,
    ROUTE_SPHERICAL,
    ROUTE_TIED,
    CovType,
    Params,
    Status,
    any_not_finite,
    block_logprob,
    block_stats,
    diag_weights_shape,
    spherical_weights_shape,
    tied_weights_shape,
    full_constants,
    full_spreads,
    isa_builds,
    linear_sparse_cost,
    m_step_full,
    moment_weights,
    openmp_enabled,
    openmp_max_threads,
    padded_factors,
    precision_cholesky,
    stat_widths,
    vb_constants,
    vb_entropy,
    vb_moment_entropy,
    vb_update,
    vb_update_full,
    vexp,
    vexp32,
    vlog,
    vlog32,
    vmath_impl,
)

COV_FULL, COV_TIED = CovType.COV_FULL, CovType.COV_TIED
COV_DIAG, COV_SPHERICAL = CovType.COV_DIAG, CovType.COV_SPHERICAL
