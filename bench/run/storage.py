"""Where tuning studies live: SQLAlchemy URLs, by default ``sqlite:///RUN/optuna.db``, checked without importing
Optuna or SQLAlchemy so that ``bench run`` and ``bench dashboard`` refuse a bad ``--storage`` before any work."""

from __future__ import annotations

from pathlib import Path

from bench.core.errors import ConfigError

SQLITE = "sqlite:///"


def sqlite_url(path: str | Path) -> str:
    """An absolute SQLite URL, so processes started from other folders open the same file."""
    return f"{SQLITE}{Path(path).resolve()}"


def default_storage(run_path: str | Path) -> str:
    return sqlite_url(Path(run_path) / "optuna.db")


def sqlite_file(url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL (None for other URLs and in-memory databases)."""
    if not url.startswith(SQLITE):
        return None
    db = url[len(SQLITE):].split("?", 1)[0]
    return Path(db) if db and db != ":memory:" else None


def check_storage(url: str | None, flag: str = "--storage") -> None:
    """A storage URL that can be opened as it is: a SQLite file's folder must exist (it is never created, so a
    typo cannot scatter databases over the file system), and the URL must name a database scheme."""
    if url is None:
        return
    if "://" not in url:
        raise ConfigError(f"{flag} '{url}' is not a SQLAlchemy URL; give e.g. sqlite:///path/to/optuna.db or "
                          "postgresql+psycopg://user:pass@host/db")
    db = sqlite_file(url)
    if db is None:
        return
    if db.is_dir():
        raise ConfigError(f"{flag} '{url}': {db} is a folder; name a database file inside it, e.g. {db / 'optuna.db'}")
    if not db.parent.is_dir():
        raise ConfigError(f"{flag} '{url}': folder {db.parent} does not exist; create it first or give another path")
