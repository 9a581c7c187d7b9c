import os

import pytest


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path_factory, monkeypatch):
    """Every test gets its own dataset cache, never the user's, and never reaches the network for ImageNet
    weights (tests/test_weights.py serves them from 127.0.0.1 and lifts this)."""
    monkeypatch.setenv("FER_BENCH_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    monkeypatch.setenv("FER_BENCH_OFFLINE", "1")


@pytest.fixture(scope="session")
def pg_server():
    """A throw-away PostgreSQL server for the session (tests/pg_server.py); skipped where none is installed.

    On CI (``CI`` set, as .ci/run runs) a missing server is an error: the PostgreSQL tests must run there."""
    from pg_server import PostgresServer, Unavailable

    try:
        server = PostgresServer()
    except Unavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests, but {exc}")
        pytest.skip(f"PostgreSQL is not available here: {exc}")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server) -> str:
    """A fresh, empty database on the session's server, as a postgresql+psycopg:// URL."""
    return pg_server.create_database()
