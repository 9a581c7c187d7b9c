"""Memory at scale and progress for long work: the estimate of every default-set pipeline, the Gram matrix that
never outgrows memory, the up-front failure, and the heartbeat of a long fit. Small fake numbers stand in for the
machine's memory: nothing here allocates much."""

import time

import numpy as np
import pytest

from baselines.classifiers import rbf
from baselines.classifiers.rbf import GramSVC, gram_bytes, rbf_gram
from baselines.features import FEATURE_CACHE, clear_feature_cache
from baselines.registry import CLASSIFIERS, float64_copy
from bench.cli import main
from bench.core.errors import ConfigError
from bench.core.heartbeat import Heartbeat
from bench.core.models import MODELS, resolve_models
from bench.data import catalog
from bench.run import unit

GIB = 2**30
FER2013_TRAIN = 28709


@pytest.mark.parametrize("name", [s.name for s in resolve_models("classical")])
def test_every_default_set_pipeline_estimates_its_memory_by_its_own_rules(name, monkeypatch):
    monkeypatch.setattr(rbf, "available_memory", lambda: 64 * GIB)  # the Gram path's choice, fixed
    pipe = MODELS.get(name).build(seed=0)
    classifier = pipe.steps[-1][0]
    assert CLASSIFIERS.get(classifier).memory is not float64_copy  # a rule of its own, not the fallback
    small, large = (pipe.memory_estimate(n, (48, 48), 7) for n in (1000, FER2013_TRAIN))
    assert 0 < small.peak < large.peak
    assert set(large.parts) >= {"features", "scale", classifier}
    # The parts are not all alive at once: the peak is at least each stage and at most their sum.
    assert max(large.parts.values()) <= large.peak <= sum(large.parts.values())
    assert large.parts["features"] == 4 * FER2013_TRAIN * large.n_features


def test_the_rbf_estimate_follows_the_gram_path_and_its_backend(monkeypatch):
    pipe = MODELS.get("hog-rbf").build(seed=0)
    monkeypatch.setattr(rbf, "available_memory", lambda: 64 * GIB)
    with_gram = pipe.memory_estimate(FER2013_TRAIN, (48, 48), 7)
    assert with_gram.parts["rbf"] >= gram_bytes(FER2013_TRAIN)  # 6.6 GB: FER2013's Gram matrix
    monkeypatch.setattr(rbf, "available_memory", lambda: 8 * GIB)  # 6.6 GB is more than half of it
    without = pipe.memory_estimate(FER2013_TRAIN, (48, 48), 7)
    assert without.parts["rbf"] < GIB
    assert CLASSIFIERS.get("rbf").memory(FER2013_TRAIN, 900, 7, "intelex") < GIB  # oneDAL needs no Gram matrix


def test_gram_svc_takes_the_gram_path_only_while_it_fits_in_memory(monkeypatch):
    ds = catalog.load("synth-lab:n=200,subjects=8")
    X = np.random.default_rng(0).normal(size=(len(ds), 30)).astype(np.float32) + ds.labels[:, None]
    need = gram_bytes(len(X))
    monkeypatch.setattr(rbf, "available_memory", lambda: 2 * need)
    fits = GramSVC(C=10).fit(X, ds.labels)
    monkeypatch.setattr(rbf, "available_memory", lambda: 2 * need - 1)
    too_big = GramSVC(C=10).fit(X, ds.labels)
    assert fits.precomputed_ and not too_big.precomputed_
    assert GramSVC(gram_limit=100).uses_gram(200, available=100 * need) is False
    # Both paths solve the same problem: the same predictions.
    assert np.mean(fits.predict(X) == too_big.predict(X)) >= 0.99


def test_rbf_gram_in_blocks_is_the_kernel(monkeypatch):
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(70, 9)), rng.normal(size=(40, 9))
    monkeypatch.setattr(rbf, "BLOCK_BYTES", 4 * 40 * 16)  # 16 rows a block: several blocks and a ragged end
    d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(rbf_gram(a, b, 0.1), np.exp(-0.1 * d2), rtol=1e-5)


def test_a_pipeline_that_cannot_fit_fails_up_front_in_one_line(monkeypatch):
    ds = catalog.load("synth-lab:n=160,subjects=8")
    spec = MODELS.get("lbp-svm")
    est = spec.build(seed=0)
    need = est.memory_estimate(len(ds), ds.image_size, len(ds.classes)).peak
    monkeypatch.setattr(unit, "available_memory", lambda: need - 1)
    clear_feature_cache()
    with pytest.raises(ConfigError) as err:
        unit.fit_and_score(spec, est, ds, np.arange(len(ds)), None, {"test": np.arange(10)})
    message = str(err.value)
    assert "\n" not in message and message.startswith("lbp-svm needs about") and "160 images" in message
    assert FEATURE_CACHE.stats.misses == 0 and len(FEATURE_CACHE) == 0  # not one feature was extracted
    monkeypatch.setattr(unit, "available_memory", lambda: need)
    unit.fit_and_score(spec, est, ds, np.arange(len(ds)), None, {"test": np.arange(10)})


def test_run_records_the_memory_failure_and_goes_on(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(unit, "available_memory", lambda: 2**20)
    code = main(["run", "--protocol", "random", "--dataset", "synth-lab:n=120,subjects=6", "--model", "hog-svm",
                 "--out", str(tmp_path), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 1
    line = next(x for x in out.splitlines() if x.startswith("hog-svm"))
    assert "failed: ConfigError: hog-svm needs about" in line and "more than the 0.0 GiB available now" in line


def test_heartbeat_reports_while_the_block_runs_and_stops_after():
    heard = []
    with Heartbeat(heard.append, "fitting", after=0.05, every=0.05) as beat:
        time.sleep(0.4)
    n = len(heard)
    time.sleep(0.15)
    assert n >= 3 and len(heard) == n and beat.beats == n
    assert all(h.startswith("fitting ") and h.endswith(" s") for h in heard)
    with Heartbeat(heard.append, "quick", after=5.0):
        pass
    assert len(heard) == n  # a short block says nothing


def test_a_long_classical_fit_tells_the_progress_bar(monkeypatch):
    monkeypatch.setattr(unit, "HEARTBEAT_AFTER_S", 0.0)
    monkeypatch.setattr(unit, "HEARTBEAT_EVERY_S", 0.01)
    ds = catalog.load("synth-lab:n=160,subjects=8")
    spec = MODELS.get("hog-logreg")
    est = spec.build(seed=0)
    slow_fit = est.fit

    def fit(X, y):
        time.sleep(0.2)
        return slow_fit(X, y)

    monkeypatch.setattr(est, "fit", fit)
    heard = []
    outcome = unit.fit_and_score(spec, est, ds, np.arange(120), None, {"test": np.arange(120, 160)},
                                 status=heard.append)
    assert any(h.startswith("fitting") for h in heard)
    assert outcome.backend == "sklearn" and outcome.iterations and outcome.iterations > 0
