"""Classical baselines: batch features equal their per-image skimage/pywt/cv2 references, the feature cache,
and invariants over every registered classical model (fit, predict_proba, classes_, seeds, search spaces)."""

from __future__ import annotations

import pickle

import cv2
import numpy as np
import pytest
from skimage.feature import local_binary_pattern
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

import baselines
from baselines.classifiers import RBFSVM, LinearSVM, XGBoost
from baselines.features import (
    FEATURE_CACHE,
    DWTFeatures,
    FeatureCache,
    GaborFeatures,
    HOGFeatures,
    LBPFeatures,
    PixelFeatures,
    clear_feature_cache,
    dwt_features,
    gabor_features,
    hog_features,
    lbp_features,
    lbp_image,
    pixel_features,
    reference_dwt,
    reference_gabor,
    reference_hog,
    reference_lbp,
)
from baselines.pipelines import make_pipeline
from baselines.zoo import default_set
from bench.core.errors import ConfigError, DataError
from bench.core.models import MODELS, resolve_models

CLASSICAL = MODELS.names("classical")
LABELS = np.array([0, 3, 6])  # non-contiguous canonical labels on purpose


# ---------------------------------------------------------------------------------------------- data
def random_images(n: int, shape: tuple[int, int] = (48, 48), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


def flat_images(n: int, shape: tuple[int, int] = (48, 48), seed: int = 1) -> np.ndarray:
    """Few grey levels and flat patches: every LBP neighbour ties with its centre somewhere."""
    rng = np.random.default_rng(seed)
    x = (rng.integers(0, 4, (n, *shape)) * 60).astype(np.uint8)
    x[:, 5:25, 8:30] = 128
    x[: n // 2, :, shape[1] // 2:] = 255
    return x


def squares(n: int, labels: np.ndarray = LABELS, shape: tuple[int, int] = (48, 48),
            seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A learnable toy task: the class decides where a bright square sits; noise and jitter on top."""
    rng = np.random.default_rng(seed)
    h, w = shape
    y = labels[np.arange(n) % len(labels)]
    x = rng.normal(70, 25, (n, h, w))
    corners = [(h // 8, w // 8), (h // 8, w // 2), (h // 2, w // 4), (h // 2, w // 2 + w // 8)]
    for i, label in enumerate(y):
        r, c = corners[int(np.flatnonzero(labels == label)[0]) % len(corners)]
        dr, dc = rng.integers(-2, 3, 2)
        x[i, r + dr:r + dr + h // 4, c + dc:c + dc + w // 4] += 110
    return np.clip(x, 0, 255).astype(np.uint8), y


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """BLAS/OpenMP pools spin-wait; on shared CPUs that turns millisecond fits into minutes."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def tiny() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, y = squares(72, seed=3)
    return x[:60], y[:60], x[60:]


# ---------------------------------------------------------------------------------------------- features
LBP_SETTINGS = [(P, R, method) for P, R in [(8, 1), (8, 2), (16, 2), (8, 1.5), (12, 1.3), (4, 1)]
                for method in ("uniform", "nri_uniform", "default") if method != "default" or P <= 8]


@pytest.mark.parametrize("P,R,method", LBP_SETTINGS)
def test_lbp_codes_equal_skimage(P, R, method):
    images = np.concatenate([random_images(6, seed=P), flat_images(6)])
    odd = random_images(3, (37, 53), seed=7) // 85 * 85  # non-square, ties everywhere
    for batch in (images, odd):
        expected = np.stack([local_binary_pattern(img, P, R, method) for img in batch])
        np.testing.assert_array_equal(lbp_image(batch, P, R, method), expected)


@pytest.mark.parametrize("grid", [(6, 6), (7, 6), 5])
def test_lbp_features_equal_reference(grid):
    images = np.concatenate([random_images(20), flat_images(10)])
    fast = lbp_features(images, 8, 2, "nri_uniform", grid, chunk=7)  # chunk edges on purpose
    gy, gx = (grid, grid) if isinstance(grid, int) else grid
    assert fast.dtype == np.float32 and fast.shape == (30, gy * gx * 59)
    np.testing.assert_array_equal(fast, reference_lbp(images, 8, 2, "nri_uniform", grid))
    np.testing.assert_allclose(fast.reshape(30, gy * gx, 59).sum(axis=2), 1.0, rtol=1e-5)


@pytest.mark.parametrize("orientations,cell,block,norm,sqrt", [
    (9, (8, 8), (2, 2), "L2-Hys", False),
    (9, (8, 8), (3, 3), "L2-Hys", True),
    (7, (6, 5), (2, 1), "L1", False),  # 180/7 is not exact in float32: skimage's edges must be copied
    (12, 4, 3, "L1-sqrt", False),
    (8, 5, 1, "L2", True),
])
def test_hog_matches_skimage(orientations, cell, block, norm, sqrt):
    for images in (np.concatenate([random_images(8), flat_images(4)]), random_images(4, (50, 45), seed=2)):
        fast = hog_features(images, orientations, cell, block, norm, sqrt, chunk=5)
        ref = reference_hog(images, orientations, cell, block, norm, sqrt)
        assert fast.shape == ref.shape and fast.dtype == np.float32
        assert np.abs(fast - ref).max() < 1e-5


@pytest.mark.parametrize("wavelet", ["haar", "db2", "sym4"])
@pytest.mark.parametrize("level", [1, 2, 3])
@pytest.mark.parametrize("mode,bands", [("coefficients", "approx"), ("coefficients", "last"),
                                        ("coefficients", "all"), ("energies", "all")])
def test_dwt_equals_pywt(wavelet, level, mode, bands):
    for images in (random_images(10), random_images(3, (37, 53), seed=5)):
        fast = dwt_features(images, wavelet, level, mode, bands, chunk=4)
        np.testing.assert_array_equal(fast, reference_dwt(images, wavelet, level, mode, bands))


def test_gabor_matches_per_image_filter2d():
    for images in (random_images(6), random_images(3, (37, 53), seed=5)):
        fast = gabor_features(images, (4.0, 8.0), 4, (6, 6), chunk=4)
        ref = reference_gabor(images, (4.0, 8.0), 4, (6, 6))
        assert fast.shape == (len(images), 2 * 4 * 36)
        np.testing.assert_allclose(fast, ref, rtol=1e-4, atol=1e-3)


def test_pixels_are_cv2_area_resizes():
    images = random_images(5, (40, 30))
    expected = np.stack([cv2.resize(i, (12, 16), interpolation=cv2.INTER_AREA).ravel() for i in images])
    np.testing.assert_array_equal(pixel_features(images, (16, 12)), expected.astype(np.float32))
    assert pixel_features(images, None).shape == (5, 1200)


def test_inputs_are_checked_and_flat_square_images_accepted():
    images = random_images(4)
    hog = HOGFeatures()
    np.testing.assert_array_equal(hog.transform(images.reshape(4, -1)), hog.transform(images))
    with pytest.raises(DataError, match="square"):
        hog.transform(images.reshape(4, -1)[:, :-1])
    with pytest.raises(DataError, match="uint8"):
        hog.transform(images.astype(np.float64))
    with pytest.raises(ConfigError, match="too small"):
        HOGFeatures(pixels_per_cell=16, cells_per_block=4).transform(images)
    with pytest.raises(ConfigError, match="P=20"):
        LBPFeatures(P=20).transform(images)


def test_feature_dims_follow_image_size():
    small, large = random_images(3, (48, 48)), random_images(3, (96, 96))
    for t in (HOGFeatures(), DWTFeatures(), PixelFeatures(size=None)):
        assert t.transform(large).shape[1] > t.transform(small).shape[1]
    for t in (LBPFeatures(), GaborFeatures(), PixelFeatures()):  # grid-pooled / fixed-size descriptors
        assert t.transform(large).shape[1] == t.transform(small).shape[1]


# ---------------------------------------------------------------------------------------------- cache
def test_cache_computes_each_image_once(monkeypatch):
    clear_feature_cache()
    calls: list[int] = []
    original = LBPFeatures._extract

    def counting(self, images):
        calls.append(len(images))
        return original(self, images)

    monkeypatch.setattr(LBPFeatures, "_extract", counting)
    images = random_images(40, seed=11)
    t = LBPFeatures(grid=5)
    full = t.transform(images)
    assert calls == [40]
    subset = clone(t).transform(images[10:30])  # a fold: a clone, a subset
    assert calls == [40]
    np.testing.assert_array_equal(subset, full[10:30])
    mixed = np.concatenate([images[:5], random_images(3, seed=12)])
    t.transform(mixed)
    assert calls == [40, 3]  # only the unseen images
    LBPFeatures(grid=6).transform(images[:4])  # other parameters: other features
    assert calls == [40, 3, 4]
    assert FEATURE_CACHE.stats.hits == 25 and FEATURE_CACHE.stats.misses == 47


def test_cache_is_bounded_and_clearable():
    cache = FeatureCache(max_bytes=10 * 4 * 4)  # ten rows of four float32
    double = cache.features("k", random_images(25), lambda x: np.ones((len(x), 4)) * 2)
    assert double.dtype == np.float32 and double.shape == (25, 4)
    assert len(cache) == 10 and cache.nbytes <= cache.max_bytes and cache.stats.evicted == 15
    cache.clear()
    assert len(cache) == 0 and cache.nbytes == 0
    off = FeatureCache(max_bytes=0)
    off.features("k", random_images(3), lambda x: np.zeros((len(x), 2)))
    assert len(off) == 0


def test_clone_and_params_ignore_the_cache():
    t = LBPFeatures(P=8, R=2.0, grid=(7, 6))
    t.transform(random_images(2))
    c = clone(t)
    assert c.get_params() == t.get_params() == {"P": 8, "R": 2.0, "method": "nri_uniform", "grid": (7, 6)}
    assert vars(c) == vars(t)  # no hidden state


# ---------------------------------------------------------------------------------------------- registry
def test_registry_lists_every_pipeline_and_a_default_set():
    features = ("lbp", "hog", "dwt", "pixels", "gabor")
    kinds = ("svm", "rbf", "knn", "lda", "logreg", "nb", "tree", "xgb")
    assert set(CLASSICAL) == {f"{f}-{k}" for f in features for k in kinds} | {"pca-svm"}
    default = {s.name for s in resolve_models("classical")}
    assert default == {f"{f}-{k}" for f, k in default_set()} | {"pca-svm"}
    assert default == ({f"{f}-{k}" for f in ("lbp", "hog", "dwt") for k in ("svm", "rbf", "knn", "lda", "logreg")}
                       | {"hog-xgb", "hog-nb", "hog-tree", "pixels-svm", "gabor-svm", "pca-svm"})


@pytest.mark.parametrize("name", CLASSICAL)
def test_every_model_fits_and_predicts_probabilities(name, tiny):
    x, y, x_test = tiny
    spec = MODELS.get(name)
    model = spec.build(seed=0)
    steps = [s for s, _ in model.steps]
    assert steps[:2] == ["features", "scale"] and steps[-1] == name.split("-")[1]
    model.fit(x, y)
    proba = model.predict_proba(x_test)
    assert proba.shape == (len(x_test), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(model.classes_, LABELS)
    assert set(model.predict(x_test)) <= set(LABELS)
    size = baselines.model_size(model)
    assert isinstance(size, int) and size > 0 and model.model_size() == size
    again = spec.build(seed=0).fit(x, y)  # same seed, same model
    np.testing.assert_array_equal(again.predict_proba(x_test), proba)


@pytest.mark.parametrize("name", CLASSICAL)
def test_search_space_suggestions_are_valid_parameters(name, tiny):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    x, y, x_test = tiny
    spec = MODELS.get(name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=len(name)))
    trial = study.ask()
    params = spec.search_space(trial)
    assert params and all("__" in k for k in params)
    model = spec.build(seed=0, **params).fit(x, y)
    assert model.predict_proba(x_test).shape == (len(x_test), 3)


def test_fixed_trial_drives_set_params():
    from optuna.trial import FixedTrial

    trial = FixedTrial({"features__orientations": 8, "features__pixels_per_cell": 6,
                        "features__cells_per_block": 2, "features__transform_sqrt": False, "svm__C": 0.5})
    model = MODELS.get("hog-svm").build(**MODELS.get("hog-svm").search_space(trial))
    params = model.get_params()
    assert params["features__orientations"] == 8 and params["svm__C"] == 0.5


def test_clone_set_params_and_grid_search(tiny):
    x, y, _ = tiny
    model = MODELS.get("hog-svm").build(seed=1, svm__C=3.0)
    assert model.get_params()["svm__C"] == 3.0 and model.get_params()["svm__random_state"] == 1
    twin = clone(model).set_params(svm__C=0.01, features__orientations=6)
    assert twin.get_params()["svm__C"] == 0.01 and model.get_params()["svm__C"] == 3.0
    with pytest.raises(ConfigError, match="svm__c"):
        MODELS.get("hog-svm").build(svm__c=1)
    search = GridSearchCV(make_pipeline("dwt", "lda"), {"features__level": [1, 2]}, cv=2).fit(x, y)
    assert search.best_params_["features__level"] in (1, 2)
    free = MODELS.get("dwt-lda").build(blas_threads=None).fit(x, y)  # threads left to the libraries
    assert free.blas_threads is None and free.predict_proba(x).shape == (len(x), 3)
    fitted = MODELS.get("lbp-rbf").build().fit(x, y)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(x), fitted.predict_proba(x))


@pytest.mark.parametrize("name", ["hog-svm", "lbp-rbf", "dwt-logreg"])
def test_shuffled_labels_score_at_chance(name):
    x, y = squares(320, labels=np.array([1, 2, 4, 5]), seed=7)
    train, test = np.arange(240), np.arange(240, 320)
    build = MODELS.get(name).build
    real = build(seed=0).fit(x[train], y[train]).score(x[test], y[test])
    shuffled_y = np.random.default_rng(0).permutation(y[train])
    control = build(seed=0).fit(x[train], shuffled_y).score(x[test], y[test])
    assert real > 0.9
    assert control < 0.45  # chance is 0.25


def test_varying_image_sizes_fit(tiny):
    x, y = squares(40, shape=(96, 96), seed=2)
    for name in ("lbp-svm", "hog-svm", "dwt-svm", "gabor-svm", "pca-svm"):
        model = MODELS.get(name).build(seed=0).fit(x, y)
        assert model.predict_proba(x[:3]).shape == (3, 3)


# ---------------------------------------------------------------------------------------------- classifiers
def test_binary_svms_and_platt_calibration():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 5))
    y = np.where(x[:, 0] + 0.3 * rng.normal(size=80) > 0, 6, 2)
    for clf in (LinearSVM(random_state=0), RBFSVM(random_state=0), LinearSVM(calibration="sigmoid"),
                RBFSVM(calibration="sigmoid", random_state=0)):
        clf.fit(x, y)
        proba = clf.predict_proba(x)
        np.testing.assert_array_equal(clf.classes_, [2, 6])
        assert proba.shape == (80, 2) and np.allclose(proba.sum(axis=1), 1)
        assert clf.score(x, y) > 0.85
    plain = LinearSVM(random_state=0).fit(x, y)
    np.testing.assert_array_equal(plain.predict(x), plain.classes_[(plain.decision_function(x) > 0).astype(int)])
    with pytest.raises(ConfigError, match="calibration"):
        LinearSVM(calibration="isotonic").fit(x, y)


def test_model_size_units(tiny):
    x, y, _ = tiny
    n = len(x)
    knn = MODELS.get("hog-knn").build().fit(x, y)
    assert baselines.model_size(knn) == n
    rbf = MODELS.get("hog-rbf").build().fit(x, y)
    assert 0 < baselines.model_size(rbf) <= n
    svm = MODELS.get("hog-svm").build().fit(x, y)
    dims = svm.named_steps["features"].transform(x[:1]).shape[1]
    assert baselines.model_size(svm) == 3 * dims + 3
    xgb = XGBoost(n_estimators=5, max_depth=2).fit(np.arange(30.0)[:, None], np.repeat(LABELS, 10))
    assert 3 * 5 <= baselines.model_size(xgb) <= 3 * 5 * 7
    with pytest.raises(Exception, match="not fitted"):
        baselines.model_size(MODELS.get("hog-tree").build())


def test_feature_benchmark_rows():
    from baselines.perf import feature_benchmark

    rows = feature_benchmark(random_images(24), which=("lbp", "hog", "dwt"), reference_images=12)
    assert [r["feature"] for r in rows] == ["lbp", "hog", "dwt"]
    for r in rows:
        assert r["batch_images_per_s"] > 0 and r["reference_images_per_s"] > 0 and r["reference_images"] == 12
        assert r["max_abs_diff"] < 1e-5
    with pytest.raises(ConfigError, match="sift"):
        feature_benchmark(random_images(2), which=("sift",))
