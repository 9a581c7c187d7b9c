"""Leaderboard rendering from run folders."""
