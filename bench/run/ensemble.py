"""Softmax-averaging ensembles (paper 000) built from a run's stored predictions, scored as their own rows."""

from __future__ import annotations

import warnings

import numpy as np

from bench.core.emotions import INDEX
from bench.results.folder import RunFolder
from bench.results.metrics import score

PAPER000 = ("cnn-000-m1", "cnn-000-m2", "cnn-000-m3")


def parse_groups(spec: str, finished_models: set[str]) -> list[tuple[str, ...]]:
    if spec in ("", "none"):
        return []
    if spec == "auto":
        return [PAPER000] if set(PAPER000) <= finished_models else []
    return [tuple(m.strip() for m in group.split("+") if m.strip()) for group in spec.split(",") if group.strip()]


def ensemble_name(members: tuple[str, ...]) -> str:
    return "ensemble-" + "+".join(members)


def add_ensembles(run: RunFolder, folds, spec: str) -> list[str]:
    """Average the members' class probabilities on every fold where all of them finished; returns the names."""
    units = {(u["model"], u["fold"]): u for u in run.read_units()}
    ok_models = {m for (m, _), u in units.items() if u["status"] == "ok"}
    made = []
    for members in parse_groups(spec, ok_models):
        name = ensemble_name(members)
        scored = 0
        for fold in folds:
            member_units = [units.get((m, fold.id)) for m in members]
            if any(u is None or u["status"] != "ok" for u in member_units):
                continue
            scored += 1
            frames = [run.read_predictions(m, fold.id) for m in members]
            prob_cols = [c for c in frames[0].columns if c.startswith("p_")]
            mean = np.mean([f[prob_cols].to_numpy() for f in frames], axis=0)
            merged = frames[0].drop(columns=prob_cols).copy()
            merged[prob_cols] = mean
            classes = tuple(INDEX[c[2:]] for c in prob_cols)
            merged["y_pred"] = [c[2:] for c in np.asarray(prob_cols)[np.argmax(mean, axis=1)]]
            metrics = {}
            for testset, rows in merged.groupby("testset", sort=False):
                y_true = np.array([INDEX[v] for v in rows["y_true"]])
                metrics[testset] = score(y_true, rows[prob_cols].to_numpy(), classes)
            record = {"model": name, "family": "ensemble", "members": list(members), "fold": fold.id,
                      "variant": fold.variant, "strategy": fold.info.get("strategy", ""), "status": "ok",
                      "metrics": metrics,
                      "fit_time_s": round(sum(u["fit_time_s"] for u in member_units), 4),
                      "predict_ms_per_image": round(sum(u["predict_ms_per_image"] for u in member_units), 5),
                      "model_size": sum(u.get("model_size") or 0 for u in member_units),
                      "n_train": member_units[0].get("n_train"), "n_val": member_units[0].get("n_val")}
            run.write_unit(record, merged)
        if not scored:
            warnings.warn(f"--ensemble {'+'.join(members)}: no fold where all of its models finished in "
                          f"{run.path}; run them first (--model {','.join(members)})", stacklevel=2)
            continue
        made.append(name)
    if made:
        run.write_metrics_table()
    return made
