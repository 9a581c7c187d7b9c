import pytest


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path_factory, monkeypatch):
    """Every test gets its own dataset cache, never the user's."""
    monkeypatch.setenv("FER_BENCH_DATA_DIR", str(tmp_path_factory.mktemp("data")))
