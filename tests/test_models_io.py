"""Models in and out (issue 13): saved model files, bench eval, bench predict and bench export.

The acceptance chain runs at tiny scale through ``bench.cli.main``: a random hold-out run of hog-svm and
cnn-003 on synth-lab keeps its fitted models under RUN/models/, each is scored on synth-wild by ``bench eval``,
run on a folder of PNGs by ``bench predict``, and cnn-003 is exported to ONNX and scored again; all of them
must agree on the same images.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
from cli_helpers import fresh_process_imports
from onnx import TensorProto, helper
from PIL import Image

from bench.cli import main
from bench.core.emotions import EMOTIONS, INDEX
from bench.core.models import MODELS
from bench.data import catalog
from bench.results.folder import RunFolder
from bench.results.metrics import align_proba, class_overlap
from bench.run.onnx_model import OnnxInput, open_onnx
from bench.run.saved_models import open_model, save_model, save_run_model
from protocols import make_protocol

LAB = "synth-lab:n=120,subjects=8"
WILD = "synth-wild:n=140"
MODELS_RUN = ("hog-svm", "cnn-003")


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """The run with its saved models, and bench eval of each (and of cnn-003's ONNX export) on synth-wild."""
    root = tmp_path_factory.mktemp("io")
    data = str(root / "data")
    out = root / "results"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FER_BENCH_DATA_DIR", data)
        mp.setenv("FER_BENCH_OFFLINE", "1")
        assert main(["run", "--protocol", "random", "--dataset", LAB, "--model", ",".join(MODELS_RUN), "--epochs", "2",
                     "--out", str(out), "--no-progress", "--device", "cpu", "--save-models"]) == 0
        (path,) = [p for p in out.iterdir() if (p / "manifest.json").exists()]
        run = RunFolder(path)
        assert [p.name for m in MODELS_RUN for p in run.model_files(m)] == ["holdout-r0.skops", "holdout-r0.pt"]
        files = {m: run.model_files(m)[0] for m in MODELS_RUN}
        for m in MODELS_RUN:
            assert main(["eval", str(files[m]), "--dataset", WILD, "--out", str(out), "--data-dir", data]) == 0
        assert main(["export", str(run.path), "--model", "cnn-003", "--format", "onnx"]) == 0
        files["onnx"] = files["cnn-003"].with_suffix(".onnx")
        assert main(["eval", str(files["onnx"]), "--dataset", WILD, "--split", "all", "--label", "cnn-003-onnx",
                     "--out", str(out), "--data-dir", data]) == 0
    wild = RunFolder(out / "zero-shot-synth-wild_n=140-all")
    return {"run": run, "files": files, "wild": wild, "out": out, "data": data, "root": root}


def _stored(run: RunFolder, model: str, fold: str) -> pd.DataFrame:
    return run.read_predictions(model, fold).sort_values("index").reset_index(drop=True)


def _p(frame: pd.DataFrame) -> np.ndarray:
    return frame[[c for c in frame if c.startswith("p_")]].to_numpy()


# ---------------------------------------------------------------------- saved files and bench eval
def test_saved_models_hold_what_the_run_trained(chain):
    run = chain["run"]
    for model, suffix in (("hog-svm", ".skops"), ("cnn-003", ".pt")):
        saved = open_model(chain["files"][model])
        assert chain["files"][model] == run.model_path(model, "holdout-r0", suffix.lstrip("."))
        assert saved.card.model == model and saved.card.image_size == (96, 96)
        assert saved.card.class_names == list(EMOTIONS) and len(saved.card.hashes()) == saved.card.trained_on["n_images"]
        # Scored again on the run's own test fold, the saved model gives the run's probabilities.
        ds = catalog.load(LAB, chain["data"])
        stored = _stored(run, model, "holdout-r0")
        proba = align_proba(saved.predict_proba(ds.images[stored["index"]]), saved.estimator.classes_, ds.classes)
        np.testing.assert_allclose(proba, _p(stored), atol=1e-5)


def test_eval_reproduces_the_run_on_its_own_test_fold(chain, capsys):
    out = chain["root"] / "again"
    assert main(["eval", str(chain["files"]["hog-svm"]), "--dataset", LAB, "--protocol", "random",
                 "--out", str(out), "--data-dir", chain["data"]]) == 0
    (path,) = list(out.iterdir())
    unit = json.loads((path / "units" / "hog-svm" / "holdout-r0.json").read_text())
    original = json.loads(chain["run"].unit_path("hog-svm", "holdout-r0").read_text())
    assert unit["metrics"]["test"]["accuracy"] == original["metrics"]["test"]["accuracy"]
    assert unit["leakage"]["seen_in_training"] == 0  # the held-out fold holds none of its training images


def test_eval_writes_a_zero_shot_run_folder(chain, capsys):
    wild = chain["wild"]
    manifest = wild.read_manifest()
    assert manifest["config"]["protocol"] == "zero-shot" and manifest["config"]["split"] == "all"
    assert sorted(manifest["models"]) == ["cnn-003", "cnn-003-onnx", "hog-svm"]
    metrics = pd.read_csv(wild.path / "metrics.csv")
    assert sorted(metrics.model) == ["cnn-003", "cnn-003-onnx", "hog-svm"] and (metrics.n_test == 140).all()
    unit = json.loads(wild.unit_path("hog-svm", "all").read_text())
    # synth-lab has contempt, synth-wild does not: the model's contempt column is dropped, and named.
    assert unit["classes_not_in_dataset"] == ["contempt"] and unit["classes_model_cannot_predict"] == []
    assert unit["resized_from"] == [48, 48] and unit["leakage"]["seen_in_training"] == 0
    frame = _stored(wild, "hog-svm", "all")
    np.testing.assert_allclose(_p(frame).sum(axis=1), 1.0, atol=1e-5)


def test_eval_names_the_classes_a_model_cannot_predict(chain, capsys):
    # A model that knows four emotions, scored on a dataset with seven.
    ds = catalog.load(LAB, chain["data"])
    keep = np.isin(ds.labels, [INDEX[c] for c in ("angry", "happy", "sad", "surprise")])
    est = MODELS.get("hog-svm").build(seed=0).fit(ds.images[keep], ds.labels[keep])
    path = save_model(est, chain["root"] / "four.skops", model_name="hog-svm-4", image_size=ds.image_size)
    capsys.readouterr()
    assert main(["eval", str(path), "--dataset", WILD, "--out", str(chain["root"] / "four"),
                 "--data-dir", chain["data"]]) == 0
    printed = capsys.readouterr().out
    assert "the model cannot predict disgust, fear, neutral" in printed
    unit = json.loads(next((chain["root"] / "four").glob("*/units/hog-svm-4/all.json")).read_text())
    assert unit["classes_model_cannot_predict"] == ["disgust", "fear", "neutral"]
    assert unit["metrics"]["test"]["per_class"]["fear"]["recall"] == 0


def test_a_model_trained_on_the_dataset_is_scored_on_its_own_fold_and_leakage_is_counted(chain, tmp_path, capsys):
    saved = open_model(chain["files"]["hog-svm"])
    ds = catalog.load(LAB, chain["data"])
    protocol = make_protocol("kfold", folds=3, seed=0)
    fold = list(protocol.split(ds))[1]
    run = RunFolder(tmp_path / "kfold-run")
    save_run_model(run, "hog-svm", fold.id, saved.estimator, ds, np.concatenate([fold.train, fold.val]),
                   protocol=protocol.config())
    path = run.model_path("hog-svm", fold.id, "skops")
    assert main(["eval", str(path), "--dataset", LAB, "--out", str(tmp_path / "a"), "--data-dir", chain["data"]]) == 0
    assert f"scoring the test set of its kfold fold '{fold.id}'" in capsys.readouterr().out
    assert [p.name for p in (tmp_path / "a").glob("*/units/hog-svm/*.json")] == [f"{fold.id}.json"]
    # Every image: the fold's training images are counted as seen, and the leaderboard says so.
    assert main(["eval", str(path), "--dataset", LAB, "--split", "all", "--out", str(tmp_path / "b"),
                 "--data-dir", chain["data"]]) == 0
    leak = json.loads(next((tmp_path / "b").glob("*/units/hog-svm/all.json")).read_text())["leakage"]
    assert leak["seen_in_training"] == len(fold.train) + len(fold.val)
    assert main(["leaderboard", str(tmp_path / "b"), "--output", str(tmp_path / "lb.md"), "--readme", ""]) == 0
    assert f"{leak['seen_in_training']} dup img" in (tmp_path / "lb.md").read_text()


def test_leaderboard_and_report_include_the_eval_runs(chain, tmp_path):
    out = tmp_path / "lb.md"
    assert main(["leaderboard", str(chain["out"]), "--output", str(out), "--readme", ""]) == 0
    text = out.read_text()
    assert "### zero-shot: synth-wild:n=140 (all images)" in text
    assert "hog-svm (BL, trained on synth-lab (random-synth-lab_n=120_subjects=8 holdout-r0))" in text
    assert "unknown: trained elsewhere" in text  # the ONNX file keeps no digests of its training images
    assert main(["report", str(chain["wild"].path)]) == 0
    assert "cnn-003-onnx" in (chain["wild"].path / "report" / "report.md").read_text()


# ---------------------------------------------------------------------- bench predict
def test_predict_agrees_with_eval_on_the_same_images(chain, tmp_path, capsys):
    ds = catalog.load(WILD, chain["data"])
    folder = tmp_path / "pngs"
    (folder / "sub").mkdir(parents=True)
    for i in range(12):
        Image.fromarray(ds.images[i]).save(folder / ("sub" if i % 2 else "") / f"img{i:02d}.png")
    (folder / "broken.png").write_bytes(b"not an image")
    for model in ("hog-svm", "cnn-003", "onnx"):
        csv = tmp_path / f"{model}.csv"
        assert main(["predict", str(chain["files"][model]), str(folder), str(tmp_path / "gone.png"),
                     "--out", str(csv)]) == 0
        assert "2 unreadable" in capsys.readouterr().err
        pred = pd.read_csv(csv, keep_default_na=False)
        bad = pred[pred.error != ""]
        assert sorted(Path(f).name for f in bad.file) == ["broken.png", "gone.png"]
        ok = pred[pred.error == ""].copy()
        ok["index"] = [int(Path(f).stem[3:]) for f in ok.file]
        ok = ok.sort_values("index")
        label = "cnn-003-onnx" if model == "onnx" else model
        stored = _stored(chain["wild"], label, "all").iloc[:12]
        # bench predict keeps the model's own label order; bench eval restricts it to synth-wild's classes.
        model_classes = [INDEX[c[2:]] for c in ok if c.startswith("p_")]
        mine = _p(ok).astype(float)
        restricted = align_proba(mine, np.asarray(model_classes), ds.classes)
        np.testing.assert_allclose(restricted, _p(stored), atol=1e-5)
        assert [EMOTIONS[ds.classes[j]] for j in restricted.argmax(1)] == stored.y_pred.tolist()
        assert ok.predicted.tolist() == [EMOTIONS[model_classes[j]] for j in mine.argmax(1)]


def test_predict_crops_faces_when_asked(chain, tmp_path, capsys):
    ds = catalog.load(LAB, chain["data"])
    for i in range(3):  # a face in a larger frame, as photos come
        frame = np.full((160, 200), 128, dtype=np.uint8)
        frame[30:126, 50:146] = ds.images[i]
        Image.fromarray(frame).save(tmp_path / f"photo{i}.png")
    assert main(["predict", str(chain["files"]["hog-svm"]), str(tmp_path), "--crop-faces",
                 "--out", str(tmp_path / "p.csv")]) == 0
    assert "face found in 3 of 3 images" in capsys.readouterr().err  # the detector's report line
    assert len(pd.read_csv(tmp_path / "p.csv")) == 3


def test_predict_refuses_when_no_image_is_readable(chain, tmp_path, capsys):
    (tmp_path / "x.png").write_bytes(b"nope")
    assert main(["predict", str(chain["files"]["hog-svm"]), str(tmp_path / "x.png")]) == 2
    assert "none of the 1 images could be read" in capsys.readouterr().err


# ---------------------------------------------------------------------- bench export
def test_export_writes_metadata_and_matches_fer_bench_to_1e4(chain):
    model = onnx.load(chain["files"]["onnx"])
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["labels"] == ",".join(EMOTIONS) and meta["input_size"] == "96x96" and meta["scale"] == "0-255"
    assert meta["channels"] == "1" and meta["net_input_size"] == "48" and meta["normalisation_mean"] == "0.5"
    assert "bilinear resize to 48x48" in meta["preprocessing"] and meta["tta"].startswith("none")
    deep = open_model(chain["files"]["cnn-003"])
    exported, _about = open_onnx(chain["files"]["onnx"])
    images = catalog.load(WILD, chain["data"]).resized((96, 96)).images[:32]
    # fer-bench's own path in float32 (a CPU with native bf16 would otherwise score under autocast).
    deep.estimator.runtime_ = replace(deep.estimator.runtime_, amp_dtype=None)
    own = deep.estimator.predict_proba(images)
    np.testing.assert_allclose(exported.predict_proba(images), own, atol=1e-4)
    np.testing.assert_allclose(exported.predict_proba(images[:1]), own[:1], atol=1e-4)  # any batch size


def test_eval_of_the_onnx_export_agrees_with_the_pt_file(chain):
    pt, ox = _stored(chain["wild"], "cnn-003", "all"), _stored(chain["wild"], "cnn-003-onnx", "all")
    assert pt.y_pred.tolist() == ox.y_pred.tolist()
    np.testing.assert_allclose(_p(pt), _p(ox), atol=1e-4)


def test_export_refuses_what_it_cannot_export(chain, capsys):
    run = str(chain["run"].path)
    assert main(["export", run, "--model", "hog-svm"]) == 2
    assert "classical pipelines are exported as .skops files" in capsys.readouterr().err
    assert main(["export", run, "--model", "lbp-knn"]) == 2
    assert "no saved model of 'lbp-knn' (its saved models: cnn-003, hog-svm)" in capsys.readouterr().err
    assert main(["export", run, "--model", "cnn-003", "--unit", "fold-07"]) == 2
    assert "its units: holdout-r0" in capsys.readouterr().err


# ---------------------------------------------------------------------- ONNX from elsewhere
def _foreign_onnx(path: Path, *, size: int = 8, k: int = 7, layout: str = "nhwc") -> np.ndarray:
    """A Keras-like graph: NHWC float input with 3 channels, a linear layer, logits out; no metadata."""
    rng = np.random.default_rng(0)
    weights = rng.normal(0, 0.05, (size * size * 3, k)).astype(np.float32)
    shape = [None, size, size, 3] if layout == "nhwc" else [None, 3, size, size]
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["x"], ["flat"], axis=1), helper.make_node("MatMul", ["flat", "w"], ["logits"])],
        "foreign", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, k])],
        [helper.make_tensor("w", TensorProto.FLOAT, weights.shape, weights.flatten())])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return weights


def test_a_foreign_onnx_model_is_fed_as_its_options_say(tmp_path):
    path = tmp_path / "keras.onnx"
    weights = _foreign_onnx(path)
    labels = "anger,disgust,fear,happiness,sadness,surprise,neutral"
    clf, about = open_onnx(path, OnnxInput.from_options(scale="imagenet", labels=labels))
    assert clf.spec.layout == "nhwc" and clf.spec.channels == 3 and clf.spec.input_size == (8, 8)
    assert about["model"] == "keras" and list(clf.classes_) == list(range(7))
    images = np.random.default_rng(1).integers(0, 256, (5, 8, 8), dtype=np.uint8)
    rgb = np.repeat(images[..., None] / 255.0, 3, axis=-1)
    x = (rgb - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    logits = x.reshape(5, -1) @ weights
    expected = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(clf.predict_proba(images), expected / expected.sum(1, keepdims=True), atol=1e-5)


# ---------------------------------------------------------------------- bad input
def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _bad_files(tmp: Path, chain) -> dict[str, list[str]]:
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    (tmp / "junk.pt").write_text("not torch")
    (tmp / "junk.skops").write_text("not a zip")
    (tmp / "junk.onnx").write_bytes(b"\x08\x01garbage")
    sio.dump(LogisticRegression(), tmp / "plain.skops")
    sio.dump({"format": "fer-bench-classical/1", "model": argparse.Namespace(a=1)}, tmp / "stranger.skops")
    model = onnx.load(chain["files"]["onnx"])
    for p in model.metadata_props:
        if p.key == "input_size":
            p.value = "64"
    onnx.save(model, tmp / "wrong-size.onnx")
    _foreign_onnx(tmp / "bare.onnx")
    return {
        "not a torch file": [str(tmp / "junk.pt")],
        "is not a skops file": [str(tmp / "junk.skops")],
        "is not a valid ONNX graph": [str(tmp / "junk.onnx")],
        "skops file but not a fer-bench model": [str(tmp / "plain.skops")],
        "types fer-bench does not trust: argparse.Namespace": [str(tmp / "stranger.skops")],
        "is 96x96 but its metadata declares 64x64": [str(tmp / "wrong-size.onnx")],
        "has 3 channel(s) but --channels says 1": [str(tmp / "bare.onnx"), "--channels", "1"],
        "'joyful', which is not an emotion": [str(tmp / "bare.onnx"), "--scale", "0-1", "--labels", "joyful,sad"],
        "does not declare its label order": [str(tmp / "bare.onnx"), "--scale", "0-1"],
        "names sad twice": [str(tmp / "bare.onnx"), "--scale", "0-1", "--labels", "sad,sadness,happy"],
        "records its own input and label order": [str(chain["files"]["hog-svm"]), "--labels", "happy,sad"],
        "already holds a row 'hog-svm' scored from another file": [str(tmp / "other.skops")],
    }


def test_bad_model_files_and_options_are_one_line_errors_and_change_nothing(chain, tmp_path, capsys):
    saved = open_model(chain["files"]["hog-svm"])
    save_model(saved.estimator, tmp_path / "other.skops", model_name="hog-svm", image_size=(96, 96))
    before = _snapshot(chain["out"])
    for expected, args in _bad_files(tmp_path, chain).items():
        rc = main(["eval", *args, "--dataset", WILD, "--split", "all", "--out", str(chain["out"]),
                   "--data-dir", chain["data"]])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and expected in err and "\n" not in err, (expected, err)
    for args in (["predict", str(tmp_path / "junk.onnx"), str(tmp_path)],
                 ["eval", str(chain["files"]["hog-svm"]), "--dataset", WILD, "--split", "test", "--out",
                  str(chain["out"]), "--data-dir", chain["data"]]):
        assert main(args) == 2 and "\n" not in capsys.readouterr().err.strip()
    assert _snapshot(chain["out"]) == before


def test_zero_shot_is_not_a_protocol_bench_run_trains(tmp_path, capsys):
    assert main(["run", "--protocol", "zero-shot", "--dataset", LAB, "--model", "hog-svm", "--out", str(tmp_path)]) == 2
    assert "use 'bench eval MODEL --dataset NAME'" in capsys.readouterr().err


def test_classical_eval_never_imports_torch_or_onnxruntime(chain, tmp_path):
    fresh_process_imports(["eval", str(chain["files"]["hog-svm"]), "--dataset", WILD, "--out", str(tmp_path),
                           "--data-dir", str(chain["data"])], {"torch", "onnxruntime"})


# ---------------------------------------------------------------------- label alignment
def test_align_proba_drops_model_classes_the_dataset_lacks_and_renormalises():
    proba = np.array([[0.5, 0.2, 0.3], [0.1, 0.1, 0.8]])
    model = np.array([INDEX["happy"], INDEX["sad"], INDEX["contempt"]])
    classes = (INDEX["angry"], INDEX["happy"], INDEX["sad"])
    out = align_proba(proba, model, classes)
    np.testing.assert_allclose(out, [[0, 0.5 / 0.7, 0.2 / 0.7], [0, 0.5, 0.5]])
    assert class_overlap(model, classes) == (["contempt"], ["angry"])
    # Nothing dropped: columns are only placed (a class the model never saw stays 0), never rescaled.
    same = align_proba(proba[:, :2], model[:2], classes)
    np.testing.assert_array_equal(same, [[0, 0.5, 0.2], [0, 0.1, 0.1]])
