"""Where a run's (model, fold) units execute: one after another in this process, or as tasks on a Dask cluster.

Both executors take the same list of units and yield each one as a ``Finished`` result as soon as it is done;
the engine writes it into the run folder. Only this process (the client) writes the run folder, so resume, the
manifest and the leaderboard do not depend on where a unit ran.

On Dask (``bench run --workers N`` starts a ``distributed.LocalCluster``; ``--scheduler tcp://HOST:PORT``
joins an existing cluster) every unit is one task:

- a worker loads the run's data itself, by name, from the dataset cache (a shared filesystem on a cluster;
  synthetic datasets are regenerated from their spec), once per process, and checks its fingerprint against
  the one the manifest records; every worker is checked before the run folder is written;
- a unit runs in a scratch folder on the worker: what it writes there (tuning results, the checkpoint of a
  source model) comes back with its result and the client writes it into the run folder;
- a fine-tuning unit depends on the task of its source (zero-shot) unit: Dask hands it the trained source
  model, on whichever worker it runs; a source finished by an earlier run is loaded from its checkpoint;
- deep units ask for one ``GPU`` resource with ``--device cuda`` (start workers with ``--resources GPU=1``);
- a worker that dies mid-unit has the unit re-run on another worker by the scheduler; Ctrl-C cancels the
  tasks still pending and keeps what finished.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from bench.core.errors import BenchError, ConfigError, DataError
from bench.core.files import atomic_write_bytes
from bench.core.models import ModelSpec
from bench.data import store as datastore
from bench.data.dataset import FERDataset
from bench.run.config import RunConfig
from bench.run.setup import prepare
from bench.run.tuning import default_storage
from protocols import Fold

# run_unit(spec, fold, ds, cfg, run_path=..., **inputs) -> (record, predictions, estimator): the engine's.
RunUnit = Callable[..., tuple[dict[str, Any], "pd.DataFrame | None", Any]]
# inputs_of(spec, fold) -> run_unit's other keywords for that unit, asked on this process when it starts:
# ``source_model`` (the model ``fold.init_from`` names, None when none), ``trained``, ``status``.
InputsOf = Callable[[ModelSpec, Fold], dict[str, Any]]
Unit = tuple[ModelSpec, Fold]

CONNECT_TIMEOUT_S = 10.0  # reaching a --scheduler
WORKER_WAIT_S = 60.0  # for a first worker to join a --scheduler that has none yet


@dataclass
class Finished:
    """One unit's outcome: its record and predictions, its model when another unit starts from it, and the
    run-folder files it wrote elsewhere (path relative to the run folder -> bytes)."""

    spec: ModelSpec
    fold: Fold
    record: dict[str, Any]
    predictions: pd.DataFrame | None
    estimator: Any = None
    files: dict[str, bytes] = field(default_factory=dict)


class Executor(Protocol):
    """What the engine needs: a context manager whose ``run`` yields each unit once, as it finishes."""

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: Any) -> None: ...

    def run(self, units: Sequence[Unit], ds: FERDataset, cfg: RunConfig, run_path: Path,
            inputs_of: InputsOf) -> Iterator[Finished]: ...


def failed_record(spec: ModelSpec, fold: Fold, exc: BaseException) -> dict[str, Any]:
    return {"model": spec.name, "family": spec.family, "fold": fold.id, "variant": fold.variant,
            "status": "failed", "message": f"{type(exc).__name__}: {' '.join(str(exc).split())}"}


def attempt(run_unit: RunUnit, spec: ModelSpec, fold: Fold, ds: FERDataset, cfg: RunConfig, run_path: Path,
            inputs: Callable[[], dict[str, Any]]) -> Finished:
    """Run one unit; an exception (in gathering its inputs too) becomes a failed record: one broken model must
    not lose the others."""
    start = time.perf_counter()
    try:
        record, predictions, est = run_unit(spec, fold, ds, cfg, run_path=run_path, **inputs())
    except Exception as exc:  # noqa: BLE001 - recorded in the unit's file and metrics.csv
        return Finished(spec, fold, failed_record(spec, fold, exc), None)
    # The unit's whole time (features, tuning, fit, scoring), not only its fit: what a run costs is their sum.
    record["wall_s"] = round(time.perf_counter() - start, 2)
    return Finished(spec, fold, record, predictions, est)


# ---------------------------------------------------------------------- in this process
class SequentialExecutor:
    """Units one after another in this process, in the order given (sources before their fine-tuning)."""

    def __init__(self, run_unit: RunUnit) -> None:
        self.run_unit = run_unit

    def __enter__(self) -> SequentialExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def run(self, units: Sequence[Unit], ds: FERDataset, cfg: RunConfig, run_path: Path,
            inputs_of: InputsOf) -> Iterator[Finished]:
        for spec, fold in units:
            # Asked only now: a source unit ran earlier in this loop and the engine kept its model.
            yield attempt(self.run_unit, spec, fold, ds, cfg, run_path, lambda s=spec, f=fold: inputs_of(s, f))


# ---------------------------------------------------------------------- on a Dask cluster
@dataclass(frozen=True)
class WorkerJob:
    """What every task carries: the run's configuration (absolute data and storage locations), the
    fingerprint of the data the manifest records, and the engine's unit function."""

    cfg: RunConfig
    fingerprint: str
    run_unit: RunUnit


_LOADED: dict[tuple[Any, ...], FERDataset] = {}  # per worker process: the data of the run it last served


def worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except ValueError:  # not inside a Dask task
        return f"pid {os.getpid()}"


def worker_dataset(job: WorkerJob) -> FERDataset:
    """The run's data on this worker: loaded once per process by name from the cache, checked by fingerprint."""
    cfg = job.cfg
    key = (job.fingerprint, cfg.protocol, tuple(sorted(cfg.data_specs().items())), cfg.data_dir)
    if key not in _LOADED:
        where = f"Dask worker {worker_address()}"
        try:
            ds, _ = prepare(cfg)
        except BenchError as exc:
            raise DataError(f"{where} cannot load the run's data from the dataset cache {cfg.data_dir} ({exc}); "
                            "every worker must see the cache: put it on a shared filesystem and pass its "
                            "path with --data-dir") from None
        if ds.fingerprint() != job.fingerprint:
            raise DataError(f"{where} loaded {cfg.data_label()} from {cfg.data_dir} with fingerprint "
                            f"{ds.fingerprint()}, but the run's manifest records {job.fingerprint}: the worker "
                            "sees another copy of the dataset cache; point every worker at the same --data-dir")
        _LOADED.clear()  # one run's data at a time: a long-lived worker must not pile up datasets
        _LOADED[key] = ds
    return _LOADED[key]


def check_worker(job: WorkerJob) -> str:
    """Run on each worker before the run starts: load (and so cache) the data, or fail saying why."""
    worker_dataset(job)
    return worker_address()


def unit_task(job: WorkerJob, spec: ModelSpec, fold: Fold, inputs: dict[str, Any], keep_model: bool) -> Finished:
    """One unit on a worker, in a scratch run folder whose files travel back with the result.

    ``inputs["source_model"]`` is the source unit's ``Finished`` (Dask resolved the dependency) or a model the
    client loaded. With ``keep_model`` the result keeps the fitted model (for the fine-tuning tasks that depend
    on it); the model files the unit wrote (its checkpoint, ``--save-models``) travel back with the others."""
    ds = worker_dataset(job)
    source = inputs.get("source_model")
    if isinstance(source, Finished):
        inputs = {**inputs, "source_model": source.estimator}
    with tempfile.TemporaryDirectory(prefix="fer-bench-unit-") as scratch:
        done = attempt(job.run_unit, spec, fold, ds, job.cfg, Path(scratch), lambda: inputs)
        done.files = {p.relative_to(scratch).as_posix(): p.read_bytes()
                      for p in sorted(Path(scratch).rglob("*")) if p.is_file()}
    if not keep_model:
        done.estimator = None
    return done


def for_client(done: Finished) -> Finished:
    """A source unit's result without its model: the client only writes files (a GPU model may not even load
    on a client without a GPU)."""
    return replace(done, estimator=None)


class DaskExecutor:
    """Units as tasks on a local Dask cluster (``cfg.workers``) or an existing one (``cfg.scheduler``).

    Entering connects (or starts the local cluster) and checks every worker can load the run's data; nothing
    is written before that. ``run`` submits the units and yields them as they finish."""

    def __init__(self, run_unit: RunUnit, cfg: RunConfig, ds: FERDataset, specs: Sequence[ModelSpec]) -> None:
        if cfg.scheduler and cfg.tune and not cfg.storage:
            raise ConfigError("--tune with --scheduler needs --storage URL that every worker reaches (e.g. "
                              "postgresql+psycopg://user@host/db): the default sqlite:///RUN/optuna.db lives on "
                              "this machine only")
        data_dir = str(datastore.data_dir(cfg.data_dir).expanduser().resolve())
        self.job = WorkerJob(replace(cfg, data_dir=data_dir, progress=False, command=[]), ds.fingerprint(), run_unit)
        self.cfg = cfg
        self.gpu = cfg.device == "cuda" and any(s.family == "deep" for s in specs)
        self.cluster: Any = None
        self.client: Any = None
        self._token = uuid.uuid4().hex[:8]

    # ------------------------------------------------------------------ connect and check
    def __enter__(self) -> DaskExecutor:
        try:
            self._connect()
            self._check_workers()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _connect(self) -> None:
        import dask
        from distributed import Client, LocalCluster

        cfg = self.cfg
        if cfg.workers:
            threads = cfg.threads or 1
            # Each worker process caps its kernels' threads at its task threads (Dask's default is one).
            env = {var: str(threads) for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
            # Dask's nannies export MALLOC_TRIM_THRESHOLD_ (into this process too), which pins glibc's mmap
            # threshold at 128 KiB and so turns deep/allocator.py off: deep units would page-fault at every step.
            # A user's own value still reaches the workers through the environment they inherit.
            no_trim = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
            with _ctrl_c_ignored(), dask.config.set(no_trim):
                self.cluster = LocalCluster(n_workers=cfg.workers, threads_per_worker=threads, processes=True,
                                            host="127.0.0.1", dashboard_address=None, env=env,
                                            resources={"GPU": 1} if self.gpu else None)
            self.client = Client(self.cluster)
            print(f"dask: local cluster of {cfg.workers} worker processes x {threads} thread(s) at "
                  f"{self.cluster.scheduler_address}", file=sys.stderr)
            return
        try:
            self.client = Client(cfg.scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at --scheduler {cfg.scheduler} "
                              f"({type(exc).__name__}: {exc}); start one with 'dask scheduler' and give "
                              "its tcp://HOST:PORT") from None
        try:
            self.client.wait_for_workers(1, timeout=WORKER_WAIT_S)
        except TimeoutError:
            raise ConfigError(f"no Dask worker joined the scheduler at {cfg.scheduler} within {WORKER_WAIT_S:.0f} s; "
                              f"start workers with 'dask worker {cfg.scheduler}'") from None
        print(f"dask: scheduler {cfg.scheduler} with {len(self._workers())} workers", file=sys.stderr)

    def _workers(self) -> dict[str, dict[str, Any]]:
        try:
            info = self.client.scheduler_info(n_workers=-1)  # newer distributed lists 5 workers by default
        except TypeError:
            info = self.client.scheduler_info()
        return dict(info["workers"])

    def _check_workers(self) -> None:
        workers = self._workers()
        if self.gpu and not any((w.get("resources") or {}).get("GPU") for w in workers.values()):
            raise ConfigError(f"--device cuda: no worker of the Dask cluster offers a GPU resource; start one "
                              f"worker per GPU with 'dask worker {self.cfg.scheduler or 'ADDRESS'} --resources GPU=1'")
        checks = [self.client.submit(check_worker, self.job, workers=[addr], allow_other_workers=False,
                                     pure=False, key=f"check-data-{self._token}-{i}")
                  for i, addr in enumerate(workers)]
        try:
            self.client.gather(checks)  # a worker's DataError comes back here as it is: one line, exit 2
        except BenchError:
            raise
        except Exception as exc:  # noqa: BLE001 - e.g. a worker whose environment lacks fer-bench
            raise ConfigError(f"the Dask workers cannot run fer-bench's units ({type(exc).__name__}: {exc}); "
                              "install fer-bench and its dependencies in the workers' environment") from None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self.client is not None:
                self.client.close()
        with contextlib.suppress(Exception):
            if self.cluster is not None:
                self.cluster.close()
        self.client = self.cluster = None

    # ------------------------------------------------------------------ the units
    def run(self, units: Sequence[Unit], ds: FERDataset, cfg: RunConfig, run_path: Path,
            inputs_of: InputsOf) -> Iterator[Finished]:
        from distributed import KilledWorker, as_completed

        job = self.job
        if cfg.tune and not cfg.storage:
            # Workers tune in scratch folders: give them the run folder's study storage by its absolute URL.
            job = replace(job, cfg=replace(job.cfg, storage=default_storage(run_path)))
        sources = {(s.name, f.init_from) for s, f in units if f.init_from}
        produced: dict[tuple[str, str], Any] = {}  # source unit -> its future (which holds the fitted model)
        pending: dict[Any, Unit] = {}  # future the client waits for -> its unit
        early: list[Finished] = []
        for spec, fold in units:
            try:  # e.g. a source finished by an earlier run: its checkpoint, loaded here
                inputs = inputs_of(spec, fold)
            except Exception as exc:  # noqa: BLE001 - this unit fails, the others go on
                early.append(Finished(spec, fold, failed_record(spec, fold, exc), None))
                continue
            inputs["status"] = None  # a progress bar of this process: a worker has none to report to
            if fold.init_from and (spec.name, fold.init_from) in produced:
                inputs["source_model"] = produced[(spec.name, fold.init_from)]  # Dask hands over its model
            keep = (spec.name, fold.id) in sources
            key = f"{spec.name}|{fold.id}|{self._token}"
            fut = self.client.submit(unit_task, job, spec, fold, inputs, keep, key=key, pure=False,
                                     priority=1 if keep else 0,
                                     resources={"GPU": 1} if self.gpu and spec.family == "deep" else None)
            if keep:
                produced[(spec.name, fold.id)] = fut
                fut = self.client.submit(for_client, fut, key=f"{key}|result", pure=False, priority=1)
            pending[fut] = (spec, fold)
        yield from early
        try:
            for fut in as_completed(list(pending)):
                spec, fold = pending.pop(fut)
                try:
                    done = fut.result()
                except KilledWorker as exc:  # it killed every worker it was given: fail it, keep the others
                    done = Finished(spec, fold, failed_record(spec, fold, exc), None)
                except BenchError:
                    raise  # e.g. a worker that joined later cannot see the dataset cache: the run stops
                except Exception as exc:  # noqa: BLE001 - a task lost to the cluster fails this unit only
                    done = Finished(spec, fold, failed_record(spec, fold, exc), None)
                for rel, data in done.files.items():
                    atomic_write_bytes(Path(run_path) / rel, lambda fh, data=data: fh.write(data))
                fut.release()
                yield done
        finally:
            if pending:  # Ctrl-C or an error: what is still queued or running is cancelled
                self.client.cancel([*pending, *produced.values()], force=True)


@contextlib.contextmanager
def _ctrl_c_ignored() -> Iterator[None]:
    """Ignore SIGINT while local worker processes start: they inherit it, so a Ctrl-C in the terminal reaches
    only this process, which cancels the tasks and closes the cluster itself (no traceback from each worker)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def open_executor(cfg: RunConfig, run_unit: RunUnit, ds: FERDataset, specs: Sequence[ModelSpec]) -> Executor:
    """The executor ``cfg`` asks for; use it as a context manager (a cluster is closed on the way out)."""
    if cfg.workers or cfg.scheduler:
        return DaskExecutor(run_unit, cfg, ds, specs)
    return SequentialExecutor(run_unit)
