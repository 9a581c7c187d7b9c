"""The model contract (``bench.core.contracts``), checked on every registered model on tiny data.

In the spirit of scikit-learn's ``check_estimator`` and timm's test over ``list_models()``: a model added to the
registry (a new feature x classifier, a new architecture, a user's own model) is tested here without a new test.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone

from bench.core.contracts import Model, Saveable, ValidatedModel, WarmStartable
from bench.core.models import MODELS, LowEndTrial, describe_space
from bench.run.unit import build_kwargs

LABELS = np.array([0, 3, 6])  # canonical labels that are not 0..K-1, on purpose
NAMES = MODELS.names()


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    """A learnable 48x48 task: the class decides where a bright square sits."""
    rng = np.random.default_rng(0)
    n = 45
    y = LABELS[np.arange(n) % 3]
    x = rng.normal(80, 20, (n, 48, 48))
    for i, label in enumerate(y):
        r = {0: 4, 3: 20, 6: 34}[int(label)]
        x[i, r:r + 10, 10:30] += 120
    x = np.clip(x, 0, 255).astype(np.uint8)
    return {"X": x[:27], "y": y[:27], "X_val": x[27:36], "y_val": y[27:36], "X_test": x[36:]}


@pytest.fixture(autouse=True)
def _one_thread():
    from threadpoolctl import threadpool_limits

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(n)


def _scalars(params: dict) -> dict:
    """The plain values of ``get_params(deep=True)`` (nested estimators are compared through their own keys)."""
    return {k: v for k, v in params.items() if not hasattr(v, "get_params") and not isinstance(v, list)}


def _build(name: str):
    spec = MODELS.get(name)
    kwargs = build_kwargs(spec, seed=0, device="cpu", epochs=1)
    if spec.family == "deep":
        # The contract is the same with or without ImageNet weights, which a test machine need not have; a
        # small batch keeps two optimiser steps per epoch.
        kwargs.update(init="scratch", batch_size=16)
    return spec, spec.build(**kwargs)


@pytest.mark.parametrize("name", NAMES)
def test_every_registered_model_honours_the_contract(name, data, tmp_path):
    spec, model = _build(name)
    assert spec.description and callable(spec.search_space)
    assert isinstance(model, Model)

    # get_params / set_params / clone: an unfitted twin with the same parameters, tunable by set_params
    twin = clone(model)
    assert _scalars(twin.get_params()) == _scalars(model.get_params())
    assert describe_space(spec.search_space), f"{name}: empty search space"
    sampled = spec.search_space(LowEndTrial())
    twin.set_params(**sampled)
    assert all(twin.get_params()[k] == v for k, v in sampled.items() if k in twin.get_params())

    # fit (with the validation split and epoch callbacks when the model uses them) and predict_proba
    epochs = []
    if spec.uses_validation:
        assert isinstance(model, ValidatedModel)
        model.fit(data["X"], data["y"], X_val=data["X_val"], y_val=data["y_val"],
                  callbacks=[lambda record, _model: epochs.append(record["epoch"])])
        assert epochs == [1]
    else:
        model.fit(data["X"], data["y"])
    np.testing.assert_array_equal(np.asarray(model.classes_), LABELS)
    proba = model.predict_proba(data["X_test"])
    assert proba.shape == (len(data["X_test"]), len(LABELS))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-4)
    assert np.all(proba >= 0)
    assert not hasattr(twin, "classes_"), "clone must not carry the fitted state"

    # the optional parts: a deep model warm-starts from another of its kind, and saves and loads itself
    if isinstance(model, WarmStartable):
        follower = clone(model).warm_start_from(model, finetune="head")
        follower.fit(data["X"], data["y"], X_val=data["X_val"], y_val=data["y_val"])
        assert follower.predict_proba(data["X_test"]).shape == proba.shape
    if isinstance(model, Saveable):
        path = tmp_path / "model.pt"
        model.save(path)
        back = type(model).load(path, device="cpu")
        np.testing.assert_allclose(back.predict_proba(data["X_test"]), proba, atol=1e-5)
    if hasattr(model, "model_size"):
        assert int(model.model_size()) > 0
