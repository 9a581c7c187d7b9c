"""``bench perf``: benchmarks that time fer-bench's path beside a reference and print the ratio."""
