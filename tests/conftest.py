import pytest


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path_factory, monkeypatch):
    """Every test gets its own dataset cache, never the user's, and never reaches the network for ImageNet
    weights (tests/test_weights.py serves them from 127.0.0.1 and lifts this)."""
    monkeypatch.setenv("FER_BENCH_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    monkeypatch.setenv("FER_BENCH_OFFLINE", "1")
