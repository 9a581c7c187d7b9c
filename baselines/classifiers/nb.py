"""Gaussian naive Bayes (paper 001's naive Bayes)."""

from __future__ import annotations

from typing import Any

from sklearn.naive_bayes import GaussianNB

from baselines.registry import register_classifier


def nb_space(t: Any) -> dict[str, Any]:
    return {"nb__var_smoothing": t.suggest_float("nb__var_smoothing", 1e-11, 1e-1, log=True)}


@register_classifier("nb", doc="Gaussian naive Bayes", search_space=nb_space,
                     size=lambda est: int(est.theta_.size + est.var_.size), size_unit="class means and variances",
                     memory=lambda n, d, c, backend: 2 * 8 * n * d)  # float64 copies for the means and variances
def nb(seed: int) -> GaussianNB:
    return GaussianNB()
