"""Model selection by information criteria: BIC, AIC and mclust's ICL.

A mixin of GaussianMixture: it needs ``covariance_type``, ``n_components``,
``means_``, ``score`` and ``predict_proba``. selection.py compares fits by these.
"""

import math

import numpy as np

from . import _inputs, _mclust_models


class InformationCriteria:
    """``bic``, ``icl`` and ``aic`` of a fitted mixture on data."""


    def _n_parameters(self):
        """Number of free parameters of the model."""
        return _mclust_models.n_parameters(
            self.covariance_type, self.n_components, self.means_.shape[1]
        )

    def bic(self, X):
        """Bayesian information criterion of the model on X (lower is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples.

        Returns
        -------
        bic : float
            ``-2 log L + n_parameters log n_samples``.
        """
        n = _inputs.num_rows(X)
        return -2 * self.score(X) * n + self._n_parameters() * math.log(n)

    def icl(self, X):
        """mclust's integrated complete-data likelihood criterion on X (lower is better).

        BIC penalised by the entropy of the classification, as mclust's ``icl()``
        defines it (Biernacki, Celeux & Govaert 2000): with the hard assignment of
        each sample to its most probable component, ``bic(X) - 2 sum_i log max_k
        r_ik``. It prefers well-separated clusters where BIC fits the density.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples (also an np.memmap or a dask array).

        Returns
        -------
        icl : float
            ``bic(X) - 2 sum_i log max_k r_ik`` (mclust's value with its sign
            reversed).
        """
        return self.bic(X) + 2.0 * self._map_entropy(X)

    def _map_entropy(self, X):
        """-sum_i log max_k r_ik: the classification's entropy as mclust's ICL counts it.

        One pass over X for the responsibilities (mclust's C_ik is the argmax of r_ik,
        a maximum per row, which the kernels' statistics do not carry).
        """
        resp = self.predict_proba(X)
        if _inputs.is_dask_array(resp):
            return -float(np.log(resp.max(axis=1).astype(np.float64)).sum().compute())
        return -float(np.log(resp.max(axis=1).astype(np.float64)).sum())

    def aic(self, X):
        """Akaike information criterion of the model on X (lower is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples.

        Returns
        -------
        aic : float
            ``-2 log L + 2 n_parameters``.
        """
        return -2 * self.score(X) * _inputs.num_rows(X) + 2 * self._n_parameters()
