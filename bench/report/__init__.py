"""Publishable reports of one run folder: ``bench report RUN`` -> RUN/report/report.md with PNG figures.

Modules: ``cli`` (the command's arguments and defaults), ``data`` (reading a run), ``tables`` (confusion
matrices, per-class scores, summary, overfitting gap), ``confidence`` (paper 003's confidence statistics,
reliability bins, ECE), ``audit`` (confused pairs, highest-confidence errors, reloading the images), ``figures``
(matplotlib drawings), ``build`` (the report itself, ``build_report(run, ReportOptions(...))``, and the
command's entry point).
"""
