"""Fabricated run folders (written with ``RunFolder.write_unit``, like the engine) for report and statistics tests.

Predictions are seeded random draws whose quality depends on a per-model ``skill``, scored with the engine's
own ``bench.results.metrics.score`` so that the unit files agree with the predictions exactly as a real run's do.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from bench.core.emotions import EMOTIONS, INDEX
from bench.results.folder import RunFolder
from bench.results.metrics import score

CLASSES = ("angry", "happy", "sad", "surprise", "neutral")


def _probabilities(rng: np.random.Generator, y: np.ndarray, skill: float, k: int) -> np.ndarray:
    logits = rng.normal(0, 1, (len(y), k))
    logits[np.arange(len(y)), y] += skill
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def _history(rng: np.random.Generator, epochs: int = 6) -> list[dict[str, float]]:
    out = []
    for e in range(1, epochs + 1):
        out.append({"epoch": e, "train_loss": 1.6 / e, "val_loss": 1.7 / e + 0.05 * e,
                    "train_acc": min(0.99, 0.3 + 0.12 * e), "val_acc": 0.3 + 0.06 * e - 0.004 * e * e + rng.uniform(0, .01)})
    return out


def fabricate_run(root: Path, name: str, *, protocol: str = "random", dataset: str = "no-such-dataset",
                  models: dict[str, float] | None = None, n_folds: int = 1, n_test: int = 60, n_train: int = 400,
                  seed: int = 0, deep: tuple[str, ...] = (), shared_test: bool = False,
                  classes: tuple[str, ...] = CLASSES, config_key: str | None = None, ds=None) -> Path:
    """A single-dataset run folder; ``models`` maps model name -> skill (logit boost of the true class).

    With ``ds`` (the FERDataset that ``dataset`` names) test samples are real indices, labels, file names and
    fingerprint of it, so that a report can show their images.
    """
    models = models or {"model-a": 2.0, "model-b": 0.8}
    cls = tuple(sorted(INDEX[c] for c in classes)) if ds is None else tuple(ds.classes)
    rng = np.random.default_rng(seed)
    run = RunFolder(root / name)
    folds = []
    fold_samples = {}
    for f in range(n_folds):
        fold_id = f"fold-{f}" if n_folds > 1 else "holdout-r0"
        # k-fold style: each fold tests another slice of the dataset (indices are disjoint across folds).
        idx = np.arange(n_test) + (0 if shared_test else f * n_test)
        y = rng.choice(len(cls), n_test) if ds is None else np.searchsorted(cls, ds.labels[idx])
        fold_samples[fold_id] = (idx, y)
        folds.append({"id": fold_id, "variant": "", "n_train": n_train, "n_val": n_train // 10,
                      "tests": {"test": n_test}})
    cfg = {"protocol": protocol, "dataset": dataset, "seed": seed, "data_dir": None, "folds": str(n_folds)}
    key = config_key or hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:16]
    run.start({"run_id": name, "command": ["bench", "run", "--protocol", protocol], "config": cfg,
               "config_key": key, "protocol": {"name": protocol, "description": f"{protocol} (fabricated)"},
               "data": {"dataset": {"name": dataset, "n_images": n_test * n_folds}},
               "dataset_fingerprint": "f" * 16 if ds is None else ds.fingerprint(), "classes": [EMOTIONS[c] for c in cls],
               "models": sorted(models), "folds": folds, "versions": {"fer-bench": "test"}, "created": "now"})
    for m_i, (model, skill) in enumerate(sorted(models.items())):
        for f_i, (fold_id, (idx, y)) in enumerate(sorted(fold_samples.items())):
            mrng = np.random.default_rng([seed, m_i, f_i])
            proba = _probabilities(mrng, y, skill, len(cls))
            y_true = np.asarray(cls)[y]
            files = [f"img{i}.png" for i in idx] if ds is None else ds.files[idx]
            frame = pd.DataFrame({"index": idx, "file": files, "testset": "test",
                                  "subject": [f"s{i % 7}" for i in idx], "y_true": [EMOTIONS[c] for c in y_true],
                                  "y_pred": [EMOTIONS[cls[j]] for j in proba.argmax(axis=1)]})
            for j, c in enumerate(cls):
                frame[f"p_{EMOTIONS[c]}"] = proba[:, j]
            # What the engine stores: probabilities at 6 significant digits; score the stored values.
            frame = pd.read_csv(_roundtrip(frame))
            stored = frame[[f"p_{EMOTIONS[c]}" for c in cls]].to_numpy()
            record = {"model": model, "family": "deep" if model in deep else "classical", "fold": fold_id,
                      "variant": "", "strategy": "", "status": "ok", "n_train": n_train, "n_val": n_train // 10,
                      "metrics": {"test": score(y_true, stored, cls)}, "fit_time_s": 0.5 + m_i,
                      "predict_ms_per_image": 0.1 * (m_i + 1), "model_size": 1000}
            if model in deep:
                record["history"] = _history(mrng)
                best = max(record["history"], key=lambda h: h["val_acc"])
                record["train_accuracy"] = best["train_acc"]
            run.write_unit(record, frame)
    run.write_metrics_table()
    return run.path


def fabricate_cross_run(root: Path, name: str = "cross-run", seed: int = 0,
                        variants: tuple[str, ...] = ("zero-shot", "target-only", "fusion")) -> Path:
    """A cross-dataset run: zero-shot / target-only / fusion variants, each scored on source and target."""
    cls = tuple(sorted(INDEX[c] for c in CLASSES))
    rng = np.random.default_rng(seed)
    run = RunFolder(root / name)
    tests = {"source": (np.arange(50), rng.choice(len(cls), 50)), "target": (np.arange(50, 90), rng.choice(len(cls), 40))}
    skills = {"zero-shot": (2.5, 0.3), "target-only": (0.2, 1.5), "fusion": (2.0, 1.2)}
    variants = {v: skills[v] for v in variants}
    cfg = {"protocol": "cross", "source": "no-such-src", "target": "no-such-tgt", "seed": seed, "data_dir": None}
    run.start({"run_id": name, "command": ["bench", "run"], "config": cfg, "config_key": "c" * 16,
               "protocol": {"name": "cross", "description": "cross (fabricated)"},
               "data": {"source": {"n_images": 50}, "target": {"n_images": 40}}, "dataset_fingerprint": "e" * 16,
               "classes": [EMOTIONS[c] for c in cls], "models": ["model-a"],
               "folds": [{"id": f"{v}-r0", "variant": v} for v in variants], "versions": {}, "created": "now"})
    for v_i, (variant, skills) in enumerate(variants.items()):
        frames, metrics = [], {}
        for (testset, (idx, y)), skill in zip(tests.items(), skills):
            proba = _probabilities(np.random.default_rng([seed, v_i, len(testset)]), y, skill, len(cls))
            y_true = np.asarray(cls)[y]
            frame = pd.DataFrame({"index": idx, "file": [f"img{i}.png" for i in idx], "testset": testset,
                                  "subject": "", "y_true": [EMOTIONS[c] for c in y_true],
                                  "y_pred": [EMOTIONS[cls[j]] for j in proba.argmax(axis=1)]})
            for j, c in enumerate(cls):
                frame[f"p_{EMOTIONS[c]}"] = proba[:, j]
            frame = pd.read_csv(_roundtrip(frame))
            metrics[testset] = score(y_true, frame[[f"p_{EMOTIONS[c]}" for c in cls]].to_numpy(), cls)
            frames.append(frame)
        run.write_unit({"model": "model-a", "family": "classical", "fold": f"{variant}-r0", "variant": variant,
                        "strategy": "", "status": "ok", "n_train": 300, "n_val": 30, "metrics": metrics,
                        "fit_time_s": 1.0, "predict_ms_per_image": 0.2}, pd.concat(frames, ignore_index=True))
    run.write_metrics_table()
    return run.path


def _roundtrip(frame: pd.DataFrame):
    import io

    return io.StringIO(frame.to_csv(index=False, float_format="%.6g"))
