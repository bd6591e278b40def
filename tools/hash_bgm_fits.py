#!/usr/bin/env python3
"""Bit-identity hashes of BayesianGaussianMixture fits, the companion of hash_fits.py.

Run it on the installed package before and after a change and diff the outputs:

    cd /tmp && python /path/to/tools/hash_bgm_fits.py > before.txt
    ... reinstall ...
    cd /tmp && python /path/to/tools/hash_bgm_fits.py > after.txt
    diff before.txt after.txt          # no output: every fit is bit-identical

96 fits: the four covariance types, both weight priors, float32 and float64, with and
without sample_weight, and three ways through fit (one start; n_init=2 with few
iterations; warm_start fitted twice), each followed by fit_predict and two partial_fit
steps (one with total_weight). Each line hashes (sha256 over the raw bytes, with dtype
and shape) the fitted arrays, the lower bounds, the labels, score_samples and n_iter_;
the last line is the total. Only the public API is used.
"""

import hashlib
import warnings

import numpy as np

from gmmfast import BayesianGaussianMixture


def main():
    warnings.simplefilter("ignore")      # the short fits stop at max_iter on purpose
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(c, 1.0, (700, 5)) for c in rng.normal(0, 4, (4, 5))])
    w = rng.uniform(0.2, 3, len(X))
    total = hashlib.sha256()
    for cov in ["full", "tied", "diag", "spherical"]:
        for prior in ["dirichlet_process", "dirichlet_distribution"]:
            for dtype in [np.float64, np.float32]:
                for sw in [None, w]:
                    for extra in [{}, {"n_init": 2, "max_iter": 7},
                                  {"warm_start": True, "max_iter": 5}]:
                        line, digest = _case(X.astype(dtype), sw, cov, prior, extra)
                        print(line)
                        total.update(digest)
    print("total", total.hexdigest()[:16])


def _case(X, sw, cov, prior, extra):
    m = BayesianGaussianMixture(n_components=6, covariance_type=cov,
                                weight_concentration_prior_type=prior, random_state=1,
                                **extra)
    m.fit(X, sample_weight=sw)
    if extra.get("warm_start"):
        m.fit(X, sample_weight=sw)
    labels = m.fit_predict(X, sample_weight=sw)
    m.partial_fit(X[:500])
    m.partial_fit(X[500:1500], total_weight=3000.0)
    h = hashlib.sha256()
    for a in (m.weights_, m.means_, m.covariances_, m.precisions_cholesky_,
              m.mean_precision_, m.degrees_of_freedom_, np.asarray(m.lower_bounds_),
              np.asarray(m.lower_bound_), labels, m.score_samples(X),
              np.asarray(m.n_iter_)):
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype, a.shape)).encode())
        h.update(a.tobytes())
    line = (f"{cov} {prior} {X.dtype.name} weighted={sw is not None} "
            f"{sorted(extra)} {h.hexdigest()[:16]}")
    return line, h.digest()


if __name__ == "__main__":
    main()
