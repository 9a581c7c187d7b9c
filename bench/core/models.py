"""The model registry: adding a model is one decorated function (like timm's ``register_model``).

A registered function builds a fresh, unfitted estimator that honours the model contract
(``bench.core.contracts.Model``)::

    @register_model("classical", search_space=my_space)
    def my_pipeline(seed: int = 0, **params) -> Pipeline:
        \"\"\"One line that ``bench models`` shows.\"\"\"

The function name (underscores -> hyphens) is the model name. The built-in families are imported lazily, so a
classical-only run never imports torch; ``baselines`` and ``deep`` generate their registrations from their
components' own records.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from bench.core.errors import ConfigError
from bench.core.registry import Registry

FAMILIES = ("classical", "deep")
SELECTORS = ("all", *FAMILIES)  # what --model accepts besides names and patterns
_FORBIDDEN = set(",:*?[]= ")  # characters that would make --model ambiguous

SearchSpace = Callable[[Any], dict[str, Any]]
# A model's settings as a user writes them (``C=0.1``) -> the keywords its builder takes (``svm__C=0.1``).
SettingsResolver = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class ModelSpec:
    """A registered model: how to build it and what the harness needs to know about it.

    ``describe`` (optional) returns extra facts for ``bench models --show`` (a deep model's presets, with the
    settings a paper leaves open marked as ours). ``settings`` (optional) turns per-model settings
    (``--model 'hog-svm:C=0.1'``) into builder keywords, raising ConfigError with the valid keys; without it a
    setting must be a key of the estimator's ``get_params()``. ``configure`` gives the model with settings
    applied: its name shows them (``hog-svm:C=0.1``), ``base`` is the registered name and ``settings_given`` /
    ``build_params`` record them.
    """

    name: str
    family: str
    build: Callable[..., Any]
    description: str = ""
    search_space: SearchSpace | None = None
    uses_validation: bool = False  # fit(X, y, X_val=..., y_val=...): deep models early-stop on it
    in_default_set: bool = True  # part of `--model classical|deep|all`
    describe: Callable[[], dict[str, Any]] | None = None
    settings: SettingsResolver | None = None
    tags: dict[str, Any] = field(default_factory=dict)
    base: str | None = None
    settings_given: dict[str, Any] = field(default_factory=dict)
    build_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        what = f"model '{self.name}'"
        if self.base is None and (not isinstance(self.name, str) or not self.name or _FORBIDDEN & set(self.name)):
            raise ConfigError(f"{what}: the name must be non-empty and free of {''.join(sorted(_FORBIDDEN))!r}")
        if self.base is None and self.name in SELECTORS:
            raise ConfigError(f"{what}: '{self.name}' is reserved for --model {self.name}; pick another name")
        if self.family not in FAMILIES:
            raise ConfigError(f"{what}: family '{self.family}' is not one of {', '.join(FAMILIES)}")
        if not callable(self.build):
            raise ConfigError(f"{what}: build must be a function returning an unfitted estimator")
        if not (isinstance(self.description, str) and self.description.strip()):
            raise ConfigError(f"{what}: registration is missing 'description' (give the builder a docstring or "
                              "pass doc=)")
        if not callable(self.search_space):
            raise ConfigError(f"{what}: registration is missing 'search_space' (a function trial -> params, "
                              "as in baselines/ and deep/)")


    @property
    def registered_name(self) -> str:
        return self.base or self.name

    def configure(self, settings: dict[str, Any]) -> ModelSpec:
        """This model with per-model settings applied (the settings win over the run's own keywords)."""
        if not settings:
            return self
        params = (self.settings or self._params_as_given)(dict(settings))
        label = f"{self.registered_name}:" + ",".join(f"{k}={format_value(v)}" for k, v in settings.items())
        build = functools.partial(_build_with, self.build, params)
        return replace(self, name=label, build=build, base=self.registered_name, settings_given=dict(settings),
                       build_params=params)

    def _params_as_given(self, settings: dict[str, Any]) -> dict[str, Any]:
        valid = self.build().get_params()
        unknown = sorted(set(settings) - set(valid))
        if unknown:
            raise ConfigError(f"model '{self.name}' has no setting {', '.join(unknown)}; its settings: "
                              f"{', '.join(k for k in valid if not hasattr(valid[k], 'get_params'))}")
        return settings


def _build_with(build: Callable[..., Any], params: dict[str, Any], **kwargs: Any) -> Any:
    return build(**{**kwargs, **params})


def parse_value(text: str) -> Any:
    """A setting's value as written on the command line: int, float, bool, none, or the text itself."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text.strip()


def format_value(value: Any) -> str:
    """The inverse of ``parse_value`` for names and manifests: ``1e-05``, ``true``, ``none``."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def split_settings(text: str) -> list[tuple[str, dict[str, Any]]]:
    """``'hog-svm,standard-cnn:input_size=224,kernel=5'`` -> [("hog-svm", {}), ("standard-cnn", {...})].

    After ``NAME:``, comma-separated ``KEY=VALUE`` pieces are that model's settings until a piece without ``=``.
    """
    out: list[tuple[str, dict[str, Any]]] = []
    in_settings = False
    for piece in filter(None, (p.strip() for p in text.split(","))):
        if ":" in piece:
            name, _, piece = piece.partition(":")
            out.append((name.strip(), {}))
            in_settings = True
            if not piece.strip():
                continue
        elif not (in_settings and "=" in piece):
            out.append((piece, {}))
            in_settings = False
            continue
        key, eq, value = piece.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"--model setting '{piece}' is not KEY=VALUE (e.g. 'hog-svm:C=0.1')")
        out[-1][1][key.strip()] = parse_value(value)
    return out


MODELS: Registry[ModelSpec] = Registry("model")
MODELS.declare_family("classical", "baselines.zoo")
MODELS.declare_family("deep", "deep.zoo")
# Installed packages' registrations come last, so a clash with a built-in name is theirs to fix.
MODELS.declare_family("plugins", "bench.core.entry_points")


def first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0].strip() if lines else ""


def register_model(family: str, *, name: str | None = None, search_space: SearchSpace | None = None,
                   doc: str | None = None, uses_validation: bool | None = None, in_default_set: bool = True,
                   describe: Callable[[], dict[str, Any]] | None = None, settings: SettingsResolver | None = None,
                   **tags: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a builder of unfitted estimators under ``name`` (default: the function name, ``_`` -> ``-``).

    ``search_space`` and a description (``doc`` or the builder's docstring) are required: every model can be
    tuned and listed. Deep models use the fold's validation split for early stopping unless told otherwise.
    """

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        model_name = name or getattr(fn, "__name__", "").replace("_", "-")
        spec = ModelSpec(model_name, family, fn, first_line(doc if doc is not None else fn.__doc__),
                         search_space=search_space,
                         uses_validation=(family == "deep") if uses_validation is None else uses_validation,
                         in_default_set=in_default_set, describe=describe, settings=settings, tags=tags)
        MODELS.add(model_name, spec, family=family)
        return fn

    return deco


def resolve_models(selection: str) -> list[ModelSpec]:
    """``hog-svm,cnn-003`` | ``'hog-*'`` | ``classical`` | ``deep`` | ``all`` -> specs, in a stable order.

    Patterns (``*``, ``?``, ``[...]``) match every registered name, in or out of the default set. A name, pattern
    or family may carry settings: ``'standard-cnn:input_size=224,kernel=5'``, ``'hog-*:C=0.1'``; the same model
    with other settings is another model (its own row).
    """
    out: list[ModelSpec] = []
    for token, settings in split_settings(selection):
        if token == "all":
            picked = [e.obj for e in MODELS.entries() if e.obj.in_default_set]
        elif token in FAMILIES:
            picked = [e.obj for e in MODELS.entries() if e.obj.family == token and e.obj.in_default_set]
        elif set(token) & set("*?["):
            picked = [e.obj for e in MODELS.entries() if fnmatch.fnmatchcase(e.name, token)]
            if not picked:
                raise ConfigError(f"--model pattern '{token}' matches no registered model; see 'bench models'")
        else:
            picked = [MODELS.get(token)]
        out += [spec.configure(settings) for spec in picked]
    seen: set[str] = set()
    unique = [s for s in out if not (s.name in seen or seen.add(s.name))]
    if not unique:
        raise ConfigError(f"--model '{selection}' selects no model; use names, patterns, classical, deep or all")
    return unique


class LowEndTrial:
    """Stands in for an Optuna trial to read a define-by-run search space: records each suggestion and answers
    with its low end or first choice (so a conditional branch is shown as the first choice takes it)."""

    def __init__(self) -> None:
        self.params: list[dict[str, Any]] = []

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float:
        self.params.append({"name": name, "kind": "float", "range": [low, high], "log": log, "step": step})
        return low

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        self.params.append({"name": name, "kind": "int", "range": [low, high], "log": log,
                            "step": step if step != 1 else None})
        return low

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        self.params.append({"name": name, "kind": "categorical", "choices": list(choices)})
        return list(choices)[0]


def describe_space(space: SearchSpace) -> list[dict[str, Any]]:
    """The parameters a search space samples, each with its kind and range or choices."""
    trial = LowEndTrial()
    space(trial)
    return trial.params
