"""The classical model zoo: every feature x classifier pipeline, registered by name (``hog-svm``, ``lbp-rbf``,
``pca-svm`` ...). Imported lazily by ``bench.core.models`` when a classical name is asked for.

``--model classical`` runs the default set: LBP/HOG/DWT x {svm, rbf, knn, lda, logreg}, HOG with xgb/nb/tree,
pixels-svm, gabor-svm and pca-svm. The other combinations stay registered for explicit use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from baselines.classifiers import CLASSIFIER_KINDS
from baselines.pipelines import FERPipeline, make_pipeline
from baselines.search_spaces import search_space
from bench.core.models import register_model

FEATURE_DOCS = {
    "lbp": "LBP uniform-pattern histograms (P=8, R=2, 59 bins, 6x6 grid)",
    "hog": "HOG (9 orientations, 8x8-pixel cells, 2x2-cell blocks, L2-Hys)",
    "dwt": "Haar DWT level 2 (last-level approximation and details)",
    "pixels": "raw pixels (24x24, area-downscaled)",
    "gabor": "Gabor magnitudes (3 scales x 6 orientations, 8x8 pooled)",
}
CLASSIFIER_DOCS = {
    "svm": "linear SVM", "rbf": "RBF-kernel SVM", "knn": "5-NN (distance-weighted)",
    "lda": "LDA (shrinkage)", "logreg": "logistic regression", "nb": "Gaussian naive Bayes",
    "tree": "decision tree", "xgb": "XGBoost",
}
DEFAULT_SET = (
    {(f, c) for f in ("lbp", "hog", "dwt") for c in ("svm", "rbf", "knn", "lda", "logreg")}
    | {("hog", "xgb"), ("hog", "nb"), ("hog", "tree"), ("pixels", "svm"), ("gabor", "svm")}
)


def _register(feature: str, classifier: str) -> Callable[..., FERPipeline]:
    def build(seed: int = 0, **params: Any) -> FERPipeline:
        return make_pipeline(feature, classifier, seed, **params)

    build.__name__ = build.__qualname__ = f"{feature}_{classifier}"
    build.__doc__ = f"{FEATURE_DOCS[feature]} -> standard scaler -> {CLASSIFIER_DOCS[classifier]}."
    return register_model("classical", in_default_set=(feature, classifier) in DEFAULT_SET,
                          search_space=search_space(feature, classifier),
                          feature=feature, classifier=classifier)(build)


for _feature in FEATURE_DOCS:
    for _classifier in CLASSIFIER_KINDS:
        _fn = _register(_feature, _classifier)
        globals()[_fn.__name__] = _fn  # importable by name, like a hand-written builder: baselines.zoo.hog_svm
del _feature, _classifier, _fn


@register_model("classical", search_space=search_space("pixels", "svm", pca=True), feature="pixels",
                classifier="svm", pca=True)
def pca_svm(seed: int = 0, **params: Any) -> FERPipeline:
    """Eigenfaces: raw pixels (24x24) -> standard scaler -> PCA (100 components) -> linear SVM."""
    return make_pipeline("pixels", "svm", seed, pca=100, **params)
