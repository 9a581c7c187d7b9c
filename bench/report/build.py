"""``bench report RUN``: RUN/report/report.md with its PNG figures beside it, and report.json with the numbers.

Every number is recomputed from the run's stored predictions (and the unit files' timings and histories), so
the report can be regenerated at any time and never disagrees with predictions/.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.errors import ConfigError
from bench.core.files import atomic_write_text, dump_json
from bench.report import audit, confidence, figures, tables
from bench.report.data import Group, RunData, load_run, probabilities, slug
from bench.results import stats


@dataclass
class ReportOptions:
    """What ``bench report`` draws; the defaults are the command line's."""

    per_fold: bool = False
    threshold: float = confidence.DEFAULT_THRESHOLD
    bins: int = confidence.DEFAULT_BINS
    n_errors: int = 18
    n_samples: int = 8
    n_pairs: int = 10
    models: list[str] | None = None
    data_dir: str | None = None
    images: bool = True
    out: Path | None = None


# ---------------------------------------------------------------------- the writer
class _Out:
    """The report folder: unique, deterministic figure names and markdown links relative to report.md."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.used: set[str] = set()
        folder.mkdir(parents=True, exist_ok=True)
        # Remove the figures an earlier report listed (only those: --out may point at a folder with other files).
        try:
            earlier = json.loads((folder / "report.json").read_text()).get("figures", [])
        except (OSError, ValueError, AttributeError):
            earlier = []
        for name in earlier:
            if isinstance(name, str) and Path(name).name == name and name.endswith(".png"):
                (folder / name).unlink(missing_ok=True)

    def figure(self, *parts: str) -> Path:
        stem = slug(*parts)
        name, n = f"{stem}.png", 2
        while name in self.used:  # two names that slug alike ("a+b", "a-b") still get their own file
            name, n = f"{stem}-{n}.png", n + 1
        self.used.add(name)
        return self.folder / name

    @staticmethod
    def link(path: Path, alt: str) -> str:
        return f"![{alt}]({path.name})"


def build_report(run_path: str | Path, options: ReportOptions | None = None) -> Path:
    """Write the report of one run folder; returns the path of report.md."""
    opts = options or ReportOptions()
    rd = load_run(run_path, opts.models)
    out = _Out(opts.out or rd.run.path / "report")
    images = _images(rd, opts)
    show_variant = any(g.variant for g in rd.groups)
    data: dict[str, Any] = {"run_id": rd.manifest.get("run_id", rd.run.path.name), "classes": rd.classes,
                            "threshold": opts.threshold, "bins": opts.bins, "groups": []}
    md: list[str] = _header(rd)

    summary = [tables.summary_row(g) for g in rd.groups]
    data["summary"] = summary
    md += ["## Summary", "", tables.summary_markdown(summary, show_variant), "",
           "Accuracy (pooled) counts every test prediction of every fold once. The 95% CI is a Student t "
           "interval over folds (t), or for a single split a percentile bootstrap over the test samples "
           f"({stats.BOOTSTRAP_RESAMPLES} resamples, seed {stats.BOOTSTRAP_SEED}).", ""]

    md += _cost_section(rd, summary, out)
    if rd.has_variants:
        md += _memory_section(rd, out, data)
    md += _overfitting_section(rd, out, data, show_variant)

    conf_rows = []
    per_group = []
    for g in rd.groups:
        conf, correct = confidence.confidence_and_correct(g.predictions, rd.classes)
        bins = confidence.reliability(conf, correct, opts.bins)
        row = {"model": g.model, "variant": g.variant, "testset": g.testset,
               **confidence.confidence_stats(conf, correct, opts.threshold),
               "ece": confidence.expected_calibration_error(bins)}
        conf_rows.append(row)
        per_group.append((g, conf, correct, bins, row))
    md += ["## Confidence analysis", "",
           f"Confidence is the largest class probability. sd is the standard deviation over all predictions; "
           f"'conf < {opts.threshold:g}' counts the predictions below the threshold (share of all) and their "
           f"accuracy; ECE is the expected calibration error over {opts.bins} equal-width bins, "
           "sum of (bin share) × |bin accuracy − bin mean confidence|.", "",
           confidence.confidence_markdown(conf_rows, show_variant), ""]

    md += ["## Per model", ""]
    for g, conf, correct, bins, row in per_group:
        section, record = _group_section(rd, g, conf, correct, bins, row, images, opts, out)
        md += section
        data["groups"].append(record)

    if rd.missing_predictions:
        md += ["## Not in this report", "",
               "Finished units without a predictions file: " + ", ".join(rd.missing_predictions), ""]
    not_ok = sorted({f"- {u['model']} / {u['fold']}: {u['status']} — {u.get('message', '')}"
                     for u in rd.units if u.get("status") != "ok"})
    if not_ok:
        md += ["## Units not scored", "", *not_ok, ""]

    report = out.folder / "report.md"
    data["figures"] = sorted(out.used)
    atomic_write_text(out.folder / "report.json", dump_json(data))
    atomic_write_text(report, "\n".join(md).rstrip() + "\n")
    return report


# ---------------------------------------------------------------------- sections
def _header(rd: RunData) -> list[str]:
    m, cfg = rd.manifest, rd.manifest.get("config", {})
    data = rd.protocol.data_title(cfg)
    facts = m.get("data", {})
    sizes = ", ".join(f"{k}: {v.get('n_images')} images" for k, v in sorted(facts.items()) if isinstance(v, dict))
    lines = [f"# Report: {m.get('run_id', rd.run.path.name)}", "",
             f"- command: `{' '.join(m.get('command') or []) or '?'}`",
             f"- protocol: {cfg.get('protocol', '?')} — {m.get('protocol', {}).get('description', '')}",
             f"- data: {data}" + (f" ({sizes})" if sizes else ""),
             f"- classes: {', '.join(rd.classes)}",
             f"- models: {', '.join(sorted({g.model for g in rd.groups}))}",
             f"- folds: {len(m.get('folds', []))}; seed {cfg.get('seed', '?')}; "
             f"fer-bench {m.get('versions', {}).get('fer-bench', '?')}",
             "", "Generated by `bench report` from the run folder; every table is recomputed from "
             "`predictions/`, so regenerating it gives the same numbers.", ""]
    return lines


def _cost_section(rd: RunData, summary: list[dict[str, Any]], out: _Out) -> list[str]:
    rows = [{"label": r["model"] + (f" ({r['variant']})" if r["variant"] else ""), "accuracy": r["accuracy_pooled"],
             "fit_time_s": r["fit_time_s"], "predict_ms_per_image": r["predict_ms_per_image"]}
            for r in summary if r["testset"] == rd.primary_testset]
    if not any(math.isfinite(r["fit_time_s"]) or math.isfinite(r["predict_ms_per_image"]) for r in rows):
        return []
    path = figures.cost(rows, out.figure("cost"))
    return ["## Accuracy versus cost", "",
            f"Pooled accuracy on test set '{rd.primary_testset}' against the mean fit time per fold and the "
            "inference time per image (log scales; ensembles add up their members' times).", "",
            out.link(path, "accuracy versus cost"), ""]


def _memory_section(rd: RunData, out: _Out, data: dict[str, Any]) -> list[str]:
    """Each strategy on the source test set and on its target's, per target of the run (paper 002, Fig. 6)."""
    acc: dict[tuple[str, str], dict[str, float]] = {}
    for g in rd.groups:
        vals = [u["metrics"][g.testset]["accuracy"] for u in g.units]
        acc.setdefault((g.model, g.variant), {})[g.testset] = float(np.mean(vals))
    primary = rd.protocol.primary_testset
    md: list[str] = []
    data["memory_integrity"] = {}
    panels = rd.protocol.panels(rd.manifest["config"])
    for title, suffix, testset in panels:
        base = rd.protocol.variants[0].name
        rows = []
        for g in rd.groups:
            mine = g.variant == base or (g.variant.endswith(suffix) if suffix else ":" not in g.variant)
            if g.testset != testset or not mine:
                continue
            per = acc[(g.model, g.variant)]
            rows.append({"model": g.model, "variant": g.variant.removesuffix(suffix),
                         "strategy": rd.protocol.strategy(g.variant),
                         **{t: per.get(testset if t == primary else t) for t in rd.protocol.testsets}})
        if not rows:
            continue
        data["memory_integrity"][title or testset] = rows
        path = figures.memory_integrity(rows, out.figure("memory-integrity", title))
        table = [{"model": r["model"], "strategy": r["strategy"], "variant": r["variant"],
                  "source acc": tables.pct(r["source"]), "target acc": tables.pct(r["target"])} for r in rows]
        heading = "## Memory integrity" + (f": target {title}" if title else "")
        md += [heading, "",
               "Every adaptation strategy scored on the source test set (what the model forgot) and on the target "
               "test set (what it learned), mean over repeats (paper 002, Fig. 6).", "",
               out.link(path, "memory integrity"), "",
               tables.md_table(table, ["model", "strategy", "variant", "source acc", "target acc"]), ""]
    if not data["memory_integrity"]:
        del data["memory_integrity"]
    return md


def _overfitting_section(rd: RunData, out: _Out, data: dict[str, Any], show_variant: bool) -> list[str]:
    rows = tables.overfitting_rows([g for g in rd.groups if g.testset == rd.primary_testset])
    data["overfitting"] = rows
    md = ["## Overfitting gap and learning curves", ""]
    if rows:
        md += ["Training accuracy (as recorded at the best validation epoch) minus test accuracy, mean over folds "
               "(paper 003, Table 7).", "", tables.overfitting_markdown(rows, show_variant), ""]
    else:
        md += ["No unit recorded a training accuracy (classical pipelines keep no per-epoch history), so there "
               "is no gap to show.", ""]
    seen = set()
    for g in rd.groups:
        key = (g.model, g.variant)
        hist = [(u["fold"], u["history"]) for u in g.units if isinstance(u.get("history"), list) and u["history"]]
        if key in seen or not hist:
            continue
        seen.add(key)
        title = f"{g.model}" + (f" ({g.variant})" if g.variant else "") + ": learning curves"
        path = figures.learning_curves(hist, title, out.figure("learning-curves", g.model, g.variant))
        md += [f"### {title}", "", out.link(path, title), ""]
    return md


def _group_section(rd: RunData, g: Group, conf: np.ndarray, correct: np.ndarray, bins, row: dict[str, Any],
                   images: audit.Images, opts: ReportOptions, out: _Out) -> tuple[list[str], dict[str, Any]]:
    classes = rd.classes
    cm = tables.confusion(g.predictions, classes)
    pc = tables.per_class(g.predictions, classes)
    pairs = audit.confused_pairs(cm, classes, opts.n_pairs)
    errors = audit.top_errors(g.predictions, classes, opts.n_errors)
    record: dict[str, Any] = {
        "model": g.model, "variant": g.variant, "testset": g.testset, "folds": g.folds,
        "confusion_matrix": cm.tolist(), "per_class": pc.to_dict(orient="records"), "confidence": row,
        "reliability": bins.to_dict(orient="records"), "confused_pairs": pairs,
        "top_errors": [{"fold": e.fold, "index": int(e["index"]), "file": e.file, "y_true": e.y_true,
                        "y_pred": e.y_pred, "confidence": float(e.confidence)} for _, e in errors.iterrows()],
    }
    stem = (g.model, g.variant, g.testset)
    md = [f"### {g.title}", "", f"{len(g.predictions)} test predictions pooled over {len(g.units)} "
          f"fold{'s' if len(g.units) != 1 else ''} ({', '.join(g.folds)}).", "",
          "#### Confusion matrix", "",
          out.link(figures.confusion(cm, classes, f"{g.title}: confusion matrix",
                                     out.figure("confusion", *stem)), f"confusion matrix {g.title}"), "",
          tables.confusion_markdown(cm, classes), ""]
    if opts.per_fold and len(g.units) > 1:
        for u in g.units:
            fold_cm = tables.confusion(g.predictions[g.predictions.fold == u["fold"]], classes)
            path = figures.confusion(fold_cm, classes, f"{g.title}, fold {u['fold']}",
                                     out.figure("confusion", *stem, u["fold"]))
            md += [f"Fold {u['fold']}:", "", out.link(path, f"confusion matrix {g.title} fold {u['fold']}"), ""]
    md += ["#### Per-class precision, recall and F1", "", tables.per_class_markdown(pc), "",
           "#### Calibration", "",
           out.link(figures.reliability(bins, conf, correct, row["ece"], f"{g.title}: calibration",
                                        out.figure("reliability", *stem)), f"reliability {g.title}"), "",
           "#### Misclassification audit", "",
           f"{row['n_errors']} of {row['n']} predictions are wrong. Most-confused pairs:", "",
           audit.confused_pairs_markdown(pairs) if pairs else "No class was mistaken for another.", ""]
    why_not = images.mismatch(g.predictions)
    if not len(errors):
        md += ["No errors to show.", ""]
    elif why_not:
        md += [f"Thumbnails of the highest-confidence errors are not shown: {why_not}.", ""]
    else:
        caps = [f"{e.y_true} → {e.y_pred} ({e.confidence:.2f})" for _, e in errors.iterrows()]
        thumbs = [images.images[int(i)] for i in errors["index"]]
        path = figures.error_grid(thumbs, caps, f"{g.title}: highest-confidence errors (true → predicted)",
                                  out.figure("errors", *stem))
        md += [f"The {len(errors)} highest-confidence errors (true → predicted, confidence):", "",
               out.link(path, f"highest-confidence errors {g.title}"), ""]
    md += ["#### Emotion analysis", ""]
    picks = _sample_rows(g, classes, opts.n_samples)
    if not picks:
        md += ["No samples requested.", ""]
    elif why_not:
        md += [f"The emotion-analysis view needs the test images: {why_not}.", ""]
    else:
        sel = g.predictions.iloc[picks]
        path = figures.emotion_analysis([images.images[int(i)] for i in sel["index"]], probabilities(sel, classes),
                                        classes, list(sel.y_true), f"{g.title}: predicted probabilities",
                                        out.figure("emotion-analysis", *stem))
        record["emotion_analysis"] = [{"fold": r.fold, "index": int(r["index"]), "y_true": r.y_true,
                                       "y_pred": r.y_pred} for _, r in sel.iterrows()]
        md += ["Sample test images beside the predicted probability of each class (outlined: the true class; "
               "green / red: the predicted class when right / wrong), as in paper 000, Fig. 10.", "",
               out.link(path, f"emotion analysis {g.title}"), ""]
    return md, record


def _sample_rows(g: Group, classes: list[str], n: int) -> list[int]:
    """Up to ``n`` row positions: one seeded pick per true class in class order, then more in the same way."""
    if n <= 0 or g.predictions.empty:
        return []
    rng = np.random.default_rng(0)
    pools = {c: rng.permutation(np.flatnonzero((g.predictions.y_true == c).to_numpy())).tolist() for c in classes}
    picks: list[int] = []
    while len(picks) < n and any(pools.values()):
        for c in classes:
            if pools[c] and len(picks) < n:
                picks.append(int(pools[c].pop(0)))
    return picks


def _images(rd: RunData, opts: ReportOptions) -> audit.Images:
    if not opts.images:
        return audit.Images(None, reason="the report was built with --no-images")
    if opts.n_errors == 0 and opts.n_samples == 0:
        return audit.Images(None, reason="no thumbnails were requested")
    print(f"loading the dataset of {rd.run.path.name} for thumbnails ...", file=sys.stderr)
    return audit.load_images(rd.manifest, opts.data_dir)


# ---------------------------------------------------------------------- the command
def report_from_args(args: argparse.Namespace) -> int:
    if not 0 < args.threshold <= 1:
        raise ConfigError(f"--threshold {args.threshold} must lie in (0, 1]; e.g. 0.6")
    if args.bins < 1 or args.errors < 0 or args.samples < 0:
        raise ConfigError("--bins must be at least 1 and --errors / --samples at least 0")
    models = [m.strip() for m in args.model.split(",") if m.strip()] if args.model else None
    opts = ReportOptions(per_fold=args.per_fold, threshold=args.threshold, bins=args.bins, n_errors=args.errors,
                         n_samples=args.samples, models=models, data_dir=args.data_dir,
                         images=not args.no_images, out=Path(args.out) if args.out else None)
    path = build_report(args.run, opts)
    print(f"wrote {path} with {path.read_text().count('![')} figures beside it")
    return 0
