"""``bench report``: every figure exists as a PNG, and every table agrees with the stored predictions."""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures_runs import fabricate_cross_run, fabricate_run
from PIL import Image
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from bench.report.build import ReportOptions, build_report, report_from_args
from bench.report.cli import add_report_arguments
from bench.results.folder import RunFolder

LAB = "synth-lab:subjects=12,n=240"


# ---------------------------------------------------------------------- markdown helpers
def section(md: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same or a higher level."""
    lines = md.splitlines()
    start = lines.index(heading)
    level = len(heading) - len(heading.lstrip("#"))
    out = []
    for ln in lines[start + 1:]:
        if ln.startswith("#") and len(ln) - len(ln.lstrip("#")) <= level:
            break
        out.append(ln)
    return "\n".join(out)


def tables(text: str) -> list[list[dict[str, str]]]:
    found, block = [], []
    for ln in [*text.splitlines(), ""]:
        if ln.startswith("|"):
            block.append([c.strip() for c in ln.strip().strip("|").split("|")])
        elif block:
            header, rows = block[0], block[2:]
            found.append([dict(zip(header, r)) for r in rows])
            block = []
    return found


def images_of(md: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)


def pooled_predictions(run: Path, model: str) -> pd.DataFrame:
    files = sorted((run / "predictions" / model).glob("*.csv.gz"))
    return pd.concat([pd.read_csv(f) for f in files], ignore_index=True)


# ---------------------------------------------------------------------- the run under test
@pytest.fixture(scope="module")
def lab_run(tmp_path_factory) -> tuple[Path, Path]:
    """A 2-fold run on real synthetic images: a classical model and a deep one with learning curves."""
    from bench.data import catalog as datasets

    root = tmp_path_factory.mktemp("runs")
    ds = datasets.load(LAB)
    run = fabricate_run(root, "kfold-lab", protocol="kfold", dataset=LAB, ds=ds, models={"hog-svm": 2.0, "cnn-x": 1.2},
                        deep=("cnn-x",), n_folds=2, n_test=60)
    report = build_report(run, ReportOptions(n_errors=8, n_samples=4))
    return run, report


def test_every_figure_exists_is_a_png_and_is_referenced(lab_run):
    run, report = lab_run
    md = report.read_text()
    linked = images_of(md)
    assert linked, "the report has no figures"
    assert len(linked) == len(set(linked))
    for name in linked:
        path = report.parent / name
        assert path.is_file(), f"{name} is linked but missing"
        with Image.open(path) as im:
            assert im.format == "PNG"
            im.verify()
    assert sorted(p.name for p in report.parent.glob("*.png")) == sorted(linked)  # nothing stale or unlinked
    for stem in ("cost", "learning-curves-cnn-x", "confusion-hog-svm-test", "reliability-cnn-x-test", "errors-hog-svm-test", "emotion-analysis-cnn-x-test"):
        assert f"{stem}.png" in linked


@pytest.mark.parametrize("model", ["hog-svm", "cnn-x"])
def test_confusion_and_per_class_tables_match_the_predictions(lab_run, model):
    run, report = lab_run
    md = report.read_text()
    classes = RunFolder(run).read_manifest()["classes"]
    pred = pooled_predictions(run, model)
    body = section(md, f"### {model}, test set 'test'")

    cm = confusion_matrix(pred.y_true, pred.y_pred, labels=classes)
    shown = tables(section(body, "#### Confusion matrix"))[0]
    assert [[int(r[c]) for c in classes] for r in shown] == cm.tolist()
    assert [r["true \\ predicted"] for r in shown] == classes

    p, r, f, s = precision_recall_fscore_support(pred.y_true, pred.y_pred, labels=classes, zero_division=0)
    rows = {row["class"]: row for row in tables(section(body, "#### Per-class precision, recall and F1"))[0]}
    for i, c in enumerate(classes):
        assert rows[c]["precision"] == f"{p[i]:.3f}"
        assert rows[c]["recall"] == f"{r[i]:.3f}"
        assert rows[c]["F1"] == f"{f[i]:.3f}"
        assert int(rows[c]["support"]) == s[i]
    present = s > 0
    assert rows["macro avg"]["F1"] == f"{f[present].mean():.3f}"
    assert rows["weighted avg"]["recall"] == f"{np.average(r[present], weights=s[present]):.3f}"

    # Pooled accuracy in the summary, and the count of errors in the audit.
    summary = {row["model"]: row for row in tables(section(md, "## Summary"))[0]}
    assert summary[model]["accuracy (pooled)"] == f"{100 * (pred.y_true == pred.y_pred).mean():.1f}"
    assert f"{int((pred.y_true != pred.y_pred).sum())} of {len(pred)} predictions are wrong" in body


@pytest.mark.parametrize("model", ["hog-svm", "cnn-x"])
def test_confidence_table_matches_the_predictions(lab_run, model):
    run, report = lab_run
    md = report.read_text()
    classes = RunFolder(run).read_manifest()["classes"]
    pred = pooled_predictions(run, model)
    conf = pred[[f"p_{c}" for c in classes]].max(axis=1).to_numpy()
    ok = (pred.y_true == pred.y_pred).to_numpy()
    row = {r["model"]: r for r in tables(section(md, "## Confidence analysis"))[0]}[model]
    assert row["mean conf"] == f"{conf.mean():.3f}"
    assert row["mean conf (correct)"] == f"{conf[ok].mean():.3f}"
    assert row["mean conf (incorrect)"] == f"{conf[~ok].mean():.3f}"
    assert row["sd conf"] == f"{conf.std():.3f}"
    low = conf < 0.6
    assert row["conf < 0.6"] == f"{low.sum()} ({100 * low.mean():.1f}%)"
    assert row["accuracy of conf < 0.6"] == f"{100 * ok[low].mean():.1f}"
    # ECE over 15 equal-width bins (lo, hi], written out the slow way.
    edges = np.linspace(0, 1, 16)
    ece = 0.0
    for b in range(15):
        inside = (conf > edges[b]) & (conf <= edges[b + 1]) if b else (conf <= edges[1])
        if inside.any():
            ece += inside.sum() / len(conf) * abs(ok[inside].mean() - conf[inside].mean())
    assert row["ECE"] == f"{ece:.3f}"


def test_overfitting_gap_and_report_json(lab_run):
    run, report = lab_run
    md = report.read_text()
    units = [u for u in RunFolder(run).read_units() if u["model"] == "cnn-x"]
    train = np.mean([u["train_accuracy"] for u in units])
    test = np.mean([u["metrics"]["test"]["accuracy"] for u in units])
    row = tables(section(md, "## Overfitting gap and learning curves"))[0][0]
    assert row["model"] == "cnn-x"  # the classical model recorded no training accuracy
    assert row["gap (points)"] == f"{100 * (train - test):+.1f}"
    data = json.loads((report.parent / "report.json").read_text())
    group = next(g for g in data["groups"] if g["model"] == "hog-svm")
    pred = pooled_predictions(run, "hog-svm")
    assert group["confusion_matrix"] == confusion_matrix(pred.y_true, pred.y_pred, labels=data["classes"]).tolist()
    errors = group["top_errors"]
    assert len(errors) == 8 and all(e["y_true"] != e["y_pred"] for e in errors)
    assert [e["confidence"] for e in errors] == sorted((e["confidence"] for e in errors), reverse=True)


def test_report_is_deterministic(tmp_path):
    from bench.data import catalog as datasets

    run = fabricate_run(tmp_path, "random-lab", dataset=LAB, ds=datasets.load(LAB), models={"m": 1.5}, n_test=40)
    first = build_report(run, ReportOptions(n_errors=4, n_samples=2))
    again = build_report(run, ReportOptions(n_errors=4, n_samples=2, out=tmp_path / "again"))
    assert again.read_text() == first.read_text()
    assert {p.name for p in first.parent.glob("*.png")} >= {"errors-m-test.png", "emotion-analysis-m-test.png"}
    for png in sorted(first.parent.glob("*.png")):
        assert (tmp_path / "again" / png.name).read_bytes() == png.read_bytes(), png.name


def test_missing_dataset_is_said_not_fatal(tmp_path):
    run = fabricate_run(tmp_path, "random-gone", dataset="no-such-dataset", models={"m": 1.0}, n_test=40)
    md = build_report(run).read_text()
    assert "Thumbnails of the highest-confidence errors are not shown: the dataset could not be loaded" in md
    assert "no-such-dataset" in md
    assert all((run / "report" / name).is_file() for name in images_of(md))


def test_rebuilding_removes_only_its_own_stale_figures(tmp_path):
    run = fabricate_run(tmp_path, "kfold-small", models={"m": 1.0}, n_folds=2, n_test=20,
                        classes=("happy", "sad", "neutral"))
    build_report(run, ReportOptions(per_fold=True, images=False))
    folder = run / "report"
    assert (folder / "confusion-m-test-fold-1.png").exists()
    (folder / "keep.png").write_bytes(b"not ours")
    md = build_report(run, ReportOptions(images=False)).read_text()
    assert not (folder / "confusion-m-test-fold-1.png").exists()
    assert (folder / "keep.png").read_bytes() == b"not ours"
    assert sorted(p.name for p in folder.glob("*.png") if p.name != "keep.png") == sorted(images_of(md))


def test_cross_run_has_the_memory_integrity_chart(tmp_path):
    run = fabricate_cross_run(tmp_path, variants=("zero-shot", "fusion"))
    md = build_report(run, ReportOptions(images=False)).read_text()
    assert "memory-integrity.png" in images_of(md)
    units = {u["variant"]: u for u in RunFolder(run).read_units()}
    rows = {r["strategy"]: r for r in tables(section(md, "## Memory integrity"))[0]}
    assert list(rows) == ["BL", "FU"]
    for variant, strategy in (("zero-shot", "BL"), ("fusion", "FU")):
        for testset in ("source", "target"):
            assert rows[strategy][f"{testset} acc"] == f"{100 * units[variant]['metrics'][testset]['accuracy']:.1f}"
    assert "### model-a, zero-shot, test set 'target'" in md  # strategies are never pooled together


def test_cli_entry_points(tmp_path, capsys):
    run = fabricate_run(tmp_path, "random-cli", models={"m": 1.0}, n_test=30)
    parser = argparse.ArgumentParser()
    add_report_arguments(parser)
    args = parser.parse_args([str(run), "--no-images", "--threshold", "0.5", "--bins", "10", "--model", "m"])
    assert report_from_args(args) == 0
    assert "report.md" in capsys.readouterr().out
    md = (run / "report" / "report.md").read_text()
    assert "conf < 0.5" in md and "over 10 equal-width bins" in md
    from bench.core.errors import BenchError

    with pytest.raises(BenchError, match="no model"):
        report_from_args(parser.parse_args([str(run), "--model", "nope"]))
    with pytest.raises(BenchError, match="not a run folder"):
        report_from_args(parser.parse_args([str(tmp_path / "missing")]))
    with pytest.raises(BenchError, match="threshold"):
        report_from_args(parser.parse_args([str(run), "--threshold", "1.5"]))


def test_report_of_a_real_engine_run(tmp_path):
    from bench.cli import main

    assert main(["run", "--protocol", "random", "--dataset", LAB, "--model", "hog-svm,lbp-knn", "--out",
                 str(tmp_path), "--no-progress", "--ensemble", "none"]) == 0
    run = next(p for p in tmp_path.iterdir() if (p / "manifest.json").exists())
    report = build_report(run, ReportOptions(n_errors=6, n_samples=4))
    md = report.read_text()
    for name in images_of(md):
        with Image.open(report.parent / name) as im:
            assert im.format == "PNG"
    assert "errors-hog-svm-test.png" in images_of(md)  # the images were regenerated from the manifest
    for model in ("hog-svm", "lbp-knn"):
        unit = RunFolder(run).read_units()
        unit = next(u for u in unit if u["model"] == model)
        pred = RunFolder(run).read_predictions(model, unit["fold"])
        shown = tables(section(section(md, f"### {model}, test set 'test'"), "#### Confusion matrix"))[0]
        classes = unit["metrics"]["test"]["labels"]
        assert [[int(r[c]) for c in classes] for r in shown] == unit["metrics"]["test"]["confusion_matrix"]
        assert unit["metrics"]["test"]["confusion_matrix"] == confusion_matrix(pred.y_true, pred.y_pred,
                                                                                labels=classes).tolist()
        assert math.isclose(unit["metrics"]["test"]["accuracy"], (pred.y_true == pred.y_pred).mean())


# ---------------------------------------------------------------------- the library calls behind the tables
CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def _random_predictions(seed: int, n: int = 300, absent: tuple[int, ...] = (1,)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = np.ones(len(CLASSES))
    p[list(absent)] = 0
    y_true = rng.choice(len(CLASSES), n, p=p / p.sum())
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.choice(len(CLASSES), n))
    return pd.DataFrame({"y_true": np.array(CLASSES)[y_true], "y_pred": np.array(CLASSES)[y_pred]})


@pytest.mark.parametrize("seed", range(5))
def test_per_class_table_is_the_classification_report(seed):
    from bench.report.tables import per_class

    pred = _random_predictions(seed)
    table = per_class(pred, CLASSES).set_index("class")
    p, r, f, s = precision_recall_fscore_support(pred.y_true, pred.y_pred, labels=CLASSES, zero_division=0)
    assert np.array_equal(table.loc[CLASSES, ["precision", "recall", "f1"]].to_numpy(), np.c_[p, r, f])
    assert table.support.tolist() == [*s.tolist(), len(pred), len(pred)]
    assert table.loc["disgust", ["precision", "recall", "f1"]].tolist() == [0, 0, 0]  # absent but predicted
    present = s > 0
    # Averages over the classes with test samples only; the weighted one is np.average (normalised once),
    # which can differ from summing precomputed weight shares in the last bit.
    assert table.loc["macro avg", "f1"] == f[present].mean()
    assert table.loc["weighted avg", "recall"] == pytest.approx(np.average(r[present], weights=s[present]),
                                                                rel=1e-15)
    accuracy = (pred.y_true == pred.y_pred).mean()
    assert table.loc["weighted avg", "recall"] == pytest.approx(accuracy, rel=1e-15)


def test_normalised_confusion_is_sklearns():
    from bench.report.tables import confusion, row_normalised

    pred = _random_predictions(0)
    cm = confusion(pred, CLASSES)
    expected = confusion_matrix(pred.y_true, pred.y_pred, labels=CLASSES, normalize="true")
    assert np.array_equal(confusion(pred, CLASSES, normalize="true"), expected)
    assert np.array_equal(row_normalised(cm), expected)
    assert row_normalised(cm)[1].tolist() == [0.0] * len(CLASSES)  # no true "disgust": the row stays 0
    totals = cm.sum(axis=1, keepdims=True)
    assert np.array_equal(row_normalised(cm), np.divide(cm, totals, out=np.zeros(cm.shape), where=totals > 0))


def _hand_reliability(conf: np.ndarray, correct: np.ndarray, n_bins: int) -> pd.DataFrame:
    """The loop calibration_curve replaced: (lo, hi] bins, 0 in the first, numpy means."""
    edges = np.linspace(0, 1, n_bins + 1)
    idx = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        sel = idx == b
        rows.append({"lo": edges[b], "hi": edges[b + 1], "count": int(sel.sum()),
                     "confidence": conf[sel].mean() if sel.any() else math.nan,
                     "accuracy": correct[sel].mean() if sel.any() else math.nan})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("n_bins", [5, 10, 15])
def test_reliability_bins_are_calibration_curves(n_bins):
    from sklearn.calibration import calibration_curve

    from bench.report.confidence import expected_calibration_error, reliability

    rng = np.random.default_rng(n_bins)
    conf = np.concatenate([rng.beta(5, 2, 2000), np.linspace(0, 1, n_bins + 1), [0.0, 1.0]])  # edges too
    correct = rng.random(len(conf)) < conf
    bins, hand = reliability(conf, correct, n_bins), _hand_reliability(conf, correct, n_bins)
    assert list(bins.columns) == ["lo", "hi", "count", "confidence", "accuracy"]
    assert bins[["lo", "hi", "count", "accuracy"]].equals(hand[["lo", "hi", "count", "accuracy"]])
    # calibration_curve sums each bin in sample order (np.bincount), numpy's mean pairwise: last bits differ.
    assert np.allclose(bins.confidence, hand.confidence, rtol=1e-14, atol=0, equal_nan=True)
    used = bins["count"] > 0
    acc, mean_conf = calibration_curve(correct, conf, n_bins=n_bins, strategy="uniform")
    assert np.array_equal(bins.accuracy[used], acc) and np.array_equal(bins.confidence[used], mean_conf)
    ece = (hand["count"] / len(conf) * (hand.accuracy - hand.confidence).abs()).sum()
    assert expected_calibration_error(bins) == pytest.approx(ece, rel=1e-13)


def test_reliability_empty_bins_empty_input_and_bad_confidences():
    from bench.report.confidence import expected_calibration_error, reliability

    bins = reliability(np.array([0.05, 0.1, 0.95, 1.0]), np.array([True, False, True, True]), 10)
    assert bins["count"].tolist() == [2, 0, 0, 0, 0, 0, 0, 0, 0, 2]  # 0.1 closes the first bin
    assert bins.accuracy.iloc[[0, 9]].tolist() == [0.5, 1.0] and bins.accuracy.iloc[1:9].isna().all()
    empty = reliability(np.zeros(0), np.zeros(0, dtype=bool), 10)
    assert empty["count"].sum() == 0 and math.isnan(expected_calibration_error(empty))
    assert reliability(np.array([0.3, 0.7]), np.array([False, False]), 5).accuracy.dropna().tolist() == [0, 0]
    with pytest.raises(ValueError, match="outside"):
        reliability(np.array([0.5, 1.5]), np.array([True, False]), 10)
