"""Registrations are checked when they are made: a component with a missing field fails at once, with its name
and the field; a family whose import fails says so every time it is asked for."""

from __future__ import annotations

import sys
import types

import pytest

from baselines.registry import ClassifierSpec, FeatureSpec, register_classifier, register_feature
from bench.core.errors import ConfigError
from bench.core.models import MODELS, ModelSpec, register_model, resolve_models
from bench.core.registry import Registry
from deep import recipes
from deep.nets.arch import Arch, ModelVariant
from protocols import Protocol, register_protocol


def _space(trial):
    return {}


@pytest.fixture(autouse=True, scope="module")
def _built_ins_loaded():
    """The built-in families are registered first, as in any real session (a test registration must clash with
    them, not pre-empt them)."""
    MODELS.names()


# ---------------------------------------------------------------------- models
def test_a_model_without_a_search_space_fails_at_registration():
    with pytest.raises(ConfigError, match="model 'no-space'.*missing 'search_space'"):
        register_model("classical", name="no-space", doc="no search space")(lambda seed=0: None)
    assert "no-space" not in MODELS._entries


def test_a_model_without_a_doc_fails_at_registration():
    def undocumented(seed: int = 0):
        return None

    with pytest.raises(ConfigError, match="model 'undocumented'.*missing 'description'"):
        register_model("classical", search_space=_space)(undocumented)


@pytest.mark.parametrize("name,match", [("a,b", "free of"), ("x:y", "free of"), ("all", "reserved"),
                                        ("", "non-empty")])
def test_model_names_that_would_make_model_ambiguous_are_refused(name, match):
    with pytest.raises(ConfigError, match=match):
        ModelSpec(name, "classical", lambda seed=0: None, "doc", search_space=_space)


def test_a_duplicate_name_is_refused():
    with pytest.raises(ConfigError, match="registered twice"):
        register_model("classical", name="hog-svm", search_space=_space, doc="again")(lambda seed=0: None)


def test_glob_patterns_select_every_matching_model():
    names = [s.name for s in resolve_models("hog-*")]
    assert sorted(names) == sorted(n for n in MODELS.names() if n.startswith("hog-"))
    assert "hog-tree" in names and "hog-nb" in names  # out of the default set, but named by the pattern
    with pytest.raises(ConfigError, match="matches no registered model"):
        resolve_models("nothing-*")


# ---------------------------------------------------------------------- classical components
def test_a_feature_without_a_search_space_or_doc_fails_at_registration():
    with pytest.raises(ConfigError, match="feature 'sift': registration is missing 'search_space'"):
        FeatureSpec("sift", object, "SIFT", None, ("svm",))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="feature 'sift': registration is missing 'doc'"):
        register_feature("sift", search_space=_space, default_classifiers=())(object)


def test_a_classifier_without_its_size_rule_fails_at_registration():
    with pytest.raises(ConfigError, match="classifier 'ridge': registration is missing 'size'"):
        register_classifier("ridge", doc="ridge", search_space=_space, size_unit="weights")(lambda seed: None)
    with pytest.raises(ConfigError, match="classifier 'ridge': registration is missing 'doc'"):
        ClassifierSpec("ridge", lambda seed: None, "", _space, len, "weights")


# ---------------------------------------------------------------------- deep architectures
def test_an_architecture_without_its_presets_or_models_fails_at_registration():
    presets = {"default": recipes.default, "paper": recipes.paper003_adam}
    with pytest.raises(ConfigError, match="architecture 'tiny': registration is missing the preset"):
        Arch("tiny", lambda *a, **k: None, "a tiny net", "000", 48, 48, {"default": recipes.default},
             (ModelVariant("tiny", "scratch", "tiny"),))
    with pytest.raises(ConfigError, match="architecture 'tiny': registration is missing 'models'"):
        Arch("tiny", lambda *a, **k: None, "a tiny net", "000", 48, 48, presets, ())
    with pytest.raises(ConfigError, match="architecture 'tiny': registration is missing 'paper'"):
        Arch("tiny", lambda *a, **k: None, "a tiny net", "", 48, 48, presets, (ModelVariant("tiny", "scratch", "t"),))
    with pytest.raises(ConfigError, match="model 'tiny': registration is missing 'doc'"):
        ModelVariant("tiny", "scratch", " ")
    with pytest.raises(ConfigError, match="needs 'tv_name'"):
        Arch("tiny", lambda *a, **k: None, "a tiny net", "000", 48, 48, presets,
             (ModelVariant("tiny", "imagenet", "tiny"),))


# ---------------------------------------------------------------------- protocols
def test_a_protocol_without_its_summary_fails_at_registration():
    class Nameless(Protocol):
        name = "nameless"

        def split(self, dataset):
            yield from ()

    with pytest.raises(ConfigError, match="protocol 'nameless': registration is missing 'summary'"):
        register_protocol(Nameless)


# ---------------------------------------------------------------------- families
def test_a_family_that_fails_to_import_says_so_every_time(monkeypatch):
    good = types.ModuleType("fer_bench_test_good_family")
    monkeypatch.setitem(sys.modules, good.__name__, good)
    registry: Registry[int] = Registry("widget")
    registry.declare_family("broken", "fer_bench_test_no_such_module")
    registry.declare_family("good", good.__name__)
    registry.add("spanner", 1, family="good")
    for _ in range(2):  # not "unknown widget" the second time: the real error, again
        with pytest.raises(ConfigError, match="family 'broken' failed to load .*fer_bench_test_no_such_module"):
            registry.entry("hammer")
        with pytest.raises(ConfigError, match="family 'broken' failed to load"):
            registry.names()
    assert registry.get("spanner") == 1  # a name of a family that loads is still found
