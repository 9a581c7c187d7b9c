"""``bench models`` and ``bench protocols``: what is registered, read from the registries themselves."""

from __future__ import annotations

import argparse
import json
from typing import Any

from tabulate import tabulate

from bench.core.models import MODELS, describe_space
from protocols import PROTOCOLS


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    return tabulate([[r.get(c, "") for c in columns] for r in rows], headers=columns, tablefmt="github",
                    disable_numparse=True)


def _range(p: dict[str, Any]) -> str:
    if p["kind"] == "categorical":
        return "one of " + ", ".join(map(str, p["choices"]))
    text = f"{p['kind']} in [{p['range'][0]:g}, {p['range'][1]:g}]"
    return text + (" (log scale)" if p.get("log") else "") + (f" step {p['step']:g}" if p.get("step") else "")


def _value(v: Any) -> str:
    return json.dumps(v) if isinstance(v, (dict, list)) else str(v)


def models_from_args(args: argparse.Namespace) -> int:
    if args.show:
        return _show(args.show)
    rows = [{"model": e.name, "family": e.obj.family, "default set": "yes" if e.obj.in_default_set else "",
             "description": e.obj.description} for e in MODELS.entries()
            if args.family in (None, e.obj.family)]
    print(_table(rows, ["model", "family", "default set", "description"]))
    print(f"\n{len(rows)} models; --model classical|deep|all runs the default set, names and patterns ('hog-*') "
          "any of them; 'bench models --show NAME' for one in full")
    return 0


def _show(name: str) -> int:
    spec = MODELS.get(name)
    print(f"model: {spec.name}")
    print(f"family: {spec.family}")
    print(f"description: {spec.description}")
    print(f"default set: {'yes' if spec.in_default_set else 'no (runs when named)'}")
    facts = spec.describe() if spec.describe else {}
    presets = facts.pop("presets", None)
    ours = facts.pop("our choices", {})
    for key, value in {**spec.tags, **facts}.items():
        print(f"{key}: {_value(value)}")
    print("\nsearch space (bench tune / bench run --tune):")
    print(_table([{"parameter": p["name"], "values": _range(p)} for p in describe_space(spec.search_space)],
                 ["parameter", "values"]))
    if presets:
        names = list(presets)
        flat = {preset: _flatten(values) for preset, values in presets.items()}
        print("\npresets (* = not stated by the paper: our choice):")
        rows = []
        for setting in flat[names[0]]:
            row = {"setting": setting}
            for preset in names:
                mark = " *" if setting in ours.get(preset, ()) or setting.split(".")[0] in ours.get(preset, ()) else ""
                row[preset] = _value(flat[preset][setting]) + mark
            rows.append(row)
        print(_table(rows, ["setting", *names]))
    return 0


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings (``augment``) as dotted rows: ``augment.rotation``."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def protocols_from_args(args: argparse.Namespace) -> int:
    if args.show:
        return _show_protocol(PROTOCOLS.get(args.show))
    rows = []
    for e in sorted(PROTOCOLS.entries(), key=lambda e: e.obj.rank):
        cls = e.obj
        rows.append({"protocol": e.name, "data": ", ".join(f"--{r}" for r in cls.data_roles),
                     "test sets": ", ".join(cls.testsets), "summary": cls.summary,
                     "options": "; ".join(cls.cli_options)})
    print(_table(rows, ["protocol", "data", "test sets", "summary", "options"]))
    print("\n'bench protocols --show NAME' explains one protocol's options and fold variants")
    return 0


def _show_protocol(cls: Any) -> int:
    print(f"protocol: {cls.name}")
    print(f"summary: {cls.summary}")
    print(f"data: {', '.join('--' + r for r in cls.data_roles)}; test sets: {', '.join(cls.testsets)} "
          f"(ranked on '{cls.primary_testset}')")
    print("\noptions:")
    print(_table([{"option": k, "meaning": v} for k, v in cls.cli_options.items()], ["option", "meaning"]))
    if cls.variants:
        print("\nfold variants:")
        print(_table([{"variant": v.name, "strategy": v.strategy, "meaning": v.meaning} for v in cls.variants],
                     ["variant", "strategy", "meaning"]))
    return 0
