"""The run engine end to end on small synthetic data: folders, resume, determinism, failures, cross variants."""

import json

import numpy as np
import pandas as pd
import pytest
from cli_helpers import fresh_process_imports

import bench.run.engine as engine
from bench.cli import main
from bench.core.models import MODELS, ModelSpec
from bench.results.folder import RunFolder

LAB = "synth-lab:subjects=12,n=240"
WILD = "synth-wild:n=600"


def _run(tmp_path, *extra):
    return main(["run", "--out", str(tmp_path), "--no-progress", "--ensemble", "none", *extra])


def _metrics(folder):
    frame = pd.read_csv(folder / "metrics.csv")
    return frame.drop(columns=["fit_time_s", "predict_ms_per_image"]).sort_values(["model", "fold", "testset"])


def test_run_writes_a_self_describing_folder(tmp_path):
    assert _run(tmp_path, "--protocol", "kfold", "--dataset", LAB, "--model", "hog-svm", "--folds", "3",
                "--name", "a") == 0
    folder = tmp_path / "a"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["config"]["protocol"] == "kfold" and manifest["models"] == ["hog-svm"]
    assert manifest["versions"]["scikit-learn"] and manifest["data"]["dataset"]["fingerprint"]
    assert len(manifest["folds"]) == 3
    units = RunFolder(folder).read_units()
    assert {u["fold"] for u in units} == {f["id"] for f in manifest["folds"]}
    for u in units:
        m = u["metrics"]["test"]
        assert 0 <= m["accuracy"] <= 1 and len(m["confusion_matrix"]) == len(manifest["classes"])
        assert set(m["per_class"]) == set(manifest["classes"])
        assert u["fit_time_s"] > 0 and u["model_size"] > 0
        preds = RunFolder(folder).read_predictions("hog-svm", u["fold"])
        assert len(preds) == m["n"]
        assert np.allclose(preds.filter(like="p_").sum(axis=1), 1, atol=1e-4)
        assert (preds.y_true == preds.y_pred).mean() == pytest.approx(m["accuracy"])
    # k-fold: every sample is tested exactly once
    tested = np.concatenate([RunFolder(folder).read_predictions("hog-svm", u["fold"])["index"] for u in units])
    assert len(tested) == len(set(tested)) == manifest["data"]["dataset"]["n_images"]
    leak = json.loads((folder / "leakage.json").read_text())
    assert leak["coverage"]["never_tested"] == 0 and leak["coverage"]["tested_more_than_once"] == 0


def test_same_seed_same_results(tmp_path):
    args = ["--protocol", "random", "--dataset", LAB, "--model", "lbp-knn,hog-lda"]
    assert _run(tmp_path, *args, "--name", "one") == 0
    assert _run(tmp_path, *args, "--name", "two") == 0
    pd.testing.assert_frame_equal(_metrics(tmp_path / "one"), _metrics(tmp_path / "two"))


def test_resume_after_interruption_skips_finished_units(tmp_path, monkeypatch):
    args = ["--protocol", "kfold", "--dataset", LAB, "--model", "hog-svm", "--folds", "4"]
    real, calls = engine.run_unit, []

    def dies_on_third(spec, fold, *a, **k):
        calls.append(fold.id)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(spec, fold, *a, **k)

    monkeypatch.setattr(engine, "run_unit", dies_on_third)
    assert _run(tmp_path, *args) == 130
    folder = next(tmp_path.iterdir())
    assert len(RunFolder(folder).read_units()) == 2  # the unit in progress is the only one lost

    calls.clear()
    monkeypatch.setattr(engine, "run_unit", lambda *a, **k: (calls.append(a[1].id), real(*a, **k))[1])
    assert _run(tmp_path, *args) == 0
    assert len(calls) == 2  # only the two unfinished folds ran again
    assert len(RunFolder(folder).read_units()) == 4


def test_a_failing_model_is_recorded_and_the_others_finish(tmp_path):
    class Broken:
        def fit(self, X, y):
            raise ValueError("boom")

    MODELS.add("broken-test-model", ModelSpec("broken-test-model", "classical", lambda seed=0: Broken(), "broken",
                                              search_space=lambda t: {}), family="classical")
    try:
        code = _run(tmp_path, "--protocol", "random", "--dataset", LAB, "--model", "broken-test-model,hog-svm")
    finally:
        del MODELS._entries["broken-test-model"]
    assert code == 1
    frame = pd.read_csv(next(tmp_path.iterdir()) / "metrics.csv")
    assert frame.set_index("model").loc["broken-test-model", "status"] == "failed"
    assert "boom" in frame.set_index("model").loc["broken-test-model", "message"]
    assert frame.set_index("model").loc["hog-svm", "status"] == "ok"


def test_changed_configuration_needs_a_new_name(tmp_path, capsys):
    assert _run(tmp_path, "--protocol", "kfold", "--dataset", LAB, "--model", "hog-svm", "--folds", "3",
                "--name", "x") == 0
    assert _run(tmp_path, "--protocol", "kfold", "--dataset", LAB, "--model", "hog-svm", "--folds", "4",
                "--name", "x") == 2
    assert "--name" in capsys.readouterr().err


def test_cross_classical_scores_every_variant_on_both_test_sets(tmp_path):
    assert _run(tmp_path, "--protocol", "cross", "--source", WILD, "--target", LAB, "--model", "hog-svm") == 0
    folder = next(tmp_path.iterdir())
    frame = pd.read_csv(folder / "metrics.csv")
    assert set(frame.variant) == {"zero-shot", "target-only", "fusion"}
    for _, g in frame.groupby("variant"):
        assert set(g.testset) == {"source", "target"}
    board = (folder / "leaderboard.md").read_text()
    for col in ("zero-shot src/tgt", "target-only src/tgt", "fusion src/tgt", "Memory integrity"):
        assert col in board


def test_label_shuffled_control_scores_at_chance(tmp_path):
    from bench.data import catalog as datasets
    from bench.run.engine import RunConfig, run_unit
    from protocols import make_protocol

    ds = datasets.load("synth-lab:subjects=12,n=480")
    rng = np.random.default_rng(0)
    shuffled = ds.subset(np.arange(len(ds)))
    shuffled.labels = rng.permutation(ds.labels)
    spec = MODELS.get("hog-svm")
    fold = next(make_protocol("kfold", folds=5, seed=0).split(ds))
    real = run_unit(spec, fold, ds, RunConfig())[0]["metrics"]["test"]["accuracy"]
    control = run_unit(spec, fold, shuffled, RunConfig())[0]["metrics"]["test"]["accuracy"]
    chance = 1 / len(ds.classes)
    assert control < chance + 0.1
    assert real > control + 0.2


def test_classical_run_never_imports_torch(tmp_path):
    # torch's import holds ~860 MB resident: a classical-only run must not pay it.
    fresh_process_imports(["run", "--out", str(tmp_path), "--no-progress", "--protocol", "kfold", "--folds", "2",
                           "--dataset", LAB, "--model", "hog-svm,lbp-knn"], {"torch"})


def test_models_receive_uint8_fold_subsets_never_float_copies(tmp_path):
    # Memory: a FER2013-size dataset is 83 MB as uint8 and 660 MB as float64; every fold must get the former.
    seen = []

    class Spy:
        def fit(self, X, y):
            seen.append(("fit", X.dtype, X.ndim, len(X)))
            self.classes_ = np.unique(y)
            return self

        def predict_proba(self, X):
            seen.append(("predict", X.dtype, X.ndim, len(X)))
            return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))

        def predict(self, X):
            return np.repeat(self.classes_[:1], len(X))

    MODELS.add("spy-test-model", ModelSpec("spy-test-model", "classical", lambda seed=0: Spy(), "spy",
                                           search_space=lambda t: {}), family="classical")
    try:
        assert _run(tmp_path, "--protocol", "kfold", "--dataset", LAB, "--model", "spy-test-model",
                    "--folds", "3") == 0
    finally:
        del MODELS._entries["spy-test-model"]
    assert {(dtype, ndim) for _, dtype, ndim, _ in seen} == {(np.dtype(np.uint8), 3)}
    fits = [n for call, _, _, n in seen if call == "fit"]
    assert len(fits) == 3 and all(150 <= n <= 170 for n in fits)  # two of three folds of 240 images each
