"""The components of classical pipelines, each registered in the file that defines it.

A feature extractor registers its transformer class; a classifier a factory ``build(seed) -> estimator``.
Each registration carries everything the harness needs, so ``baselines.zoo`` can generate every
feature x classifier pipeline from them and nothing else names the component:

- ``doc``: one line for ``bench models``;
- ``search_space``: ``space(trial) -> {set_params key: value}``, keys prefixed with the pipeline step
  (``features__...`` for a feature, the classifier's own name for a classifier: ``svm__C``);
- a feature's ``default_classifiers``: the classifiers it forms the default set (``--model classical``) with;
- a classifier's ``size`` (fitted classifier -> int) and its ``size_unit`` (what the number counts);
- a classifier's ``memory`` (optional): ``memory(n_samples, n_features, n_classes, backend) -> bytes``, the peak
  its fit adds on top of its input (``baselines.memory`` adds the features; without a rule, one float64 copy of
  the input is assumed);
- a classifier's ``backends`` (optional): the accelerated backends (``baselines.backends``: ``intelex``,
  ``cuml``) its factory builds for; the factory then takes ``build(seed, backend)``.

A registration with a missing field fails at once with the component's name and the field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.core.errors import ConfigError
from bench.core.registry import Registry

SearchSpace = Callable[[Any], dict[str, Any]]
MemoryRule = Callable[[int, int, int, str], int]  # (n_samples, n_features, n_classes, backend) -> bytes


def float64_copy(n_samples: int, n_features: int, n_classes: int, backend: str) -> int:
    """The memory rule of a classifier that registers none: one float64 copy of its input."""
    return 8 * n_samples * n_features


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
    build: Callable[..., Any]  # (seed[, backend]) -> a fresh, unfitted classifier with predict_proba and classes_
    doc: str
    search_space: SearchSpace
    size: Callable[[Any], int]  # fitted classifier -> its size in ``size_unit``
    size_unit: str
    memory: MemoryRule = float64_copy
    backends: tuple[str, ...] = ()  # accelerated backends the factory builds for: build(seed, backend)

    def __post_init__(self) -> None:
        _require("classifier", self.name, build=self.build, doc=self.doc, search_space=self.search_space,
                 size=self.size, size_unit=self.size_unit, memory=self.memory)
        if not callable(self.memory):
            raise ConfigError(f"classifier '{self.name}': 'memory' must be callable, got {type(self.memory).__name__}")
        unknown = [b for b in self.backends if b not in ("intelex", "cuml")]
        if unknown:
            raise ConfigError(f"classifier '{self.name}': unknown backend(s) {', '.join(unknown)}; "
                              "accelerated backends are intelex and cuml")

    def make(self, seed: int, backend: str = "sklearn") -> Any:
        """A fresh classifier for ``backend``; scikit-learn's when the factory has no path for it."""
        return self.build(seed, backend) if backend in self.backends else self.build(seed)


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
                        size: Callable[[Any], int] | None = None, size_unit: str | None = None,
                        memory: MemoryRule = float64_copy,
                        backends: tuple[str, ...] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator on ``build(seed) -> classifier`` (``build(seed, backend)`` with ``backends``): register a
    classifier step under ``name``."""

    def deco(build: Callable[..., Any]) -> Callable[..., Any]:
        CLASSIFIERS.add(name, ClassifierSpec(name, build, doc, search_space, size, size_unit,  # type: ignore[arg-type]
                                             memory, tuple(backends)), family="classifiers")
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
