"""The components of classical pipelines, each registered in the file that defines it.

A feature extractor registers its transformer class; a classifier a factory ``build(seed) -> estimator``.
Each registration carries everything the harness needs, so ``baselines.zoo`` can generate every
feature x classifier pipeline from them and nothing else names the component:

- ``doc``: one line for ``bench models``;
- ``search_space``: ``space(trial) -> {set_params key: value}``, keys prefixed with the pipeline step
  (``features__...`` for a feature, the classifier's own name for a classifier: ``svm__C``);
- a feature's ``default_classifiers``: the classifiers it forms the default set (``--model classical``) with;
- a classifier's ``size`` (fitted classifier -> int) and its ``size_unit`` (what the number counts).

A registration with a missing field fails at once with the component's name and the field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.core.errors import ConfigError
from bench.core.registry import Registry

SearchSpace = Callable[[Any], dict[str, Any]]


def _require(kind: str, name: str, **fields: Any) -> None:
    for field_name, value in fields.items():
        missing = value is None or (isinstance(value, str) and not value.strip())
        if missing:
            raise ConfigError(f"{kind} '{name}': registration is missing '{field_name}'")
        if field_name in ("search_space", "build", "size") and not callable(value):
            raise ConfigError(f"{kind} '{name}': '{field_name}' must be callable, got {type(value).__name__}")


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    transformer: type  # an ImageFeatures subclass; its defaults are the registered feature
    doc: str
    search_space: SearchSpace
    default_classifiers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _require("feature", self.name, transformer=self.transformer, doc=self.doc, search_space=self.search_space,
                 default_classifiers=self.default_classifiers)


@dataclass(frozen=True)
class ClassifierSpec:
    name: str
    build: Callable[[int], Any]  # seed -> a fresh, unfitted classifier with predict_proba and classes_
    doc: str
    search_space: SearchSpace
    size: Callable[[Any], int]  # fitted classifier -> its size in ``size_unit``
    size_unit: str

    def __post_init__(self) -> None:
        _require("classifier", self.name, build=self.build, doc=self.doc, search_space=self.search_space,
                 size=self.size, size_unit=self.size_unit)


FEATURES: Registry[FeatureSpec] = Registry("feature")
FEATURES.declare_family("features", "baselines.features")
CLASSIFIERS: Registry[ClassifierSpec] = Registry("classifier")
CLASSIFIERS.declare_family("classifiers", "baselines.classifiers")


def register_feature(name: str, *, doc: str | None = None, search_space: SearchSpace | None = None,
                     default_classifiers: tuple[str, ...] | None = None) -> Callable[[type], type]:
    """Class decorator: register an image feature transformer under ``name`` (the pipeline's ``features``)."""

    def deco(cls: type) -> type:
        FEATURES.add(name, FeatureSpec(name, cls, doc, search_space, tuple(default_classifiers)  # type: ignore[arg-type]
                                       if default_classifiers is not None else None), family="features")
        return cls

    return deco


def register_classifier(name: str, *, doc: str | None = None, search_space: SearchSpace | None = None,
                        size: Callable[[Any], int] | None = None,
                        size_unit: str | None = None) -> Callable[[Callable[[int], Any]], Callable[[int], Any]]:
    """Decorator on ``build(seed) -> classifier``: register a classifier step under ``name``."""

    def deco(build: Callable[[int], Any]) -> Callable[[int], Any]:
        CLASSIFIERS.add(name, ClassifierSpec(name, build, doc, search_space, size, size_unit),  # type: ignore[arg-type]
                        family="classifiers")
        return build

    return deco


def joint_space(*spaces: SearchSpace, name: str = "space") -> SearchSpace:
    """One search space sampling each part in turn (a pipeline's feature, PCA and classifier spaces)."""

    def space(trial: Any) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for part in spaces:
            params.update(part(trial))
        return params

    space.__name__ = name
    return space
