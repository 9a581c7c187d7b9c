"""Importing this module loads the models installed packages publish under the ``fer_bench.models`` entry-point
group: the model registry declares it as its last family, so it happens only when a model is looked up."""

from bench.core.plugins import load_entry_points

load_entry_points()
