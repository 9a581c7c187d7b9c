"""Experiment files: ``bench run --config experiments/NAME.toml`` (or a run folder's ``manifest.json``).

A file holds the options of one experiment under the names of the command line (``--test-size`` is
``test_size``), with lists where a flag takes several values. Options given on the command line win over the
file. Every run stores its resolved experiment in its manifest, so ``bench run --config RUN/manifest.json``
repeats it.

    # paper 000, Table 6: FER2013 -> JAFFE, fine-tuned vs trained from scratch
    protocol = "cross"
    source = "fer2013"
    target = "jaffe"
    target_split = [0.6, 0.2, 0.2]
    target_split_by = "random"
    preset = "paper"
    models = ["cnn-000-m1", "cnn-000-m2", {name = "cnn-000-m3", settings = {dropout = 0.3}}]
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.core.errors import ConfigError
from bench.core.models import format_value


def _text(value: Any) -> str:
    return str(value)


def _joined(value: Any) -> str:
    """A list becomes the comma-separated form a flag takes (``--target jaffe,taiwan``)."""
    return ",".join(format_value(v) for v in value) if isinstance(value, list) else str(value)


def _ratios(value: Any) -> str:
    return "/".join(format_value(v) for v in value) if isinstance(value, list) else str(value)


def _models(value: Any) -> str:
    """``["hog-svm", {name = "standard-cnn", settings = {input_size = 224}}]`` -> the ``--model`` text."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise ValueError("a name, a list of names, or tables {name = ..., settings = {...}}")
    parts = []
    for item in value:
        if isinstance(item, str):
            parts.append(item)
        elif isinstance(item, dict) and set(item) <= {"name", "settings"} and isinstance(item.get("name"), str):
            settings = item.get("settings") or {}
            parts.append(item["name"] + (":" + ",".join(f"{k}={format_value(v)}" for k, v in settings.items())
                                         if settings else ""))
        else:
            raise ValueError(f"model entry {item!r} is not a name or a table {{name = ..., settings = {{...}}}}")
    return ",".join(parts)


def _number(kind: type) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"expected a {kind.__name__}")
        return kind(value)

    return convert


# file key -> (argparse dest, converter to what the flag's parser produces)
KEYS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "protocol": ("protocol", _text), "dataset": ("dataset", _text), "source": ("source", _text),
    "target": ("target", _joined), "models": ("model", _models), "model": ("model", _models),
    "folds": ("folds", _text), "test_size": ("test_size", _number(float)), "val_size": ("val_size", _number(float)),
    "seed": ("seed", _number(int)), "preset": ("preset", _text), "epochs": ("epochs", _number(int)),
    "device": ("device", _text), "accel": ("accel", _text), "threads": ("threads", _number(int)),
    "target_fractions": ("target_fraction", _joined), "target_fraction": ("target_fraction", _joined),
    "source_split": ("source_split", _ratios), "target_split": ("target_split", _ratios),
    "target_split_by": ("target_split_by", _text), "variants": ("variants", _joined), "official_split": ("official_split", _text),
    "labels": ("labels", _joined), "source_run": ("source_run", _text), "ensemble": ("ensemble", _joined),
    "tune": ("tune", _number(int)), "storage": ("storage", _text), "out": ("out", _text), "name": ("name", _text),
    "data_dir": ("data_dir", _text),
}


def read_experiment(path: str | Path) -> dict[str, Any]:
    """The experiment in ``path`` (a TOML file, or a run's manifest.json) as argparse defaults."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"--config {p}: no such file; give an experiment .toml or a run's manifest.json")
    try:
        if p.suffix == ".json":
            raw = json.loads(p.read_text()).get("experiment")
            if not isinstance(raw, dict):
                raise ConfigError(f"--config {p}: this manifest records no experiment (a run made before "
                                  "experiment files); pass the options on the command line")
        else:
            raw = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config {p}: not valid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
        raise ConfigError(f"--config {p}: unreadable ({exc})") from None
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise ConfigError(f"--config {p}: unknown key(s) {', '.join(unknown)}; keys are {', '.join(sorted(KEYS))}")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        dest, convert = KEYS[key]
        try:
            out[dest] = convert(value)
        except ValueError as exc:
            raise ConfigError(f"--config {p}: {key} = {value!r}: {exc}") from None
    return out
