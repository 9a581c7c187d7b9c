"""A single decision tree (paper 001's trees)."""

from __future__ import annotations

from typing import Any

from sklearn.tree import DecisionTreeClassifier

from baselines.registry import register_classifier


def tree_space(t: Any) -> dict[str, Any]:
    return {
        "tree__max_depth": t.suggest_int("tree__max_depth", 3, 30),
        "tree__min_samples_leaf": t.suggest_int("tree__min_samples_leaf", 1, 20),
        "tree__criterion": t.suggest_categorical("tree__criterion", ["gini", "entropy"]),
    }


@register_classifier("tree", doc="decision tree", search_space=tree_space,
                     size=lambda est: int(est.tree_.node_count), size_unit="tree nodes",
                     memory=lambda n, d, c, backend: 4 * n * d + 64 * n)  # float32 input, sample indices and nodes
def tree(seed: int) -> DecisionTreeClassifier:
    return DecisionTreeClassifier(min_samples_leaf=2, random_state=seed)
