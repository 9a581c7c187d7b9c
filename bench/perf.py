"""``bench perf``: benchmarks that run fer-bench's path and a reference side by side and print the ratio.

Speed targets are checked here, never by timed unit tests. Results print as a table and can be saved as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench.errors import ConfigError


def add_perf_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="perf_command", metavar="BENCHMARK", required=True)
    f = sub.add_parser("features", help="batch LBP/HOG/DWT extraction vs a per-image scikit-image/PyWavelets loop",
                       description="Feature extraction speed: fer-bench's batch path vs a per-image loop with the "
                                   "same parameters, on the same images; checks both give the same features.")
    f.add_argument("--n", type=int, default=35887, help="number of 48x48 images (default: 35887, FER2013's size)")
    f.add_argument("--dataset", default=None,
                   help="use this dataset's images instead of random ones (e.g. fer2013 once imported)")
    f.add_argument("--features", default="lbp,hog,dwt", help="comma-separated features to time (default: lbp,hog,dwt)")
    t = sub.add_parser("train", help="training images/s: batched tensor pipeline vs per-sample PIL + DataLoader",
                       description="Training throughput of one model: fer-bench's batched tensor pipeline vs a "
                                   "per-sample PIL transform + DataLoader pipeline, same model, batch and "
                                   "augmentations, in one process.")
    t.add_argument("--model", default="cnn-003,resnet18-scratch",
                   help="comma-separated deep models (default: cnn-003,resnet18-scratch)")
    t.add_argument("--n", type=int, default=4096, help="number of 48x48 training images (default: 4096)")
    t.add_argument("--batch-size", type=int, default=64, help="batch size for both pipelines (default: 64)")
    t.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where to train (default: auto)")
    for q in (f, t):
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
            from bench import datasets

            images = datasets.load(args.dataset, getattr(args, "data_dir", None)).images
        else:
            images = np.random.default_rng(0).integers(0, 256, size=(args.n, 48, 48), dtype=np.uint8)
        which = tuple(w.strip() for w in args.features.split(",") if w.strip())
        rows = feature_benchmark(images, which=which)
    elif args.perf_command == "train":
        from deep.perf import train_benchmark

        rows = [train_benchmark(model=m.strip(), n_images=args.n, batch_size=args.batch_size, device=args.device)
                for m in args.model.split(",") if m.strip()]
    else:
        raise ConfigError(f"unknown benchmark '{args.perf_command}'")
    _print_rows(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2, default=str) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0
