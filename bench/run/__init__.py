"""The run engine and tuning: one path that fits a model on a fold and scores it, the loop over (model, fold)
units that writes a run folder, and Optuna studies nested inside a fold's training data."""
