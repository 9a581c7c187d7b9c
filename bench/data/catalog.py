"""Dataset registries and name resolution: a name is either a synthetic generator or an imported dataset.

A dataset spec is ``NAME`` or ``NAME:key=value,key=value`` (``synth-wild:n=20000,seed=3``). Synthetic datasets
are generated on demand from their seed; imported ones are read from the cache that ``bench data import`` wrote.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.core.errors import ConfigError, DataError, did_you_mean
from bench.core.registry import Registry
from bench.data import store as datastore
from bench.data.dataset import FERDataset


@dataclass(frozen=True)
class Option:
    """One importer option, declared once: it is the ``bench data import`` flag, the keyword of the Python API
    (``import_dataset(..., size=64)``, ``Importer.load(..., size=64)``), the value the importer reads
    (``opts.size``) and part of the cache key. ``type`` turns a command-line string (or a value given in
    Python) into the canonical value; it must accept its own output."""

    flag: str  # e.g. "--frames"
    help: str
    default: Any = None
    type: Callable[[Any], Any] = str
    choices: tuple[Any, ...] | None = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    def resolve(self, value: Any) -> Any:
        if self.type is bool:
            if not isinstance(value, bool):
                raise ConfigError(f"{self.flag} is a switch: give True or False, got {value!r}")
            return value
        if value is not None:
            value = self.type(value)
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f"{self.flag} '{value}' is not one of {', '.join(map(str, self.choices))}")
        return value


class Options(dict[str, Any]):
    """The resolved options of one import: every declared option, nothing else (``opts.size``)."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"this importer declares no option '{key}'; declare it in its options") from None


@dataclass
class Importer:
    """Reads one dataset's native on-disk layout into a FERDataset.

    ``read(path, name, opts)`` gets the resolved ``Options`` (every option in ``options``, parsed) and must
    raise DataError (naming the file and the fix) on bad input. Bump ``version`` whenever the output for the
    same input and options can change: caches record it.
    """

    name: str
    version: str
    read: Callable[[Path, str, Options], FERDataset]
    description: str
    options: list[Option] = field(default_factory=list)

    def resolve(self, given: dict[str, Any] | None = None) -> Options:
        """Every declared option, from ``given`` or its default, parsed and checked."""
        given = dict(given or {})
        known = {o.dest: o for o in self.options}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise ConfigError(f"importer '{self.name}' has no option {', '.join(unknown)}; its options are "
                              f"{', '.join(known) or 'none'}")
        return Options({dest: opt.resolve(given.get(dest, opt.default)) for dest, opt in known.items()})

    def load(self, path: str | Path, *, name: str | None = None, **given: Any) -> FERDataset:
        """Read ``path`` with these options; the dataset's info records exactly the resolved options."""
        opts = self.resolve(given)
        ds = self.read(Path(path), name or self.name, opts)
        ds.info.update(importer=self.name, importer_version=self.version, options=dict(opts))
        return ds

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        for opt in self.options:
            kw: dict[str, Any] = {"help": f"{opt.help} (default: {opt.default})", "default": opt.default}
            if opt.type is bool:
                kw["action"] = argparse.BooleanOptionalAction
            else:
                kw["type"] = opt.type
                if opt.choices:
                    kw["choices"] = list(opt.choices)
            parser.add_argument(opt.flag, dest=opt.dest, **kw)


def register_importer(importer: Importer) -> Importer:
    IMPORTERS.add(importer.name, importer, family="importers")
    return importer


@dataclass
class Synthetic:
    """A procedurally generated dataset family member: ``generate(**params) -> FERDataset``."""

    name: str
    generate: Callable[..., FERDataset]
    description: str
    defaults: dict[str, Any] = field(default_factory=dict)


IMPORTERS: Registry[Importer] = Registry("importer")
IMPORTERS.declare_family("importers", "bench.data.importers")
SYNTHETIC: Registry[Synthetic] = Registry("synthetic dataset")
SYNTHETIC.declare_family("synthetic", "bench.data.synth.catalog")


def split_specs(text: str) -> list[str]:
    """``'jaffe,taiwan'`` or ``'synth-lab:n=200,seed=1,jaffe'`` -> dataset specs (``k=v`` pieces continue a spec)."""
    out: list[str] = []
    for piece in filter(None, (p.strip() for p in text.split(","))):
        if out and "=" in piece and ":" not in piece and ":" in out[-1]:
            out[-1] += "," + piece
        else:
            out.append(piece)
    return out


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``synth-wild:n=2000,seed=1`` -> ("synth-wild", {"n": 2000, "seed": 1})."""
    name, _, rest = spec.partition(":")
    params: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise ConfigError(f"dataset spec '{spec}': '{item}' is not key=value (e.g. synth-wild:n=2000)")
        params[key.strip()] = _coerce(value.strip())
    return name.strip(), params


def _coerce(value: str) -> Any:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def load(spec: str, data_dir: str | Path | None = None) -> FERDataset:
    """Resolve a dataset spec to a FERDataset (synthetic: generated; otherwise: the imported cache)."""
    name, params = parse_spec(spec)
    if name in SYNTHETIC:
        syn = SYNTHETIC.get(name)
        unknown = set(params) - set(syn.defaults)
        if unknown:
            raise ConfigError(
                f"dataset '{name}' has no option {', '.join(sorted(unknown))}; options: {', '.join(syn.defaults)}"
            )
        return syn.generate(**{**syn.defaults, **params})
    root = datastore.data_dir(data_dir)
    if datastore.read_manifest(root, name) is None:
        known = SYNTHETIC.names() + [m["name"] for m in datastore.list_cached(root)]
        hint = did_you_mean(name, known)
        if name in IMPORTERS.names():
            raise DataError(
                f"dataset '{name}' is not imported in {root}; run 'bench data import {name} PATH' first"
            )
        raise DataError(f"unknown dataset '{name}';{hint} available: {', '.join(known)} "
                        f"(import one with 'bench data import NAME PATH')")
    if params:
        raise ConfigError(f"imported dataset '{name}' takes no options; re-import it with other options instead")
    return datastore.load_dataset(root, name)


def available(data_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """Synthetic generators and imported datasets, for ``bench data list``."""
    rows: list[dict[str, Any]] = []
    for e in SYNTHETIC.entries():
        rows.append({"name": e.name, "kind": "synthetic", "description": e.obj.description,
                     "options": ", ".join(f"{k}={v}" for k, v in e.obj.defaults.items())})
    for m in datastore.list_cached(datastore.data_dir(data_dir)):
        rows.append({"name": m["name"], "kind": f"imported ({m.get('importer', '?')})",
                     "description": f"{m['n_images']} images {tuple(m['image_size'])} from {m.get('source_path', '?')}",
                     "options": ", ".join(f"{k}={v}" for k, v in (m.get("options") or {}).items())})
    return rows


def import_dataset(importer_name: str, path: str | Path, *, name: str | None = None,
                   data_dir: str | Path | None = None, force: bool = False,
                   **options: Any) -> tuple[FERDataset, bool]:
    """Import ``path`` with an importer into the cache; returns (dataset, imported_now).

    The cache is reused only when importer, importer version, options and source path all match;
    any change re-imports. A failed import leaves an existing cache untouched.
    """
    importer = IMPORTERS.get(importer_name)
    name = name or importer_name
    if name in SYNTHETIC.names():
        raise ConfigError(f"'{name}' is a synthetic dataset name; import under another name with --name")
    root = datastore.data_dir(data_dir)
    src = Path(path).expanduser().resolve()
    # The cache key holds every declared option, resolved: no option can change the data without it.
    resolved = importer.resolve(options)
    wanted = {"importer": importer.name, "importer_version": importer.version, "options": dict(resolved),
              "source_path": str(src)}
    current = datastore.read_manifest(root, name)
    if not force and current and all(current.get(k) == v for k, v in _jsonable(wanted).items()):
        return datastore.load_dataset(root, name), False
    ds = importer.load(src, name=name, **resolved)
    if len(ds) == 0:
        raise DataError(f"{src}: no images were imported; check the folder layout ('bench data import {importer_name} --help')")
    datastore.save_dataset(ds, root, wanted)
    return ds, True


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(json.dumps(d, default=str))
