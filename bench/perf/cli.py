"""``bench perf``: benchmarks that run fer-bench's path and a reference side by side and print the ratio.

Speed targets are checked here, never by timed unit tests. Results print as a table and can be saved as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench.core.errors import ConfigError
from bench.core.heartbeat import Heartbeat
from bench.core.threads import add_threads_argument


def add_perf_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="perf_command", metavar="BENCHMARK", required=True)
    f = sub.add_parser("features", help="batch LBP/HOG/DWT extraction vs a per-image scikit-image/PyWavelets loop",
                       description="Feature extraction speed: fer-bench's batch path vs a per-image loop with the "
                                   "same parameters, on the same images; checks both give the same features.")
    f.add_argument("--n", type=int, default=35887, help="number of 48x48 images (default: 35887, FER2013's size)")
    f.add_argument("--dataset", default=None,
                   help="use this dataset's images instead of random ones (e.g. fer2013 once imported)")
    f.add_argument("--features", default="lbp,hog,dwt", help="comma-separated features to time (default: lbp,hog,dwt)")
    t = sub.add_parser("train", help="training images/s: fer-bench's training loop vs per-sample PIL + DataLoader",
                       description="Training throughput of one model: fer-bench's training loop (tensor batches, "
                                   "batched augmentation) vs a per-sample PIL transform + DataLoader pipeline in "
                                   "float32, as the FER2013 repositories train; same model, batch and "
                                   "augmentations, in one process. Also prints the PIL data path with "
                                   "fer-bench's arithmetic and a compute-only bound.")
    t.add_argument("--model", default="cnn-003,resnet18",
                   help="comma-separated architectures, built from scratch (default: cnn-003,resnet18)")
    t.add_argument("--n", type=int, default=4096, help="number of 48x48 training images (default: 4096)")
    t.add_argument("--batch-size", type=int, default=64, help="batch size for both pipelines (default: 64)")
    t.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where to train (default: auto)")
    t.add_argument("--seconds", type=float, default=30.0,
                   help="training time per pipeline and model, split into 2 alternating rounds (default: 30)")
    t.add_argument("--num-workers", type=int, default=1,
                   help="DataLoader workers of the PIL pipelines (default: 1, as the FER2013 repositories)")
    r = sub.add_parser("run", help="wall time and peak memory of the README's run command",
                       description="Run the README's main command (bench run --protocol cross --model all) in a "
                                   "child process into a temporary folder; report wall time and peak resident "
                                   "memory against the targets (15 minutes, 4 GB on 2 cores).")
    r.add_argument("--args", default="--protocol cross --model all",
                   help="arguments of 'bench run' to time (default: the README's '--protocol cross --model all')")
    s = sub.add_parser("scale", help="how each stage's time and memory grow with the number of images, per backend",
                       description="Split, extract features, fit and predict each model on growing numbers of "
                                   "training images, each point in a fresh child process, under each backend "
                                   "(--accel); print time per stage and peak memory, the log-log growth exponent "
                                   "of each stage between sizes, and save a log-log plot.")
    s.add_argument("--dataset", default="synth-wild",
                   help="synth-wild or synth-lab (generated at each size), or an imported dataset whose official "
                        "training part (all of it without one) is sampled, stratified, to each size, e.g. fer2013 "
                        "(default: synth-wild)")
    s.add_argument("--sizes", default="1000,4000,16000,28709",
                   help="numbers of training images (default: 1000,4000,16000,28709; 28709 is all of FER2013's)")
    s.add_argument("--model", default="classical",
                   help="models: names, patterns, classical (the default set) or deep (default: classical)")
    s.add_argument("--plot", default="perf-scale.png", help="log-log plot file (default: perf-scale.png)")
    s.add_argument("--resume", action="store_true",
                   help="keep the points the --json FILE already holds (same model, backend, size and dataset) "
                        "and measure only the others; the file is rewritten after every point")
    par = sub.add_parser("parallel", help="one run in one process vs on a local Dask cluster (--workers N)",
                         description="Time the classical default set under k-fold in one process and then with "
                                     "--workers N (a local Dask cluster), each run in a fresh child process; check "
                                     "both give the same metrics and print the speed-up (target 1.6x with 2 "
                                     "workers on 2 cores).")
    par.add_argument("--dataset", default="synth-lab", help="dataset or spec to run on (default: synth-lab)")
    par.add_argument("--model", default="classical", help="models to run (default: classical, the default set)")
    par.add_argument("--folds", type=int, default=5, help="k-fold folds (default: 5)")
    par.add_argument("--workers", type=int, default=2, help="worker processes of the Dask run (default: 2)")
    c = sub.add_parser("classical", help="the classical default set on one split under each backend: time, accuracy",
                       description="Fit and score every classical default-set pipeline on the dataset's official "
                                   "split (a stratified 80/20 hold-out without one) under each backend (--accel) "
                                   "in one process; print per-pipeline fit and predict seconds, accuracy under "
                                   "each backend, the agreement of their test predictions, and the totals.")
    c.add_argument("--dataset", default="fer2013",
                   help="dataset or spec, e.g. fer2013 once imported, or synth-wild:n=2000 (default: fer2013)")
    c.add_argument("--model", default="classical", help="pipelines (default: classical, the default set)")
    for q in (s, c):
        q.add_argument("--accel", default="sklearn,auto",
                       help="comma-separated backends timed side by side: sklearn, intelex, cuml, auto "
                            "(default: sklearn,auto: scikit-learn and the accelerated backend installed)")
        q.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                       help="with cuda, --accel auto picks cuML for classical pipelines when it is installed "
                            "(scale: also where deep models train)")
        q.add_argument("--data-dir", default=None, metavar="DIR", help="where imported datasets are cached")
    for q in (t, r, s, c):
        add_threads_argument(q)
    for q in (f, t, r, s, c, par):
        q.add_argument("--json", default=None, metavar="FILE", help="also write the results as JSON to FILE")


def _print_rows(rows: list[dict[str, Any]]) -> None:
    from tabulate import tabulate

    cols = list(dict.fromkeys(k for r in rows for k in r))
    print(tabulate([[r.get(c, "") for c in cols] for r in rows], headers=cols, tablefmt="github", floatfmt=".4g"))


def perf_from_args(args: argparse.Namespace) -> int:
    if args.perf_command == "features":
        import numpy as np

        from baselines.perf import feature_benchmark

        if args.dataset:
            from bench.data import catalog as datasets

            images = datasets.load(args.dataset, getattr(args, "data_dir", None)).images
        else:
            images = np.random.default_rng(0).integers(0, 256, size=(args.n, 48, 48), dtype=np.uint8)
        which = tuple(w.strip() for w in args.features.split(",") if w.strip())
        rows = feature_benchmark(images, which=which)
    elif args.perf_command == "train":
        from deep.perf import train_benchmark

        rows = [train_benchmark(model=m.strip(), n_images=args.n, batch_size=args.batch_size, device=args.device,
                                seconds=args.seconds, num_workers=args.num_workers)
                for m in args.model.split(",") if m.strip()]
    elif args.perf_command == "run":
        rows = [time_run(args.args.split())]
    elif args.perf_command == "parallel":
        from bench.perf.parallel import parallel_benchmark, run_args

        rows = parallel_benchmark(run_args(args.dataset, args.model, args.folds), args.workers)
    elif args.perf_command == "scale":
        from bench.core.models import resolve_models
        from bench.perf.classical import backends_of
        from bench.perf.scaling import growth, scale_benchmark

        try:
            sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
        except ValueError:
            raise ConfigError(f"--sizes '{args.sizes}' must be comma-separated integers, e.g. 1000,4000") from None
        models = [s.name for s in resolve_models(args.model)]
        done = _earlier_points(args.json) if args.resume else None
        rows = scale_benchmark(models, sizes, args.plot, backends=backends_of(args.accel, args.device),
                               dataset=args.dataset, data_dir=args.data_dir, done=done,
                               on_point=(lambda so_far: _save_json(args.json, {"points": so_far,
                                                                               "growth": growth(so_far)}))
                               if args.json else None)
        slopes = growth(rows)
        _print_rows(rows)
        print("\nlog-log slope of each stage against the number of images (1: linear, 2: quadratic)")
        _print_rows(slopes)
        _write_json(args.json, {"points": rows, "growth": slopes})
        return 0
    elif args.perf_command == "classical":
        from bench.perf.classical import backends_of, classical_benchmark

        result = classical_benchmark(args.dataset, backends_of(args.accel, args.device), args.model,
                                     data_dir=args.data_dir)
        print(f"{result['dataset']}: fit on {result['n_fit']:,} images, accuracy on {result['testset']} "
              f"({result['n_test']:,} images); {result['split']}\n")
        _print_rows(result["table"])
        print()
        _print_rows(result["totals"])
        _write_json(args.json, result)
        return 0
    else:
        raise ConfigError(f"unknown benchmark '{args.perf_command}'")
    _print_rows(rows)
    _write_json(args.json, rows)
    return 0


def _write_json(path: str | None, payload: Any) -> None:
    if path:
        _save_json(path, payload)
        print(f"wrote {path}", file=sys.stderr)


def _save_json(path: str, payload: Any) -> None:
    """Replace ``path`` whole (an interrupted benchmark never leaves half a file)."""
    tmp = Path(f"{path}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    tmp.replace(path)


def _earlier_points(path: str | None) -> list[dict[str, Any]]:
    """The points of an earlier ``bench perf scale --json path`` (none when the file does not exist yet)."""
    if not path:
        raise ConfigError("--resume keeps the points of a --json FILE: give --json")
    p = Path(path)
    if not p.exists():
        return []
    try:
        points = json.loads(p.read_text())["points"]
        if not isinstance(points, list) or not all(isinstance(r, dict) and {"model", "n"} <= set(r) for r in points):
            raise ValueError("'points' is not a list of points")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"--resume: {path} is not a 'bench perf scale --json' file ({exc}); give another "
                          "--json FILE or drop --resume") from None
    return points


RUN_TARGET_S, RUN_TARGET_MB = 15 * 60, 4096


def time_run(run_args: list[str]) -> dict[str, Any]:
    """Wall time and peak RSS of one ``bench run`` in a child process writing to a temporary folder."""
    import os
    import subprocess
    import tempfile
    import time

    with tempfile.TemporaryDirectory() as out, tempfile.TemporaryFile("w+") as log:
        cmd = [sys.executable, "-m", "bench", "run", *run_args, "--out", out, "--no-progress"]
        print(f"timing 'bench run {' '.join(run_args)}' in a child process", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
        # wait4 gives this child's own peak resident set (kB on Linux), not that of earlier children.
        with Heartbeat(lambda s: print(f"  ... {s}", file=sys.stderr, flush=True), "running", after=30, every=30):
            _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # tell Popen the child is reaped (no ResourceWarning)
        log.seek(0)
        stderr = log.read()
    peak = usage.ru_maxrss / 1024
    if proc.returncode != 0:
        tail = (stderr.strip().splitlines() or ["?"])[-1]
        raise ConfigError(f"'bench run {' '.join(run_args)}' failed with exit {proc.returncode}: {tail}")
    return {"command": "bench run " + " ".join(run_args), "wall_s": round(wall, 1),
            "target_wall_s": RUN_TARGET_S, "wall_ok": wall <= RUN_TARGET_S, "peak_rss_mb": round(peak, 1),
            "target_rss_mb": RUN_TARGET_MB, "rss_ok": peak <= RUN_TARGET_MB}
