"""k nearest neighbours (paper 001's KNN)."""

from __future__ import annotations

from typing import Any

from sklearn.neighbors import KNeighborsClassifier

from baselines.registry import register_classifier


def knn_space(t: Any) -> dict[str, Any]:
    return {
        "knn__n_neighbors": t.suggest_int("knn__n_neighbors", 1, 30),
        "knn__weights": t.suggest_categorical("knn__weights", ["uniform", "distance"]),
        "knn__metric": t.suggest_categorical("knn__metric", ["euclidean", "manhattan", "cosine"]),
    }


@register_classifier("knn", doc="5-NN (distance-weighted)", search_space=knn_space,
                     size=lambda est: int(est.n_samples_fit_), size_unit="stored training samples")
def knn(seed: int) -> KNeighborsClassifier:
    return KNeighborsClassifier(n_neighbors=5, weights="distance")
