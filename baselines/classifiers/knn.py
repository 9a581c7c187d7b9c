"""k nearest neighbours (paper 001's KNN)."""

from __future__ import annotations

from typing import Any

from sklearn.neighbors import KNeighborsClassifier

from baselines.backends import INTELEX, SKLEARN, estimator_class
from baselines.registry import register_classifier

# sklearn's brute-force queries work through distance blocks of ``working_memory`` (1 GiB by default).
QUERY_WORKING_MEMORY = 2**30


def knn_memory(n_samples: int, n_features: int, n_classes: int, backend: str) -> int:
    """The stored training samples (float32, as given) and the distance blocks of a query."""
    return 4 * n_samples * n_features + QUERY_WORKING_MEMORY


def knn_space(t: Any) -> dict[str, Any]:
    return {
        "knn__n_neighbors": t.suggest_int("knn__n_neighbors", 1, 30),
        "knn__weights": t.suggest_categorical("knn__weights", ["uniform", "distance"]),
        "knn__metric": t.suggest_categorical("knn__metric", ["euclidean", "manhattan", "cosine"]),
    }


# Not offered on cuML: whether its KNN builds this distance-weighted model the same way could not be checked
# against scikit-learn here (no GPU), and a backend is only offered where it fits the same model.
@register_classifier("knn", doc="5-NN (distance-weighted)", search_space=knn_space,
                     size=lambda est: int(est.n_samples_fit_), size_unit="stored training samples",
                     memory=knn_memory, backends=(INTELEX,))
def knn(seed: int, backend: str = SKLEARN) -> KNeighborsClassifier:
    return estimator_class(backend, "neighbors", "KNeighborsClassifier")(n_neighbors=5, weights="distance")
