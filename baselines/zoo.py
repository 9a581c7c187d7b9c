"""The classical model zoo, generated from the registered components: every feature x classifier pipeline
(``hog-svm``, ``lbp-rbf`` ...), plus eigenfaces (``pca-svm``). Imported lazily by ``bench.core.models`` when a
classical name is asked for.

A pipeline is in the default set (``--model classical``) when its feature lists its classifier among its
``default_classifiers``; the other combinations stay registered for explicit use (or ``--model 'hog-*'``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from baselines.classifiers.pca import pca_space
from baselines.pipelines import FERPipeline, make_pipeline
from baselines.registry import CLASSIFIERS, FEATURES, ClassifierSpec, FeatureSpec, joint_space
from bench.core.models import register_model


def _register(feature: FeatureSpec, classifier: ClassifierSpec) -> Callable[..., FERPipeline]:
    def build(seed: int = 0, backend: str = "sklearn", **params: Any) -> FERPipeline:
        return make_pipeline(feature.name, classifier.name, seed, backend=backend, **params)

    build.__name__ = build.__qualname__ = f"{feature.name}_{classifier.name}"
    doc = f"{feature.doc} -> standard scaler -> {classifier.doc}."
    space = joint_space(feature.search_space, classifier.search_space, name=f"{build.__name__}_space")
    return register_model("classical", name=f"{feature.name}-{classifier.name}", doc=doc, search_space=space,
                          in_default_set=classifier.name in feature.default_classifiers,
                          feature=feature.name, classifier=classifier.name)(build)


# Sorted by name, so the order of models (and of a run's units) does not depend on the order files load in.
for _feature in sorted(FEATURES.entries(), key=lambda e: e.name):
    for _classifier in sorted(CLASSIFIERS.entries(), key=lambda e: e.name):
        _fn = _register(_feature.obj, _classifier.obj)
        globals()[_fn.__name__] = _fn  # importable by name, like a hand-written builder: baselines.zoo.hog_svm
del _feature, _classifier, _fn


@register_model("classical", search_space=joint_space(FEATURES.get("pixels").search_space, pca_space,
                                                      CLASSIFIERS.get("svm").search_space, name="pca_svm_space"),
                feature="pixels", classifier="svm", pca=True)
def pca_svm(seed: int = 0, backend: str = "sklearn", **params: Any) -> FERPipeline:
    """Eigenfaces: raw pixels (24x24) -> standard scaler -> PCA (100 components) -> linear SVM."""
    return make_pipeline("pixels", "svm", seed, pca=100, backend=backend, **params)


def default_set() -> set[tuple[str, str]]:
    """(feature, classifier) of the default-set pipelines."""
    return {(f.name, c) for f in (e.obj for e in FEATURES.entries()) for c in f.default_classifiers}
