"""The ``bench report`` command's arguments and defaults (light: the command line imports it at start)."""

from __future__ import annotations

import argparse

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
