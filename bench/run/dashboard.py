"""``bench dashboard``: optuna-dashboard on a run's tuning studies, bound to loopback unless told otherwise.

The server is optuna-dashboard's WSGI app under the standard library's ``wsgiref`` server (what
``optuna_dashboard.run_server`` does), run by a ``DashboardServer`` that can also be stopped from code: tests
start it on a free port, read ``/api/studies`` and shut it down.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from bench.core.errors import BenchError, ConfigError
from bench.run.storage import check_storage, default_storage

LOOPBACK = "127.0.0.1"


class _QuietHandler(WSGIRequestHandler):
    # The dashboard polls its API every few seconds; one log line per request would drown the terminal.
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        pass


def storage_for(run: str | None, storage: str | None) -> str:
    """The storage URL from ``bench dashboard RUN`` or ``--storage URL`` (exactly one of them)."""
    if storage and run:
        raise ConfigError("give a run folder or --storage, not both")
    if storage:
        check_storage(storage)
        return storage
    if not run:
        raise ConfigError("name a run folder (bench dashboard results/RUN) or a --storage URL")
    db = Path(run) / "optuna.db"
    if not db.is_file():
        raise ConfigError(f"{db} does not exist: run 'bench tune ... --name {Path(run).name}' or "
                          "'bench run ... --tune N' first, or pass --storage URL")
    return default_storage(run)


class DashboardServer:
    """optuna-dashboard served from a background thread; ``stop()`` shuts it down and joins the thread."""

    def __init__(self, storage: str, host: str = LOOPBACK, port: int = 8080) -> None:
        import optuna_dashboard

        from bench.run.tuning import open_storage

        # No heartbeat: the dashboard only reads, and must not fail the trials of running tuners.
        app = optuna_dashboard.wsgi(open_storage(storage, heartbeat=None))
        check_port(port)
        try:
            self._server: WSGIServer = make_server(host, port, app, handler_class=_QuietHandler)
        except socket.gaierror as exc:
            raise ConfigError(f"--host '{host}' is not an address of this machine ({exc.strerror or exc}); give an "
                              f"IP address such as {LOOPBACK} or a host name") from exc
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                raise ConfigError(f"--host '{host}' is not an address of this machine; give one of its addresses "
                                  f"(default {LOOPBACK})") from exc
            raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another --port") from exc
        self.storage = storage
        self.host = host
        self.port = int(self._server.server_port)  # the real one when port 0 asked for a free port
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"optuna-dashboard:{self.port}", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/dashboard/"

    def start(self) -> DashboardServer:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread.is_alive():
            self._server.shutdown()  # returns once serve_forever has left its loop
            self._thread.join(timeout)
        self._server.server_close()

    def serve_forever(self) -> None:
        """Serve until Ctrl-C. The server runs in its thread, so the interrupt lands in this wait and never inside
        a request, where wsgiref would log it and serve on."""
        self.start()
        try:
            threading.Event().wait()
        finally:
            self.stop()

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def check_port(port: int) -> None:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a TCP port; give 1..65535 (0 picks a free one)")


def exposure_warning(host: str) -> str | None:
    """A warning when the dashboard listens beyond this machine: it has no login, and shows and edits studies."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if loopback:
        return None
    return (f"warning: --host {host} serves the studies to the network without a login: anyone who can reach "
            f"this machine can read and change them; use --host {LOOPBACK} (the default) and an SSH tunnel instead")


def start_dashboard(storage: str, host: str = LOOPBACK, port: int = 8080) -> DashboardServer:
    """Start optuna-dashboard on ``storage`` in a background thread (port 0: any free port)."""
    return DashboardServer(storage, host, port).start()


def add_dashboard_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", nargs="?", default=None, help="run folder whose optuna.db to open")
    p.add_argument("--storage", default=None, help="SQLAlchemy URL of a study storage instead of a run folder")
    p.add_argument("--host", default=LOOPBACK,
                   help=f"address to bind (default {LOOPBACK}: this machine only; 0.0.0.0 exposes the studies "
                        "to the network)")
    p.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080; 0 picks a free one)")


def dashboard_from_args(args: argparse.Namespace) -> int:
    """``bench dashboard``: serve until Ctrl-C."""
    try:
        import optuna_dashboard  # noqa: F401 - only checking that it is installed
    except ImportError as exc:
        raise BenchError("optuna-dashboard is not installed; pip install optuna-dashboard") from exc
    check_port(args.port)
    storage = storage_for(args.run, args.storage)
    server = DashboardServer(storage, args.host, args.port)
    warning = exposure_warning(args.host)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    from bench.run.tuning import storage_address

    print(f"optuna-dashboard on {storage_address(storage)}: {server.url} (Ctrl-C stops it)", flush=True)
    # A shell starts background commands with SIGINT ignored, and Python keeps that: "kill -INT" (or Ctrl-C
    # once brought to the foreground) would not stop a dashboard started with '&' from a script.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("dashboard stopped", file=sys.stderr)
    return 0
