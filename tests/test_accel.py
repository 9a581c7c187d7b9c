"""Accelerated backends (--accel): parity with scikit-learn, how a run picks and records them, the cuML path."""

import importlib.machinery
import json
import sys
import types

import numpy as np
import pytest
import sklearn.decomposition
import sklearn.linear_model
import sklearn.svm

from baselines import backends
from baselines.backends import CUML, INTELEX, SKLEARN, built_backend
from baselines.registry import CLASSIFIERS
from bench.cli import main
from bench.core.errors import ConfigError
from bench.core.models import MODELS, resolve_models
from bench.data import catalog
from bench.run.config import RunConfig


def _intelex_declared() -> list[str]:
    """Default-set pipelines whose classifier (or PCA step) has a scikit-learn-intelex path, from the registry."""
    names = []
    for spec in resolve_models("classical"):
        if INTELEX in CLASSIFIERS.get(spec.tags["classifier"]).backends or spec.tags.get("pca"):
            names.append(spec.name)
    return names


@pytest.fixture(scope="module")
def parity_data():
    ds = catalog.load("synth-lab:n=720")
    order = np.random.default_rng(0).permutation(len(ds))
    return ds, order[:480], order[480:]


@pytest.mark.parametrize("name", _intelex_declared())
def test_accelerated_pipeline_matches_its_scikit_learn_twin(name, parity_data):
    pytest.importorskip("sklearnex", reason="scikit-learn-intelex is not installed: pip install 'fer-bench[accel]'")
    ds, train, test = parity_data
    fitted = {}
    for backend in (SKLEARN, INTELEX):
        model = MODELS.get(name).build(seed=0, backend=backend).fit(ds.images[train], ds.labels[train])
        fitted[backend] = (model.predict(ds.images[test]), model.backend_)
    (ref, ref_by), (fast, fast_by) = fitted[SKLEARN], fitted[INTELEX]
    assert ref_by == SKLEARN
    assert np.mean(ref == fast) >= 0.99
    accuracy = {b: np.mean(p == ds.labels[test]) for b, (p, _) in fitted.items()}
    assert abs(accuracy[SKLEARN] - accuracy[INTELEX]) <= 0.005
    if name.split("-")[1] in ("rbf", "knn"):
        assert fast_by == INTELEX  # oneDAL really fitted it, by scikit-learn-intelex's own report


def test_the_registry_says_which_classifiers_have_an_accelerated_path():
    assert {c.name for c in CLASSIFIERS.entries() if INTELEX in c.obj.backends} == {"rbf", "knn"}
    assert {c.name for c in CLASSIFIERS.entries() if CUML in c.obj.backends} == {"rbf", "logreg"}
    assert set(_intelex_declared()) >= {"hog-rbf", "lbp-knn", "dwt-rbf", "pca-svm"}
    # A classifier without an accelerated path is built by scikit-learn under any backend.
    assert built_backend(CLASSIFIERS.get("svm").make(0, INTELEX)) == SKLEARN


def test_pipelines_record_a_fallback_to_scikit_learn(parity_data):
    pytest.importorskip("sklearnex", reason="scikit-learn-intelex is not installed: pip install 'fer-bench[accel]'")
    ds, train, _ = parity_data
    # oneDAL has no correlation-metric KNN: scikit-learn-intelex hands the fit back, and the pipeline says so.
    model = MODELS.get("hog-knn").build(seed=0, backend=INTELEX, knn__metric="correlation")
    model.fit(ds.images[train], ds.labels[train])
    assert model.backend_ == SKLEARN and model.backend_steps_ == {"knn": SKLEARN}


def _installed_only(monkeypatch, *names: str) -> None:
    monkeypatch.setattr(backends.Backend, "installed", lambda self: self.name in (SKLEARN, *names))


def test_auto_takes_what_is_installed_and_an_explicit_missing_backend_fails_in_one_line(monkeypatch):
    _installed_only(monkeypatch)
    assert backends.resolve("auto") == SKLEARN and backends.resolve("auto", "cuda") == SKLEARN
    with pytest.raises(ConfigError, match=r"^scikit-learn-intelex not installed: pip install 'fer-bench\[accel\]'"):
        backends.resolve(INTELEX)
    _installed_only(monkeypatch, INTELEX, CUML)
    assert backends.resolve("auto", "cpu") == INTELEX and backends.resolve("auto", "cuda") == CUML
    with pytest.raises(ConfigError, match="--accel cuml runs on a CUDA GPU"):
        backends.resolve(CUML, "cpu")


def test_run_without_cuml_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    _installed_only(monkeypatch, INTELEX)
    code = main(["run", "--protocol", "random", "--dataset", "synth-lab:n=120,subjects=6", "--model", "hog-rbf",
                 "--accel", "cuml", "--device", "cuda", "--out", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("error: cuML not installed: pip install 'fer-bench[cuda]'")
    assert not list(tmp_path.iterdir())  # failed before any folder was made


@pytest.fixture
def stand_in_cuml(monkeypatch):
    """A ``cuml`` package whose estimators are scikit-learn's, to follow the cuML code path on a CPU (what runs on
    the GPU is cuML's business; this checks that the switch reaches it)."""
    classes = {"svm": sklearn.svm.SVC, "linear_model": sklearn.linear_model.LogisticRegression,
               "decomposition": sklearn.decomposition.PCA, "neighbors": None}
    root = types.ModuleType("cuml")
    root.__spec__ = importlib.machinery.ModuleSpec("cuml", None, is_package=True)
    root.__path__ = []
    monkeypatch.setitem(sys.modules, "cuml", root)
    for module, base in classes.items():
        mod = types.ModuleType(f"cuml.{module}")
        mod.__spec__ = importlib.machinery.ModuleSpec(f"cuml.{module}", None)
        if base is not None:
            setattr(mod, base.__name__, type(base.__name__, (base,), {"__module__": f"cuml.{module}"}))
        monkeypatch.setitem(sys.modules, f"cuml.{module}", mod)
    return root


def test_device_cuda_with_cuml_runs_the_classical_estimators_through_it(stand_in_cuml, tmp_path):
    out = tmp_path / "runs"
    assert main(["run", "--protocol", "random", "--dataset", "synth-lab:n=160,subjects=8", "--model",
                 "hog-rbf,hog-logreg,hog-svm", "--accel", "auto", "--device", "cuda", "--out", str(out),
                 "--no-progress"]) == 0
    (run,) = out.iterdir()
    assert run.name.endswith("-cuml")
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["config"]["accel"] == CUML
    fitted = {u.parent.name: json.loads(u.read_text())["backend"] for u in run.glob("units/*/*.json")}
    assert fitted == {"hog-rbf": CUML, "hog-logreg": CUML, "hog-svm": SKLEARN}
    assert "hog-rbf (cuml)" in (run / "leaderboard.md").read_text()


def test_backend_is_part_of_the_run_identity_and_name():
    plain, fast = RunConfig(protocol="random"), RunConfig(protocol="random", accel=INTELEX)
    assert "accel" not in plain.identity()  # scikit-learn runs keep the keys they had before backends
    assert fast.identity()["accel"] == INTELEX and fast.default_name() == plain.default_name() + "-intelex"
    assert fast.study_name("hog-rbf", "fold-00").endswith("|intelex")


def test_a_run_folder_never_mixes_backends(tmp_path, capsys, monkeypatch):
    _installed_only(monkeypatch, INTELEX)
    common = ["run", "--protocol", "random", "--dataset", "synth-lab:n=120,subjects=6", "--model", "hog-svm",
              "--out", str(tmp_path), "--name", "one", "--no-progress"]
    assert main(common) == 0
    assert main([*common, "--accel", "intelex"]) == 2
    assert "different configuration (accel)" in capsys.readouterr().err
