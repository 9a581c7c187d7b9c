"""Publishable reports of one run folder: ``bench report RUN`` -> RUN/report/report.md with PNG figures.

Modules: ``cli`` (the command's arguments and entry point), ``data`` (reading a run), ``tables`` (confusion
matrices, per-class scores, summary, overfitting gap), ``confidence`` (paper 003's confidence statistics,
reliability bins, ECE), ``audit`` (confused pairs, highest-confidence errors, reloading the images), ``figures``
(matplotlib drawings), ``build`` (the report itself: ``build_report(run, ReportOptions(...))``).

Importing this package stays cheap (the CLI parser imports it); matplotlib and scikit-learn load with ``build``.
"""

from bench.report.cli import add_report_arguments, report_from_args

__all__ = ["add_report_arguments", "report_from_args"]
