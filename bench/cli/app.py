"""The ``bench`` command line: data import/inspection, runs, leaderboard, benchmarks."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Sequence

from bench import __version__
from bench.core.errors import BenchError
from bench.core.models import FAMILIES, MODELS
from bench.core.offline import set_offline
from bench.core.plugins import include
from bench.core.threads import limit_threads

HANDLERS = {
    "run": "bench.run.engine:run_from_args",
    "tune": "bench.run.tuning:tune_from_args",
    "dashboard": "bench.run.dashboard:dashboard_from_args",
    "perf": "bench.perf.cli:perf_from_args",
    "report": "bench.report.build:report_from_args",
    "leaderboard": "leaderboard.write:leaderboard_from_args",
    "models": "bench.cli.listing:models_from_args",
    "protocols": "bench.cli.listing:protocols_from_args",
    "eval": "bench.run.evaluate:eval_from_args",
    "predict": "bench.run.predict:predict_from_args",
    "export": "bench.run.export:export_from_args",
}
EPILOG = "Errors are printed as one line with a non-zero exit; add --debug for the full traceback."


def _add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=None, metavar="DIR",
                   help="where imported datasets are cached (default: $FER_BENCH_DATA_DIR or the user cache dir)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench",
        description="fer-bench: run facial expression recognition models under the same protocols, "
                    "the same way, and write one leaderboard.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"fer-bench {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    # ------------------------------------------------------------------ data
    data = sub.add_parser("data", help="import, list and inspect datasets",
                          description="Import datasets from their native layouts and inspect them.")
    dsub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    p = dsub.add_parser("list", help="list synthetic and imported datasets",
                        description="List the synthetic datasets (always available) and the imported ones.")
    _add_data_dir(p)
    p = dsub.add_parser("info", help="counts per class, subject and official split; image size; duplicates",
                        description="Show class, subject and official-split counts, image size and exact duplicates.")
    p.add_argument("name", help="dataset name or spec (e.g. synth-wild, synth-wild:n=2000, ckplus)")
    p.add_argument("--subjects", action="store_true", help="list the image count of every subject")
    _add_data_dir(p)
    imp = dsub.add_parser("import", help="import a dataset from its native on-disk layout",
                          description="Import a dataset into the cache. Each importer has its own options: "
                                      "'bench data import NAME --help'.")
    isub = imp.add_subparsers(dest="importer", metavar="NAME", required=True)
    from bench.data.catalog import IMPORTERS

    for entry in IMPORTERS.entries():
        ip = isub.add_parser(entry.name, help=entry.obj.description, description=entry.obj.description)
        ip.add_argument("path", help="the dataset's root folder or file")
        ip.add_argument("--name", default=None, help="store under this name (default: the importer's name)")
        ip.add_argument("--force", action="store_true", help="re-import even when the cache is up to date")
        _add_data_dir(ip)
        entry.obj.add_arguments(ip)

    # ------------------------------------------------------------------ run
    from bench.cli.run_args import add_include_argument, add_run_arguments

    run = sub.add_parser("run", help="run models under a protocol and write a run folder",
                         description="Run models under an evaluation protocol. Every finished (model, fold) unit is "
                                     "saved at once; re-running the same command resumes.")
    add_run_arguments(run)
    _add_data_dir(run)

    from bench.cli.tune_args import DESCRIPTION as TUNE_DESCRIPTION
    from bench.cli.tune_args import add_tune_arguments

    tune = sub.add_parser("tune", help="tune one model on one outer fold with Optuna (resumable, shareable)",
                          description=TUNE_DESCRIPTION)
    add_tune_arguments(tune)
    _add_data_dir(tune)
    parser.set_defaults(_commands={"run": run, "tune": tune})
    from bench.run.dashboard import add_dashboard_arguments

    dash = sub.add_parser("dashboard", help="open tuning studies in optuna-dashboard (127.0.0.1 by default)",
                          description="Start optuna-dashboard on a run's study storage (or --storage URL), on "
                                      "loopback by default, and print its address.")
    add_dashboard_arguments(dash)

    from bench.perf.cli import add_perf_arguments

    perf = sub.add_parser("perf", help="speed benchmarks: fer-bench's path vs a reference, side by side",
                          description="Benchmarks that time fer-bench's path and a reference implementation in "
                                      "the same process on the same data and print the ratio.")
    add_perf_arguments(perf)

    from bench.report.cli import add_report_arguments

    rep = sub.add_parser("report", help="write RUN/report/report.md with figures and tables",
                         description="A publishable report of one run folder: confusion matrices, per-class "
                                     "scores, learning curves, confidence analysis, misclassification audit.")
    add_report_arguments(rep)

    models = sub.add_parser("models", help="list the registered models (family, default set, description)",
                            description="List every registered model, or show one with its search space and "
                                        "presets. 'bench run --model' takes these names, patterns such as "
                                        "'hog-*', or classical, deep, all (the default set).")
    models.add_argument("--family", choices=FAMILIES, default=None, help="only this family's models")
    add_include_argument(models)
    models.add_argument("--show", default=None, metavar="NAME",
                        help="one model in full: description, search space and (deep) both presets")
    protocols = sub.add_parser("protocols", help="list the evaluation protocols and their options",
                               description="List the registered protocols: the data they load, their test sets "
                                           "and the options they read.")
    protocols.add_argument("--show", default=None, metavar="NAME",
                           help="one protocol's options and fold variants")

    from bench.cli import io_args

    p = sub.add_parser("eval", help="score a saved or ONNX model on a dataset; writes a zero-shot run folder",
                       description=io_args.EVAL)
    io_args.add_eval_arguments(p)
    p = sub.add_parser("predict", help="a model's probabilities and predicted label for image files (CSV)",
                       description=io_args.PREDICT)
    io_args.add_predict_arguments(p)
    p = sub.add_parser("export", help="export a run's saved deep model to ONNX", description=io_args.EXPORT)
    io_args.add_export_arguments(p)

    lb = sub.add_parser("leaderboard", help="regenerate the leaderboard from run folders",
                        description="Rebuild leaderboard/LEADERBOARD.md and the README block from run folders.")
    lb.add_argument("runs", nargs="*", default=None,
                    help="run folders or folders of runs (default: results/ and runs/)")
    lb.add_argument("--output", default="leaderboard/LEADERBOARD.md", help="markdown file to write")
    lb.add_argument("--readme", default="README.md",
                    help="README whose leaderboard block is replaced ('' to leave it alone)")
    lb.add_argument("--check", action="store_true",
                    help="do not write; exit 1 if the files differ from what would be generated")
    return parser


def _cmd_data(args: argparse.Namespace) -> int:
    from bench.cli.data import print_dataset_info, print_import_report, print_table
    from bench.data import catalog as datasets

    if args.data_command == "list":
        print_table(datasets.available(args.data_dir), ["name", "kind", "description", "options"])
        return 0
    if args.data_command == "info":
        print_dataset_info(datasets.load(args.name, args.data_dir), show_subjects=args.subjects)
        return 0
    importer = datasets.IMPORTERS.get(args.importer)
    options = {o.dest: getattr(args, o.dest) for o in importer.options}
    ds, fresh = datasets.import_dataset(args.importer, args.path, name=args.name, data_dir=args.data_dir,
                                        force=args.force, **options)
    print_import_report(ds, fresh)
    return 0


def _one_line_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                      line: str | None = None) -> str:
    # Warnings are messages to the user (a damaged file skipped, a rare class): one line, no source excerpt.
    return f"warning: {' '.join(str(message).split())}\n"


def _stdout_gone() -> int:
    """The reader of our output left (``bench ... | head``): stop quietly, as a shell command would."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush must not fail again
    except (OSError, ValueError):
        pass
    return 141  # 128 + SIGPIPE, the status of a command the shell saw killed by a closed pipe


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    warnings.formatwarning = _one_line_warning
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if getattr(args, "config", None):
            # The file's options become the command's defaults; the command line, parsed again, wins over them.
            from bench.cli.experiment import read_experiment

            args._commands[args.command].set_defaults(**read_experiment(args.config))
            args = parser.parse_args(argv)
        args.command_line = ["bench", *argv]  # what manifests record, also when main() is called from Python
        if args.command == "data":
            code = _cmd_data(args)
        else:
            limit_threads(getattr(args, "threads", None))
            if getattr(args, "offline", False):
                set_offline()
            if getattr(args, "include", None):
                MODELS.load()  # the built-in names first: a user's model that clashes with one is refused
                for path in args.include:
                    include(path)
            module, func = HANDLERS[args.command].split(":")
            # Handlers are imported only when their command runs: `bench data` never loads torch or optuna.
            code = getattr(importlib.import_module(module), func)(args)
        sys.stdout.flush()  # here, where a closed pipe is caught, not in the interpreter's exit
        return code
    except BenchError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: finished units are saved; re-run the same command to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _stdout_gone()
    except Exception as exc:  # noqa: BLE001 - the CLI promises one line unless --debug
        if debug:
            raise
        msg = " ".join(str(exc).split())
        print(f"error: {type(exc).__name__}: {msg} (re-run with --debug for the traceback)", file=sys.stderr)
        return 1
