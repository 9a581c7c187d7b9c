"""The model registry: adding a model is one decorated function in one file (like timm's ``register_model``).

A registered function builds a fresh, unfitted estimator::

    @register_model("classical")
    def hog_svm(seed: int = 0, **params) -> Pipeline: ...

The function name (underscores -> hyphens) is the model name. Families are imported lazily, so a
classical-only run never imports torch.

Estimator contract (what the run engine calls):
- ``fit(X, y)`` with X uint8 images (N, H, W) and y canonical emotion indices; deep estimators also accept
  ``fit(X, y, X_val=..., y_val=...)`` for early stopping (``ModelSpec.uses_validation``).
- ``predict_proba(X)`` -> (N, len(classes_)) with ``classes_`` the canonical indices seen in training.
- optional ``model_size()`` -> int (parameters or support vectors), ``history_`` (per-epoch curves).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.core.errors import ConfigError
from bench.core.registry import Registry

FAMILIES = ("classical", "deep")


@dataclass
class ModelSpec:
    name: str
    family: str
    build: Callable[..., Any]
    description: str = ""
    uses_validation: bool = False  # deep models early-stop on the fold's validation split
    in_default_set: bool = True  # part of `--model classical|deep|all`
    search_space: Callable[[Any], dict[str, Any]] | None = None
    tags: dict[str, Any] = field(default_factory=dict)


MODELS: Registry[ModelSpec] = Registry("model")
MODELS.declare_family("classical", "baselines.zoo")
MODELS.declare_family("deep", "deep.zoo")


def register_model(family: str, *, name: str | None = None, uses_validation: bool | None = None,
                   in_default_set: bool = True, search_space: Callable[[Any], dict[str, Any]] | None = None,
                   **tags: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    if family not in FAMILIES:
        raise ConfigError(f"unknown model family '{family}'; families: {', '.join(FAMILIES)}")

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        model_name = name or fn.__name__.replace("_", "-")
        doc = (fn.__doc__ or "").strip().splitlines()
        spec = ModelSpec(model_name, family, fn, doc[0] if doc else "",
                         uses_validation=(family == "deep") if uses_validation is None else uses_validation,
                         in_default_set=in_default_set, search_space=search_space, tags=tags)
        MODELS.add(model_name, spec, family=family)
        return fn

    return deco


def resolve_models(selection: str) -> list[ModelSpec]:
    """``hog-svm,cnn-003`` | ``classical`` | ``deep`` | ``all`` -> model specs, in a stable order."""
    out: list[ModelSpec] = []
    for token in filter(None, (t.strip() for t in selection.split(","))):
        if token == "all":
            out += [e.obj for e in MODELS.entries() if e.obj.in_default_set]
        elif token in FAMILIES:
            out += [e.obj for e in MODELS.entries(token) if e.obj.in_default_set]
        else:
            out.append(MODELS.get(token))
    seen: set[str] = set()
    unique = [s for s in out if not (s.name in seen or seen.add(s.name))]
    if not unique:
        raise ConfigError(f"--model '{selection}' selects no model; use names, classical, deep or all")
    return unique
