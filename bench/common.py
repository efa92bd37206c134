"""Shared helpers of the benchmarks: paths, machine note, statistics, result files.

Not a benchmark itself. Every bench writes its headline figures, when asked
with ``--results FILE``, as JSON rows ``{figure, goal, measured, baseline}``
that ``run_all.py`` turns into one Markdown table.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
for entry in (str(ROOT), str(BENCH_DIR)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

# Core bugs the benches work around (each bench appends a line when it does).
NOTES: list[str] = []


@dataclass(frozen=True)
class Row:
    """One line of the combined results table."""

    bench: str
    figure: str
    goal: str
    measured: str
    baseline: str


def voicemode_exe() -> str:
    """The ``voicemode`` console script of the interpreter running the bench."""
    candidate = Path(sys.executable).parent / "voicemode"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("voicemode")
    if found is None:
        raise SystemExit("voicemode console script not found; run with .venv/bin/python")
    return found


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for ``voicemode`` subprocesses."""
    return {**os.environ, **(extra or {})}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_note(shared: str = "the load generator and the server share them") -> str:
    cores = os.cpu_count() or 0
    return (
        f"Machine: {cores} cores ({cpu_model()}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; {shared}."
    )


def heading(title: str, char: str = "=") -> None:
    print()
    print(title)
    print(char * len(title), flush=True)


def workaround_notes() -> list[str]:
    return list(NOTES)


def print_workarounds() -> None:
    for note in workaround_notes():
        print(f"NOTE (core bug worked around): {note}", flush=True)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summary_ms(values_s: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max (ms) and count of durations given in seconds."""
    ordered = sorted(values_s)
    return {
        "count": len(ordered),
        "p50": percentile(ordered, 50) * 1000,
        "p95": percentile(ordered, 95) * 1000,
        "p99": percentile(ordered, 99) * 1000,
        "max": (ordered[-1] * 1000) if ordered else math.nan,
        "mean": (sum(ordered) / len(ordered) * 1000) if ordered else math.nan,
    }


def fmt_summary(stats: dict[str, float]) -> str:
    return (
        f"p50 {stats['p50']:.2f} ms, p95 {stats['p95']:.2f} ms, "
        f"p99 {stats['p99']:.2f} ms, max {stats['max']:.2f} ms (n={int(stats['count'])})"
    )


def rate(value: float) -> str:
    return f"{value:,.0f} events/s"


def write_results(path: str | None, rows: Sequence[Row], extra: dict[str, object]) -> None:
    """Save rows for ``run_all.py`` (no-op without ``--results``)."""
    if not path:
        return
    payload = {"rows": [asdict(row) for row in rows], "notes": workaround_notes(), **extra}
    Path(path).write_text(json.dumps(payload, indent=2, default=str))


def markdown_table(rows: Sequence[Row]) -> str:
    lines = ["| bench | figure | goal | measured | baseline (same run) |", "|---|---|---|---|---|"]
    for row in rows:
        cells = [row.bench, row.figure, row.goal, row.measured, row.baseline]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)
