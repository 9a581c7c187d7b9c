"""Importers register themselves here (filled in by the importers work)."""
