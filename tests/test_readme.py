"""The README's promises: two set-up commands, the test one run verbatim by CI, a generated leaderboard block."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", section, flags=re.S)


def test_readme_has_exactly_two_setup_commands():
    commands = _setup_commands()
    assert len(commands) == 2, commands
    assert commands[0].endswith("bench run --protocol cross --model all")
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _setup_commands()[1] in ci


def test_readme_has_leaderboard_markers():
    text = (ROOT / "README.md").read_text()
    assert text.index("<!-- leaderboard:start -->") < text.index("<!-- leaderboard:end -->")


def test_readme_performance_table_matches_the_saved_benchmarks():
    import json

    perf = ROOT / "results" / "perf"
    section = (ROOT / "README.md").read_text().split("## Performance", 1)[1].split("\n## ", 1)[0]
    table = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
             for line in section.splitlines() if line.startswith("| ") and "---" not in line}
    for r in json.loads((perf / "features-fer2013.json").read_text()):
        row = table[f"features, {r['feature'].upper()} (real FER2013)"]
        assert row[0] == f"{r['batch_images_per_s']:,.0f} img/s" and row[1] == f"{r['reference_images_per_s']:,.0f} img/s"
        assert row[2] == f"{r['speedup']:.1f}x" and row[3] == f"{r['target']:g}x"
    for r in json.loads((perf / "train.json").read_text()):
        row = table[f"train, {r['model']} 48 px"]
        assert row[0] == f"{r['fer_bench_images_per_s']:.0f} img/s" and row[1] == f"{r['reference_images_per_s']:.0f} img/s"
        assert row[2] == f"{r['speedup']:.2f}x" and row[3] == f"{r['target']:g}x"
    (run,) = json.loads((perf / "run.json").read_text())
    minutes, seconds = divmod(round(run["wall_s"]), 60)
    row = table[f"run, `{run['command'].removeprefix('bench run ')}`"]
    assert row[0] == f"{minutes} min {seconds} s, {run['peak_rss_mb'] / 1024:.1f} GiB peak"
    one, dask = json.loads((perf / "parallel.json").read_text())
    row = table[f"parallel, `{dask['command'].removeprefix('bench run ')}`, {dask['workers']} workers"]
    assert row[:4] == [f"{dask['wall_s']:g} s", f"{one['wall_s']:g} s", f"{dask['speedup']:.2f}x", f"{dask['target']:g}x"]
    assert dask["same_metrics"]
    classical = json.loads((perf / "classical-fer2013.json").read_text())
    for total in classical["totals"]:
        row = table[f"classical default set, FER2013 official split ({total['backend']})"]
        assert row[0] == f"{total['total']}, slowest {total['slowest']} {total['slowest s']:.0f} s"
    scale = json.loads((perf / "scale-fer2013.json").read_text())["points"]
    largest = max(p["n"] for p in scale)
    totals = {b: sum(p["fit_s"] + p["predict_s"] for p in scale if p["n"] == largest and p["backend"] == b)
              for b in ("intelex", "sklearn")}
    row = table[f"scale, FER2013 default set at {largest:,} training images: features, fit and 1,000 predictions"]
    assert row[:3] == [f"{totals['intelex']:,.0f} s", f"{totals['sklearn']:,.0f} s",
                       f"{totals['sklearn'] / totals['intelex']:.2f}x"]
