"""The data layer: the canonical dataset object, the on-disk cache, the importers of native layouts and the
synthetic family."""
