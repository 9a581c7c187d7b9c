"""The base layer every other package imports: errors, the emotion vocabulary, registries, the model contract,
atomic file writes. Nothing here imports anything above it, nor numpy-heavy libraries beyond numpy."""
