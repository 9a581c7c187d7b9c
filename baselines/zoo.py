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
from bench.core.errors import ConfigError
from bench.core.models import register_model


def pipeline_settings(name: str, template: Callable[[], FERPipeline]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Per-model settings of a pipeline: its ``set_params`` keys (``svm__C``), or their last part where that is
    unambiguous (``C``, ``orientations``)."""

    def resolve(settings: dict[str, Any]) -> dict[str, Any]:
        params = template().get_params(deep=True)
        keys = [k for k in params if "__" in k and not hasattr(params[k], "get_params")]
        short: dict[str, list[str]] = {}
        for k in keys:
            short.setdefault(k.rsplit("__", 1)[1], []).append(k)
        out = {}
        for key, value in settings.items():
            if key in keys:
                out[key] = value
            elif len(short.get(key, [])) == 1:
                out[short[key][0]] = value
            else:
                names = sorted(k for k, full in short.items() if len(full) == 1)
                raise ConfigError(f"{name} has no setting '{key}'; its settings: {', '.join(names)} "
                                  f"(or the full keys {', '.join(keys)})")
        for key, value in out.items():
            default = params[key]
            numeric = isinstance(default, (int, float)) and not isinstance(default, bool)
            if (numeric and (isinstance(value, bool) or not isinstance(value, (int, float)))) or (
                    isinstance(default, bool) and not isinstance(value, bool)):
                raise ConfigError(f"{name}: setting {key}={value!r} should be {type(default).__name__} like its "
                                  f"default {default!r}")
        return out

    return resolve


def _register(feature: FeatureSpec, classifier: ClassifierSpec) -> Callable[..., FERPipeline]:
    def build(seed: int = 0, backend: str = "sklearn", **params: Any) -> FERPipeline:
        return make_pipeline(feature.name, classifier.name, seed, backend=backend, **params)

    build.__name__ = build.__qualname__ = f"{feature.name}_{classifier.name}"
    doc = f"{feature.doc} -> standard scaler -> {classifier.doc}."
    space = joint_space(feature.search_space, classifier.search_space, name=f"{build.__name__}_space")
    name = f"{feature.name}-{classifier.name}"
    return register_model("classical", name=name, doc=doc, search_space=space,
                          in_default_set=classifier.name in feature.default_classifiers,
                          settings=pipeline_settings(name, build), feature=feature.name,
                          classifier=classifier.name)(build)


# Sorted by name, so the order of models (and of a run's units) does not depend on the order files load in.
for _feature in sorted(FEATURES.entries(), key=lambda e: e.name):
    for _classifier in sorted(CLASSIFIERS.entries(), key=lambda e: e.name):
        _fn = _register(_feature.obj, _classifier.obj)
        globals()[_fn.__name__] = _fn  # importable by name, like a hand-written builder: baselines.zoo.hog_svm
del _feature, _classifier, _fn


@register_model("classical", search_space=joint_space(FEATURES.get("pixels").search_space, pca_space,
                                                      CLASSIFIERS.get("svm").search_space, name="pca_svm_space"),
                settings=pipeline_settings("pca-svm", lambda: make_pipeline("pixels", "svm", 0, pca=100)),
                feature="pixels", classifier="svm", pca=True)
def pca_svm(seed: int = 0, backend: str = "sklearn", **params: Any) -> FERPipeline:
    """Eigenfaces: raw pixels (24x24) -> standard scaler -> PCA (100 components) -> linear SVM."""
    return make_pipeline("pixels", "svm", seed, pca=100, backend=backend, **params)


def default_set() -> set[tuple[str, str]]:
    """(feature, classifier) of the default-set pipelines."""
    return {(f.name, c) for f in (e.obj for e in FEATURES.entries()) for c in f.default_classifiers}
