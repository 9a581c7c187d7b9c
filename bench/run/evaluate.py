"""``bench eval MODEL --dataset NAME``: score a model trained elsewhere on a dataset, and record it as a run.

MODEL is a fer-bench model file (``.pt``, ``.skops``) or an ONNX file (``bench.run.saved_models``). Its label
order is aligned to the dataset's classes (a class the dataset lacks is dropped, and the classes the model
cannot predict are named); images are resized to the model's input size. The run folder is an ordinary one
under the ``zero-shot`` protocol (``protocols.zeroshot``): manifest, units/, predictions/, metrics.csv and a
leakage report that counts the scored images the model saw in training (from the digests its card keeps).
Models scored on the same dataset and split share the folder, so the leaderboard ranks them in one table.

Everything is scored before the run folder is touched: a model or an option that fails leaves it unchanged.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tabulate import tabulate

from bench.core.errors import ConfigError, DataError
from bench.data import catalog
from bench.data.dataset import FERDataset
from bench.results.folder import RunFolder
from bench.results.metrics import align_proba, class_overlap, score
from bench.run.onnx_model import OnnxInput
from bench.run.saved_models import SavedModel, open_model
from bench.run.setup import dataset_facts, fold_digest, versions
from bench.run.unit import model_size, prediction_frame
from leaderboard.build import run_summary_markdown
from protocols import PROTOCOLS, Fold, make_protocol
from protocols.leakage import coverage

ZERO_SHOT = "zero-shot"


def onnx_input(args: argparse.Namespace) -> OnnxInput:
    """The ONNX input options of ``bench eval`` / ``bench predict``."""
    return OnnxInput.from_options(input_size=args.input_size, channels=args.channels, scale=args.scale,
                                  layout=args.layout, labels=args.labels)


def eval_from_args(args: argparse.Namespace) -> int:
    saved = open_model(args.model, device=args.device, onnx_input=onnx_input(args))
    ds = catalog.load(args.dataset, args.data_dir)
    return evaluate(saved, ds, args)


# ---------------------------------------------------------------------- what is scored
def trained_here(saved: SavedModel, ds: FERDataset) -> dict[str, Any]:
    """The card's training facts when the model was trained on this very dataset (same fingerprint), else {}."""
    own = saved.card.trained_on
    return own if own.get("fingerprint") == ds.fingerprint() else {}


def choose_split(args: argparse.Namespace, saved: SavedModel, ds: FERDataset) -> tuple[str, dict | None, list[str]]:
    """(split, within protocol configuration, notes): what the zero-shot folds score."""
    own = trained_here(saved, ds)
    if args.protocol:
        if args.split == "all":
            raise ConfigError("--protocol chooses test folds; drop it to score every image with --split all")
        within = make_protocol(args.protocol, folds=args.folds, seed=args.seed, test_size=args.test_size).config()
        return "test", within, []
    for flag in ("folds", "test_size"):
        if getattr(args, flag) is not None:
            raise ConfigError(f"--{flag.replace('_', '-')} needs --protocol (whose test folds are scored)")
    if args.split == "all":
        return "all", None, []
    if "split" in ds.meta:
        return "test", None, []
    if own.get("protocol"):
        return "test", own["protocol"], [f"{ds.name} is the dataset the model was trained on: scoring the test set "
                                         f"of its {own['protocol'].get('name')} fold '{own.get('fold')}'"]
    if args.split == "test":
        raise DataError(f"{ds.name} has no official test split; pass --split all, or --protocol random, kfold or "
                        "subject to score that protocol's test folds")
    return "all", None, [f"{ds.name} has no official test split: scoring all {len(ds)} images (--split all)"]


def folds_for(folds: list[Fold], within: dict | None, own: dict[str, Any]) -> list[Fold]:
    """A model trained on this dataset under the same protocol is scored on its own fold only: the other folds'
    test sets hold its training images."""
    if own and within is not None and own.get("protocol") == within:
        mine = [f for f in folds if f.id == own.get("fold")]
        if mine:
            return mine
    return folds


# ---------------------------------------------------------------------- the command
def evaluate(saved: SavedModel, ds: FERDataset, args: argparse.Namespace) -> int:
    card = saved.card
    label = args.label or card.model
    if not re.fullmatch(r"[^,\s][^,]*", label):
        raise ConfigError(f"--label '{label}' must be a non-empty name without commas")
    model_only, unpredictable = class_overlap(np.asarray(card.classes), ds.classes)
    if len(unpredictable) == len(ds.classes):
        raise DataError(f"{saved.path} predicts {', '.join(card.class_names)} and {ds.name} holds "
                        f"{', '.join(ds.class_names)}: no class in common")
    split, within, notes = choose_split(args, saved, ds)
    protocol = PROTOCOLS.get(ZERO_SHOT)(split=split, within=within)
    own = trained_here(saved, ds)
    folds = folds_for(list(protocol.split(ds)), within, own)
    config = {"protocol": ZERO_SHOT, "dataset": args.dataset, "split": split, "within": within,
              "data_dir": args.data_dir, "out": args.out, "name": args.name}
    run = RunFolder(Path(args.out) / (args.name or default_name(config)))
    if _already_scored(run, label, saved, folds):
        print(f"{run.path} already holds '{label}' scored from this file ({saved.sha256[:12]}); nothing to do",
              file=sys.stderr)
        return 0

    if ds.image_size != card.image_size:
        notes.append(f"images resized from {_size(ds.image_size)} to the model's {_size(card.image_size)}")
    if model_only:
        notes.append(f"{ds.name} has no {', '.join(model_only)}, which the model predicts: its scores are dropped "
                     "and each image gets the likeliest class the dataset has")
    if unpredictable:
        notes.append(f"the model cannot predict {', '.join(unpredictable)} ({ds.name} has them; they count as errors)")

    # Score everything first: a failure below leaves the run folder as it was.
    scored = ds.resized(card.image_size)
    needed = np.unique(np.concatenate([f.test for f in folds]))
    t0 = time.perf_counter()
    raw = saved.estimator.predict_proba(scored.images[needed])
    ms = 1000 * (time.perf_counter() - t0) / max(len(needed), 1)
    proba = np.zeros((len(ds), len(ds.classes)))
    proba[needed] = align_proba(np.asarray(raw), np.asarray(card.classes), ds.classes)
    seen = card.hashes()
    hashes = scored.image_hashes() if len(seen) else None
    records, frames, leakage = [], [], {}
    for fold in folds:
        test = fold.test
        dup = int(np.count_nonzero(np.isin(hashes[test], seen))) if hashes is not None else None
        leak = {"n_test": int(len(test)), "shared_subjects": None, "duplicate_images": dup or 0,
                "train_test_overlap": 0, "val_test_overlap": 0, "seen_in_training": dup}
        leakage[fold.id] = {"test": leak}
        records.append(_record(label, saved, fold, score(ds.labels[test], proba[test], ds.classes), ms, leak,
                               model_only, unpredictable, ds))
        frames.append(prediction_frame(ds, test, "test", proba[test]))
        if dup:
            notes.append(f"{fold.id}: {dup} of the {len(test)} scored images were in the model's training data")

    manifest = _manifest(run, config, protocol, ds, folds, label, saved, notes)
    run.start(manifest)
    for record, frame in zip(records, frames):
        run.write_unit(record, frame)
    _write_leakage(run, ds, folds, label, leakage)
    run.write_metrics_table()
    (run.path / "leaderboard.md").write_text(run_summary_markdown(run))
    _print(label, saved, ds, folds, records, proba, notes, run)
    return 0


def default_name(config: dict[str, Any]) -> str:
    name = f"{ZERO_SHOT}-{PROTOCOLS.get(ZERO_SHOT).data_label(config)}"
    seed = (config.get("within") or {}).get("seed")
    if seed:
        name += f"-s{seed}"
    return re.sub(r"[^A-Za-z0-9_.+=-]+", "_", name)


def _already_scored(run: RunFolder, label: str, saved: SavedModel, folds: list[Fold]) -> bool:
    """True when this file was already scored under this label; an error when another file was."""
    done = [run.unit_path(label, f.id) for f in folds if run.unit_done(label, f.id)]
    if not done:
        return False
    theirs = json.loads(done[0].read_text()).get("model_sha256")
    if theirs != saved.sha256:
        raise ConfigError(f"{run.path} already holds a row '{label}' scored from another file "
                          f"({str(theirs)[:12]}); pass --label NAME to add this one beside it")
    return len(done) == len(folds)


def _size(hw: tuple[int, int]) -> str:
    return f"{hw[0]}x{hw[1]}"


def _provenance(saved: SavedModel) -> str:
    t = saved.card.trained_on
    if not t:
        return "trained elsewhere"
    where = f"trained on {t.get('dataset', '?')}"
    if t.get("run"):
        where += f" ({t['run']} {t.get('fold', '')})".rstrip()
    return where


def _record(label: str, saved: SavedModel, fold: Fold, metrics: dict[str, Any], ms: float, leak: dict[str, Any],
            model_only: list[str], unpredictable: list[str], ds: FERDataset) -> dict[str, Any]:
    card = saved.card
    return {"model": label, "family": card.family, "fold": fold.id, "variant": fold.variant, "strategy": "BL",
            "init_from": None, "finetune": None, "seed": None, "n_train": 0, "n_val": 0, "status": "ok",
            "metrics": {"test": metrics}, "fit_time_s": None, "predict_ms_per_image": round(ms, 5),
            "model_size": model_size(saved.estimator), "history": None,
            "model_file": str(saved.path), "model_sha256": saved.sha256,
            "model_card": {"model": card.model, "family": card.family, "classes": card.class_names,
                           "image_size": list(card.image_size), "trained_on": card.trained_on,
                           "fer_bench": card.fer_bench},
            "classes_not_in_dataset": model_only, "classes_model_cannot_predict": unpredictable,
            "resized_from": list(ds.image_size) if ds.image_size != card.image_size else None, "leakage": leak}


def _manifest(run: RunFolder, config: dict[str, Any], protocol: Any, ds: FERDataset, folds: list[Fold], label: str,
              saved: SavedModel, notes: list[str]) -> dict[str, Any]:
    old = run.read_manifest() if run.exists() else {}
    identity = {k: config[k] for k in ("protocol", "dataset", "split", "within")}
    notes_by_model = dict(old.get("model_notes", {}))
    notes_by_model[label] = f"BL, {_provenance(saved)}"
    files = dict(old.get("model_files", {}))
    files[label] = {"file": str(saved.path), "sha256": saved.sha256, "kind": saved.kind}
    return {
        "run_id": run.path.name,
        "command": ["bench", *sys.argv[1:]],
        "config": {**config, "seed": (config.get("within") or {}).get("seed", 0)},
        "config_key": hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16],
        "identity": {**json.loads(json.dumps(identity, default=str)), "protocol": protocol.config(),
                     "data": {"dataset": ds.fingerprint()}},
        "protocol": {"name": ZERO_SHOT, "description": protocol.describe(), "params": protocol.config()},
        "data": {"dataset": dataset_facts(ds)},
        "dataset_fingerprint": ds.fingerprint(),
        "left_out": {},
        "classes": ds.class_names,
        "models": [label],
        "model_notes": notes_by_model,
        "model_files": files,
        "notes": {**old.get("notes", {}), label: notes},
        "folds": sorted({**{f["id"]: f for f in old.get("folds", [])},
                         **{f.id: {"id": f.id, "variant": f.variant, "n_train": 0, "n_val": 0,
                                   "tests": {k: len(v) for k, v in f.tests.items()}, "digest": fold_digest(f)}
                            for f in folds}}.values(), key=lambda f: f["id"]),
        "versions": versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _write_leakage(run: RunFolder, ds: FERDataset, folds: list[Fold], label: str,
                   leakage: dict[str, dict[str, Any]]) -> None:
    """The protocol trains nothing, so its folds leak nothing; what each model saw in training is per model."""
    path = run.path / "leakage.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    per_model = dict(old.get("models", {}))
    per_model[label] = leakage
    empty = {f.id: {"test": {"n_test": int(len(f.test)), "shared_subjects": None, "duplicate_images": 0,
                             "train_test_overlap": 0, "val_test_overlap": 0}} for f in folds}
    run.write_json(path, {"folds": {**old.get("folds", {}), **empty}, "coverage": coverage(ds, folds),
                          "models": per_model})


def _print(label: str, saved: SavedModel, ds: FERDataset, folds: list[Fold], records: list[dict[str, Any]],
           proba: np.ndarray, notes: list[str], run: RunFolder) -> None:
    card = saved.card
    print(f"{label}: {saved.path} ({card.family}, {_provenance(saved)}) on {ds.name}, {len(folds)} test set(s)")
    for line in notes:
        print(f"note: {line}")
    for r in records:
        m = r["metrics"]["test"]
        print(f"{r['fold']:<16} n {m['n']:>6}  accuracy {m['accuracy']:.3f}  macro-F1 {m['macro_f1']:.3f}  "
              f"balanced accuracy {m['balanced_accuracy']:.3f}")
    test = np.concatenate([f.test for f in folds])
    pooled = score(ds.labels[test], proba[test], ds.classes)
    head = "pooled over the test sets" if len(folds) > 1 else "per class"
    rows = [[name, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}", v["support"]]
            for name, v in pooled["per_class"].items()]
    print(f"\n{head}:")
    print(tabulate(rows, headers=["class", "precision", "recall", "F1", "support"], tablefmt="github"))
    cm = pd.DataFrame(pooled["confusion_matrix"], index=[f"true {c}" for c in pooled["labels"]],
                      columns=pooled["labels"])
    print("\nconfusion matrix (rows: true class, columns: predicted):")
    print(tabulate(cm, headers="keys", tablefmt="github"))
    print(f"\nrun folder: {run.path} (bench leaderboard / bench report read it)", file=sys.stderr)
