"""The ``bench report`` command's arguments and entry point (light: the drawing modules load on use)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.core.errors import ConfigError

DEFAULT_THRESHOLD = 0.6
DEFAULT_BINS = 15


def add_report_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run folder written by 'bench run' (holds manifest.json)")
    p.add_argument("--out", default=None, help="folder for report.md and its figures (default: RUN/report)")
    p.add_argument("--model", default=None, help="comma-separated models to report on (default: every model)")
    p.add_argument("--per-fold", action="store_true", help="also draw one confusion matrix per fold")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help="confidence analysis: share and accuracy of predictions below this confidence (default 0.6)")
    p.add_argument("--bins", type=int, default=DEFAULT_BINS,
                   help="equal-width confidence bins of the reliability diagram and ECE (default 15)")
    p.add_argument("--errors", type=int, default=18,
                   help="how many highest-confidence errors the audit shows as thumbnails (default 18)")
    p.add_argument("--samples", type=int, default=8,
                   help="test images in the emotion-analysis view, one per class first (default 8)")
    p.add_argument("--no-images", action="store_true",
                   help="do not load the dataset: no thumbnails, error grid or emotion-analysis view")
    p.add_argument("--data-dir", default=None, metavar="DIR",
                   help="where imported datasets are cached (default: the run's, else $FER_BENCH_DATA_DIR)")


def report_from_args(args: argparse.Namespace) -> int:
    if not 0 < args.threshold <= 1:
        raise ConfigError(f"--threshold {args.threshold} must lie in (0, 1]; e.g. 0.6")
    if args.bins < 1 or args.errors < 0 or args.samples < 0:
        raise ConfigError("--bins must be at least 1 and --errors / --samples at least 0")
    from bench.report.build import ReportOptions, build_report

    models = [m.strip() for m in args.model.split(",") if m.strip()] if args.model else None
    opts = ReportOptions(per_fold=args.per_fold, threshold=args.threshold, bins=args.bins, n_errors=args.errors,
                         n_samples=args.samples, models=models, data_dir=args.data_dir,
                         images=not args.no_images, out=Path(args.out) if args.out else None)
    path = build_report(args.run, opts)
    print(f"wrote {path} with {path.read_text().count('![')} figures beside it")
    return 0
