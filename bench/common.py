"""Shared helpers of the benchmarks: paths, machine note, statistics, result files.

Not a benchmark itself. Every bench writes its headline figures, when asked
with ``--results FILE``, as JSON rows ``{figure, goal, measured, baseline}``
that ``run_all.py`` turns into one Markdown table.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import platform
import resource
import shutil
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
# bench/livekit.py is named after LiveKit's SDK, a namespace package, which any livekit.py on
# sys.path shadows: bind the name to the SDK once, with bench/ out of the way, before any
# bench imports it (directly, or through the adapters, e.g. the Silero VAD's model lookup).
while str(BENCH_DIR) in sys.path:
    sys.path.remove(str(BENCH_DIR))
importlib.import_module("livekit")
for entry in (str(ROOT), str(BENCH_DIR)):
    if entry not in sys.path:
        sys.path.insert(0, entry)


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
    payload = {"rows": [asdict(row) for row in rows], **extra}
    Path(path).write_text(json.dumps(payload, indent=2, default=str))


def markdown_table(rows: Sequence[Row]) -> str:
    lines = ["| bench | figure | goal | measured | baseline (same run) |", "|---|---|---|---|---|"]
    for row in rows:
        cells = [row.bench, row.figure, row.goal, row.measured, row.baseline]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def system_busy_seconds() -> float:
    """CPU time (all cores) the whole machine spent not idle, from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return math.nan
    values = [int(value) for value in fields[:8]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU used by this process and its reaped children (subprocesses, servers)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def all_process_cpu() -> dict[int, tuple[str, float]]:
    """CPU seconds so far of every process on the machine (kernel threads included)."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[str, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.find("(") + 1 : stat.rfind(")")]
        fields = stat.rsplit(")", 1)[1].split()
        found[int(entry)] = (name, (int(fields[11]) + int(fields[12])) / ticks)
    return found


def top_others(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], mine: set[int]
) -> list[tuple[str, float]]:
    """The processes outside ``mine`` that used the most CPU between two snapshots."""
    used: dict[str, float] = defaultdict(float)
    for pid, (name, seconds) in after.items():
        if pid in mine:
            continue
        used[name] += seconds - before.get(pid, (name, 0.0))[1]
    return sorted(((n, s) for n, s in used.items() if s > 0), key=lambda x: -x[1])[:4]


class OtherLoad:
    """How much CPU other processes took while a bench ran (the machine is shared).

    Busy time of the whole machine minus this bench's own CPU (itself and the
    subprocesses it started and reaped). Figures measured while this is high
    are disturbed.
    """

    def __init__(self) -> None:
        self.began = time.perf_counter()
        self.busy = system_busy_seconds()
        self.own = own_cpu_seconds()
        self.load = loadavg()
        self.processes = all_process_cpu()

    def other_core_fraction(self) -> float:
        elapsed = time.perf_counter() - self.began
        other = (system_busy_seconds() - self.busy) - (own_cpu_seconds() - self.own)
        return max(0.0, other) / elapsed if elapsed > 0 else 0.0

    def report(self) -> str:
        elapsed = time.perf_counter() - self.began
        fraction = self.other_core_fraction()
        mine = {os.getpid(), *_descendants(os.getpid())}
        top = top_others(self.processes, all_process_cpu(), mine)
        line = (
            f"Machine load: other processes used {fraction:.0%} of a core on average over "
            f"these {elapsed:.0f} s (load average at start {self.load}, now {loadavg()}; "
            f"top: {', '.join(f'{name} {seconds:.1f} s' for name, seconds in top) or '-'}; "
            f"kernel threads such as kworker/jbd2 may be doing this bench's disk flushes)"
        )
        if fraction > 0.1:
            line += "; WARNING: the machine was busy with other work, figures are disturbed"
        return line + "."


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        children[int(stat.rsplit(")", 1)[1].split()[1])].append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
