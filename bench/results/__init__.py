"""What a run leaves behind and how it is scored: the run folder format, per-fold metrics, and the statistics
the leaderboard and reports compute from them."""
