#!/usr/bin/env python3
"""Bit-identity hash of GaussianMixture(missing='marginalize') fits, the companion of
hash_fits.py and hash_bgm_fits.py.

Run it on the installed package before and after a change and compare the outputs:

    cd /tmp && python /path/to/tools/hash_missing_fits.py

12 fits: D = 3, 9 and 50 (2,800 rows from four clusters, 10% of the entries missing
at random), 'full' and 'tied' (the pattern passes and the compiled row-by-row path),
with and without sample_weight, 8 iterations from random_state=0. One line: the first
16 hex digits of a sha256 over the means, covariances, weights, lower bounds,
score_samples and predict_proba of every fit. A second line, the same for the D = 50
data as float32 ('full', with and without sample_weight: the row pass's float32
products). Only the public API is used.
"""

import hashlib
import warnings

import numpy as np

from gmmfast import GaussianMixture


def main():
    warnings.simplefilter("ignore")      # the short fits stop at max_iter on purpose
    rng = np.random.default_rng(1)
    h = hashlib.sha256()
    data = []
    for D in (3, 9, 50):
        X = np.vstack([rng.normal(c, 1.0, (700, D)) for c in rng.normal(0, 4, (4, D))])
        X[rng.random(X.shape) < 0.1] = np.nan
        X = X[~np.isnan(X).all(axis=1)]
        w = rng.uniform(0.2, 3, len(X))
        data.append((X, w))
        for cov in ("full", "tied"):
            for sw in (None, w):
                g = GaussianMixture(4, covariance_type=cov, missing="marginalize",
                                    random_state=0, max_iter=8, tol=0).fit(
                                        X, sample_weight=sw)
                for a in (g.means_, g.covariances_, g.weights_,
                          np.array(g.lower_bounds_), g.score_samples(X),
                          g.predict_proba(X)):
                    h.update(np.ascontiguousarray(a).tobytes())
    print(h.hexdigest()[:16])
    # float32 data: from 16 features on, 'full' takes its quadratic forms in float32
    # products (the same data as float32, 'full', with and without weights)
    h = hashlib.sha256()
    X, w = data[-1]
    for sw in (None, w):
        g = GaussianMixture(4, covariance_type="full", missing="marginalize",
                            random_state=0, max_iter=8, tol=0).fit(
                                X.astype(np.float32), sample_weight=sw)
        for a in (g.means_, g.covariances_, g.weights_, np.array(g.lower_bounds_),
                  g.score_samples(X.astype(np.float32)),
                  g.predict_proba(X.astype(np.float32))):
            h.update(np.ascontiguousarray(a).tobytes())
    print("float32", h.hexdigest()[:16])


if __name__ == "__main__":
    main()
