"""Write the data sets that tools/mclust_reference.R fits with R's mclust.

    python tools/mclust_reference_data.py      # writes tests/data/mclust/data_*.csv
    Rscript tools/mclust_reference.R           # writes tests/data/mclust/mclust_*.csv

iris, wine and breast cancer as scikit-learn ships them, and one generated set per
mclust model (3 components in 3 dimensions whose covariances satisfy the model's
constraints). Values are written as Python's repr (the shortest decimal that reads back exactly),
so R and Python read the very same doubles.
"""

import os

import numpy as np
from sklearn.datasets import load_breast_cancer, load_iris, load_wine

MODELS = ("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE",
          "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV")
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "mclust")


def _rotation(rng, d):
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def generated(model, seed, n_per=(60, 90, 120), d=3):
    """A 3-component sample whose covariances follow ``model``'s constraints."""
    rng = np.random.RandomState(seed)
    K = len(n_per)
    vol_e, shape_e, orient_e = model
    volumes = np.full(K, 1.0) if vol_e == "E" else np.array([0.5, 1.0, 2.0])
    shared_shape = np.array([3.0, 1.0, 1.0 / 3.0])
    shapes = np.empty((K, d))
    for k in range(K):
        s = shared_shape if shape_e == "E" else rng.uniform(0.3, 3.0, size=d)
        shapes[k] = 1.0 if shape_e == "I" else s / np.exp(np.log(s).mean())
    common = _rotation(rng, d)
    means = np.array([[0.0, 0.0, 0.0], [6.0, 1.0, -2.0], [-2.0, 6.0, 3.0]])
    parts = []
    for k in range(K):
        orient = np.eye(d) if orient_e == "I" else (common if orient_e == "E"
                                                     else _rotation(rng, d))
        cov = volumes[k] * orient @ np.diag(shapes[k]) @ orient.T
        parts.append(rng.multivariate_normal(means[k], cov, size=n_per[k]))
    return np.vstack(parts)


def main():
    os.makedirs(OUT, exist_ok=True)
    sets = {"iris": load_iris().data, "wine": load_wine().data,
            "breast_cancer": load_breast_cancer().data}
    for i, model in enumerate(MODELS):
        sets[f"gen_{model}"] = generated(model, seed=100 + i)
    for name, X in sets.items():
        with open(os.path.join(OUT, f"data_{name}.csv"), "w") as f:
            f.writelines(",".join(repr(float(v)) for v in row) + "\n" for row in X)
    with open(os.path.join(OUT, "datasets.txt"), "w") as f:
        f.write("\n".join(sets) + "\n")


if __name__ == "__main__":
    main()
