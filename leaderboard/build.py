"""The leaderboard, regenerated from run folders (never typed): one table per (protocol, data)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tabulate import tabulate

from bench.core.errors import BenchError
from bench.results import stats
from bench.results.folder import RunFolder
from protocols import PROTOCOLS, Protocol

START, END = "<!-- leaderboard:start -->", "<!-- leaderboard:end -->"
DEFAULT_ROOTS = ("results",)
# How a test set is abbreviated in the variants layout's column heads ("zero-shot src/tgt").
_SHORT = {"source": "src", "target": "tgt"}

# One run as the tables see it: its folder, manifest and metrics frame.
Run = tuple[RunFolder, dict[str, Any], pd.DataFrame]


# ---------------------------------------------------------------------- discovery
def discover_runs(paths: list[str] | None) -> list[RunFolder]:
    roots = [Path(p) for p in (paths or DEFAULT_ROOTS)]
    found: dict[Path, RunFolder] = {}
    for root in roots:
        if (root / "manifest.json").exists():
            found[root.resolve()] = RunFolder(root)
        elif root.is_dir():
            for m in sorted(root.glob("*/manifest.json")):
                found[m.parent.resolve()] = RunFolder(m.parent)
        elif paths:
            raise BenchError(f"{root} is neither a run folder nor a folder of runs; pass a folder holding manifest.json")
    return sorted(found.values(), key=lambda r: r.path.name)


def protocol_of(manifest: dict[str, Any]) -> type[Protocol]:
    return PROTOCOLS.get(manifest["config"]["protocol"])


def _data_title(manifest: dict[str, Any]) -> str:
    return protocol_of(manifest).data_title(manifest["config"])


def _leakage(run: RunFolder) -> dict[str, tuple[int, int]]:
    """Per fold: (shared subjects, duplicate images) between train/val and its test sets."""
    path = run.path / "leakage.json"
    if not path.exists():
        return {}
    report = json.loads(path.read_text())
    out: dict[str, tuple[int, int]] = {}
    for fold_id, per_test in report.get("folds", {}).items():
        tests = [v for v in per_test.values() if isinstance(v, dict)]
        out[fold_id] = (sum(int(v.get("shared_subjects") or 0) for v in tests),
                        sum(int(v.get("duplicate_images", 0)) for v in tests))
    return out


def _model_leakage(run: RunFolder) -> dict[str, dict[str, tuple[int, int] | None]]:
    """Per model and fold, the scored images it saw in training (bench eval's runs: models trained elsewhere);
    None where its training data is unknown."""
    path = run.path / "leakage.json"
    if not path.exists():
        return {}
    models = json.loads(path.read_text()).get("models", {})
    out: dict[str, dict[str, tuple[int, int] | None]] = {}
    for model, folds in models.items():
        out[model] = {fold_id: None if per_test["test"].get("seen_in_training") is None
                      else (0, int(per_test["test"]["seen_in_training"])) for fold_id, per_test in folds.items()}
    return out


# ---------------------------------------------------------------------- formatting helpers
def _pct(x: float) -> str:
    return "—" if x is None or not np.isfinite(x) else f"{100 * x:.1f}"


def _mean_std(values: pd.Series) -> str:
    v = values.dropna().to_numpy(dtype=float)
    if len(v) == 0:
        return "—"
    return f"{100 * v.mean():.1f} ± {100 * v.std(ddof=1):.1f}" if len(v) > 1 else f"{100 * v.mean():.1f}"


def _seconds(x: float) -> str:
    return "—" if x is None or not np.isfinite(x) else (f"{x:.2f}" if x < 10 else f"{x:.0f}")


def _leak_summary(leakage: dict[str, tuple[int, int]], fold_ids: list[str]) -> str:
    subj = sum(leakage.get(f, (0, 0))[0] for f in fold_ids)
    dup = sum(leakage.get(f, (0, 0))[1] for f in fold_ids)
    parts = ([f"identity: {subj} subj"] if subj else []) + ([f"{dup} dup img"] if dup else [])
    return "; ".join(parts) or "none"


def _backend_note(g: pd.DataFrame) -> str:
    """' (intelex)' when a backend other than scikit-learn fitted the model's units (baselines.backends)."""
    if "backend" not in g:
        return ""
    other = sorted({b for b in g.backend.dropna() if b and b != "sklearn"})
    return f" ({', '.join(other)})" if other else ""


def _md(rows: list[dict[str, Any]], columns: list[str]) -> str:
    return tabulate([[r.get(c, "") for c in columns] for r in rows], headers=columns, tablefmt="github",
                    disable_numparse=True)


# ---------------------------------------------------------------------- tables
COMPACT_COLUMNS = ["rank", "model", "accuracy", "95% CI", "macro-F1", "folds", "leakage"]


def single_table(runs: list[Run], protocol: type[Protocol], limit: int | None = None,
                 columns: list[str] | None = None) -> str:
    """One row per (run, model), ranked by mean accuracy on the primary test set; ``limit`` keeps the top rows
    and ``columns`` some columns (the README's compact tables), without the statistics note."""
    rows = []
    for run, manifest, frame in runs:
        leakage, per_model = _leakage(run), _model_leakage(run)
        ok = frame[(frame.status == "ok") & (frame.testset == protocol.primary_testset)]
        for model, g in ok.groupby("model", sort=True):
            g = g.sort_values("fold")
            trials = int(g.tuned_trials.max()) if "tuned_trials" in g and g.tuned_trials.notna().any() else 0
            mine = per_model.get(model)
            if mine is not None and any(mine.get(f) is None for f in g.fold):
                leaks = "unknown: trained elsewhere"
            else:
                leaks = _leak_summary(mine if mine is not None else leakage, list(g.fold))  # type: ignore[arg-type]
            note = (manifest.get("model_notes") or {}).get(model)
            row = {"model": _model_cell(model, g, trials, protocol.trains, note, manifest), "_model": model,
                   "_acc": g.accuracy.mean(),
                   "accuracy": _mean_std(g.accuracy),
                   "macro-F1": _mean_std(g.macro_f1), "bal. acc": _mean_std(g.balanced_accuracy),
                   "folds": str(len(g)), "fit s": _seconds(g.fit_time_s.mean()),
                   "leakage": leaks, "run": manifest["run_id"],
                   "_run": run, "_folds": g, "_pairing": (manifest.get("config_key"), manifest.get("dataset_fingerprint"))}
            row["95% CI"] = _interval(row, protocol.primary_testset)
            rows.append(row)
    rows.sort(key=lambda r: (-r["_acc"], r["_model"], r["run"]))
    for i, r in enumerate(rows, 1):
        r["rank"] = str(i)
        if columns is None or "p vs #1" in columns:
            r["p vs #1"] = "—" if i == 1 else _p_vs_top(rows[0], r, protocol.primary_testset)
    if limit is not None:
        more = f"\n\n{len(rows) - limit} more rows in the full table." if len(rows) > limit else ""
        return _md(rows[:limit], columns or COMPACT_COLUMNS) + more
    cols = ["rank", "model", "accuracy", "95% CI", "p vs #1", "macro-F1", "bal. acc", "folds", "fit s", "leakage",
            "run"]
    note = ("95% CI of the accuracy: Student t over folds (optimistic for k-fold CV, whose folds share training "
            f"data), or for a single split a percentile bootstrap over test samples ({stats.BOOTSTRAP_RESAMPLES} "
            f"resamples, seed {stats.BOOTSTRAP_SEED}). p vs #1 (two-sided, on the same folds): McNemar's exact "
            "binomial test on the discordant test samples for a single split; Nadeau & Bengio's corrected "
            "resampled t-test (variance × (1/k + n_test/n_train)) over the folds otherwise; * marks p < 0.05, "
            "— when not paired.")
    return _md(rows, cols) + "\n\n" + note


def _model_cell(model: str, rows: pd.DataFrame, trials: int = 0, trained: bool = True, note: str | None = None,
                manifest: dict[str, Any] | None = None) -> str:
    """The model's name with what sets its row apart: its training recipe and budget when not the default one,
    tuning, deep training without a validation split (fixed epochs, last weights: ``--val-size 0``), or a model
    trained elsewhere (``note``: BL, where from)."""
    marks = [f"tuned, {trials} trials"] if trials else []
    deep = rows[(rows.family == "deep") & (rows.status == "ok")]
    if trained and len(deep) and manifest is not None:
        cfg = manifest.get("config") or {}
        if cfg.get("preset", "default") != "default":
            marks.append(f"{cfg['preset']} preset")
        if cfg.get("epochs"):
            marks.append(f"{cfg['epochs']} epoch{'s' if cfg['epochs'] != 1 else ''}")
    if trained and len(deep) and (deep.n_val.fillna(0) == 0).all():
        marks.append("no val: fixed epochs")
    if note:
        marks.append(note)
    return model + _backend_note(rows) + (f" ({'; '.join(marks)})" if marks else "")


# ---------------------------------------------------------------------- statistics columns
def _test_correctness(run: RunFolder, model: str, fold_id: str, testset: str) -> pd.Series | None:
    """Per test sample (dataset index -> correct?) of one unit, from its stored predictions."""
    path = run.predictions_path(model, fold_id)
    if not path.exists():
        return None
    pred = pd.read_csv(path, usecols=["index", "testset", "y_true", "y_pred"])
    pred = pred[pred.testset == testset]
    return pd.Series((pred.y_true == pred.y_pred).to_numpy(), index=pred["index"].to_numpy())


def _interval(row: dict[str, Any], testset: str) -> str:
    g = row["_folds"]
    if len(g) >= 2:
        lo, hi = stats.t_interval(g.accuracy.to_numpy(dtype=float), bounds=stats.ACCURACY_RANGE)
    else:
        correct = _test_correctness(row["_run"], row["_model"], g.fold.iloc[0], testset)
        if correct is None or correct.empty:
            return "—"
        lo, hi = stats.bootstrap_interval(correct.to_numpy(dtype=float))
    return f"[{_pct(lo)}, {_pct(hi)}]" if np.isfinite(lo) else "—"


def _p_vs_top(top: dict[str, Any], row: dict[str, Any], testset: str) -> str:
    """p-value of 'top and row score the same' on their shared folds; '—' when they are not paired."""
    if top["_pairing"] != row["_pairing"] or None in top["_pairing"]:
        return "—"  # other splits (another seed or dataset): per-fold scores are not paired
    a, b = top["_folds"].set_index("fold"), row["_folds"].set_index("fold")
    common = sorted(set(a.index) & set(b.index))
    if len(common) >= 2:
        sizes = a.loc[common]
        n_train = float((sizes.n_train.fillna(0) + sizes.n_val.fillna(0)).mean())
        n_test = float(sizes.n_test.mean())
        if n_train <= 0 or not n_test > 0:
            return "—"
        res = stats.corrected_resampled_ttest(a.loc[common].accuracy.to_numpy(dtype=float),
                                              b.loc[common].accuracy.to_numpy(dtype=float), n_train, n_test)
        return stats.format_p(res.p_value)
    if len(common) == 1 and len(a) == 1 and len(b) == 1:
        ca = _test_correctness(top["_run"], top["_model"], common[0], testset)
        cb = _test_correctness(row["_run"], row["_model"], common[0], testset)
        if ca is None or cb is None or ca.empty or set(ca.index) != set(cb.index):
            return "—"
        return stats.format_p(stats.mcnemar(ca.sort_index().to_numpy(), cb.sort_index().to_numpy()).p_value)
    return "—"


def inflation_lines(groups: dict[tuple[str, str], list[Run]]) -> list[str]:
    """'model: random 81.2% vs subject-disjoint 63.4% (+17.8 points ...)' for models run both ways on a dataset:
    under a protocol that shares people between train and test and under a subject-disjoint one."""
    means: dict[tuple[str, str], dict[str, float]] = {}
    roles: dict[str, str] = {}
    for (name, data), runs in groups.items():
        protocol = PROTOCOLS.get(name)
        if protocol.inflation_role is None:
            continue
        roles[name] = protocol.inflation_role
        ok = pd.concat([f[(f.status == "ok") & (f.testset == protocol.primary_testset)] for _r, _m, f in runs])
        for model, acc in ok.groupby("model", sort=True).accuracy.mean().items():
            means.setdefault((data, model), {})[name] = float(acc)
    leaky = sorted((n for n, r in roles.items() if r == "leaky"), key=lambda n: PROTOCOLS.get(n).rank, reverse=True)
    honest = [n for n, r in roles.items() if r == "subject-disjoint"]
    lines = []
    for (data, model), per in sorted(means.items()):
        for fair in honest:
            if fair not in per:
                continue
            for name in leaky:
                if name not in per:
                    continue
                d = 100 * (per[name] - per[fair])
                why = " from identity leakage" if d > 0 else ": no inflation from identity leakage"
                lines.append(f"- {data}: {model}: {name} {_pct(per[name])}% vs subject-disjoint "
                             f"{_pct(per[fair])}% ({d:+.1f} points{why})")
    return lines


def _variant_means(frame: pd.DataFrame) -> dict[tuple[str, str, str], float]:
    """(model, variant, testset) -> mean accuracy over repeats (only full-target-data variants)."""
    ok = frame[frame.status == "ok"]
    return {k: v for k, v in ok.groupby(["model", "variant", "testset"]).accuracy.mean().items()}


def variant_tables(runs: list[Run], protocol: type[Protocol]) -> str:
    """One column per fold variant with every test set's accuracy, ranked on the primary test set; and the
    memory-integrity table: each variant against the first (baseline) variant on every test set. A run with
    several targets gets these per target, then the mean over its targets."""
    panels = protocol.panels(runs[0][1]["config"])
    if len(panels) == 1:
        dropped = next(iter((runs[0][1].get("left_out") or {}).values()), None)
        note = (f"Target scored on the classes it shares with the source; left out: {', '.join(dropped)}.\n\n"
                if dropped else "")
        return note + _variant_panel(runs, protocol, *panels[0][1:])
    left_out = runs[0][1].get("left_out") or {}
    parts = []
    for title, suffix, testset in panels:
        dropped = left_out.get(title)
        note = (f" (scored on the classes it shares with the source; left out: {', '.join(dropped)})"
                if dropped else "")
        parts += [f"#### target {title}{note}\n", _variant_panel(runs, protocol, suffix, testset), ""]
    parts.append(_mean_over_targets(runs, protocol, panels))
    return "\n".join(parts)


def _variant_panel(runs: list[Run], protocol: type[Protocol], suffix: str, target: str) -> str:
    """The tables of one target: its fold variants carry ``suffix`` (the shared baseline none) and it is scored on
    test set ``target``; columns keep the protocol's generic names."""
    names = protocol.testsets
    primary = protocol.primary_testset
    actual = {t: target if t == primary else t for t in names}  # generic test-set name -> this panel's
    short = "/".join(_SHORT.get(t, t) for t in names)
    base = protocol.variants[0]
    all_variants = {k[1] for _r, _m, f in runs for k in _variant_means(f)}
    mine = {v.removesuffix(suffix) for v in all_variants if v == base.name or (suffix and v.endswith(suffix))
            or (not suffix and ":" not in v)}
    known = [v.name for v in protocol.variants if v.name in mine]
    # Target-fraction variants (fusion@0.5): by fraction, then in the protocol's order, as the full-data ones.
    extra = sorted(mine - set(known), key=lambda v: (protocol.variant_fraction(v), protocol.variant_rank(v), v))

    def real(v: str) -> str:
        return v if v == base.name else v + suffix

    rows, mem_rows = [], []
    for _run, manifest, frame in runs:
        means = _variant_means(frame)
        for model in sorted({k[0] for k in means}):
            note = _backend_note(frame[frame.model == model])
            row: dict[str, Any] = {"model": _model_cell(model, frame[frame.model == model], manifest=manifest),
                                   "run": manifest["run_id"]}
            best = -1.0
            for v in known + extra:
                acc = [means.get((model, real(v), actual[t])) for t in names]
                main = means.get((model, real(v), target))
                row[f"{v} {short}"] = "—" if main is None else " / ".join(_pct(a) for a in acc)
                best = max(best, main if main is not None else -1.0)
            row["_best"] = best
            rows.append(row)
            baseline = {t: means.get((model, base.name, actual[t])) for t in names}
            for v in known + extra:
                if means.get((model, real(v), target)) is None:
                    continue
                mem: dict[str, Any] = {"model": model + note, "strategy": protocol.strategy(v), "variant": v}
                for t in names:
                    a, b = means.get((model, real(v), actual[t])), baseline[t]
                    missing = b is None or (a is None and t != primary)
                    mem[f"{t} acc"] = _pct(a)
                    mem[f"Δ {t} vs {base.strategy}"] = "—" if missing else f"{100 * (a - b):+.1f}"
                mem["run"] = manifest["run_id"]
                mem_rows.append(mem)
    cols = ["rank", "model"] + [f"{v} {short}" for v in known + extra] + ["run"]
    rows.sort(key=lambda r: (-r["_best"], r["model"]))
    for i, r in enumerate(rows, 1):
        r["rank"] = str(i)
    sets = " / ".join(f"the {t} test set" for t in names)
    parts = [f"Accuracy (%) on {sets}, per training variant; ranked by the best {primary} accuracy.\n",
             _md(rows, cols),
             f"\nMemory integrity (paper 002, Fig. 6): every strategy scored on {' and '.join(_both(names))}; "
             f"Δ is the change against {base.meaning} ({base.strategy}).\n",
             _md(mem_rows, ["model", "strategy", "variant"]
                 + [c for t in names for c in (f"{t} acc", f"Δ {t} vs {base.strategy}")] + ["run"])]
    return "\n".join(parts)


def _mean_over_targets(runs: list[Run], protocol: type[Protocol], panels: list[tuple[str, str, str]]) -> str:
    """Per model and variant, the mean over the targets of the source and target accuracies (paper 002, Fig. 6)."""
    base = protocol.variants[0].name
    rows = []
    columns: list[str] = []
    for _run, manifest, frame in runs:
        means = _variant_means(frame)
        for model in sorted({k[0] for k in means}):
            row: dict[str, Any] = {"model": model, "run": manifest["run_id"]}
            variants = sorted({k[1].split(":", 1)[0] for k in means if k[0] == model},
                              key=lambda v: (protocol.variant_rank(v), v))
            best = -1.0
            for v in variants:
                src, tgt = [], []
                for _title, suffix, testset in panels:
                    name = v if v == base else v + suffix
                    s_acc, t_acc = means.get((model, name, "source")), means.get((model, name, testset))
                    if t_acc is not None:
                        tgt.append(t_acc)
                        src.append(s_acc)
                if len(tgt) == len(panels):
                    mean_t = float(np.mean(tgt))
                    row[f"{v} src/tgt"] = f"{_pct(float(np.mean(src)))} / {_pct(mean_t)}"
                    best = max(best, mean_t)
                    if f"{v} src/tgt" not in columns:
                        columns.append(f"{v} src/tgt")
            row["_best"] = best
            rows.append(row)
    rows.sort(key=lambda r: (-r["_best"], r["model"]))
    for i, r in enumerate(rows, 1):
        r["rank"] = str(i)
    columns.sort(key=lambda c: (protocol.variant_rank(c.split(" ")[0]), c))
    return (f"#### mean over the {len(panels)} targets\n\nAccuracy (%) on the source test set / the target test "
            f"sets, averaged over the targets (a variant counts where every target has it).\n\n"
            + _md(rows, ["rank", "model", *columns, "run"]))


def _both(testsets: tuple[str, ...]) -> list[str]:
    return ["both test sets"] if len(testsets) == 2 else [f"the {t} test set" for t in testsets]


def _not_ok(runs) -> str:
    lines = []
    for _run, manifest, frame in runs:
        bad = frame[frame.status != "ok"].drop_duplicates(["model", "status", "message"])
        for _, r in bad.iterrows():
            lines.append(f"- {r.model} ({manifest['run_id']}): {r.status} — {r.message}")
    return ("\nUnits not scored:\n" + "\n".join(sorted(set(lines))) + "\n") if lines else ""


def load_runs(run_folders: list[RunFolder]) -> list[Run]:
    """The runs whose manifests the tables can read; a damaged one is left out with a warning naming it, so
    that one folder does not take the others' tables down with it."""
    runs = []
    for run in run_folders:
        try:
            manifest = run.read_manifest()
            _data_title(manifest)
            if not isinstance(manifest.get("run_id"), str) or "description" not in manifest.get("protocol", {}):
                raise KeyError("run_id or protocol.description")
        except (BenchError, KeyError, TypeError) as exc:
            why = str(exc) if isinstance(exc, BenchError) else f"its manifest lacks {exc}"
            warnings.warn(f"skipped run folder {run.path}: {why}", stacklevel=2)
            continue
        runs.append((run, manifest, run.metrics_frame()))
    return runs


def render(run_folders: list[RunFolder]) -> str:
    """The whole leaderboard markdown for these runs (deterministic: same folders, same bytes)."""
    return render_runs(load_runs(run_folders))


def render_runs(loaded: list[Run]) -> str:
    groups: dict[tuple[str, str], list[Run]] = {}
    # One table per protocol, data and split: runs on the same data split another way (a random and a
    # subject-disjoint target split) are other experiments, never ranked in one table.
    sections: dict[tuple[str, str, str], list[Run]] = {}
    # By run id: runs sharing a section (a cnn and a classical run of one experiment) list their rows in that order.
    for run, manifest, frame in sorted(loaded, key=lambda r: str(r[1]["run_id"])):
        key = (manifest["config"]["protocol"], _data_title(manifest))
        groups.setdefault(key, []).append((run, manifest, frame))
        sections.setdefault((*key, manifest["protocol"]["description"]), []).append((run, manifest, frame))
    out = []
    for (name, data, desc), runs in sorted(sections.items(), key=lambda kv: (PROTOCOLS.get(kv[0][0]).rank,
                                                                            *kv[0][1:])):
        protocol = PROTOCOLS.get(name)
        out.append(f"### {name}: {data}\n\n_{desc}_\n")
        out.append(variant_tables(runs, protocol) if protocol.layout == "variants" else single_table(runs, protocol))
        out.append(_not_ok(runs))
    lines = inflation_lines(groups)
    if lines:
        out.append("Protocol inflation: the same model on the same dataset, mean test accuracy over folds under a "
                   "protocol that shares people between train and test vs a subject-disjoint one.\n")
        out.append("\n".join(lines) + "\n")
    return "\n".join(out).rstrip() + "\n"


def run_summary_markdown(run: RunFolder) -> str:
    return render([run])
