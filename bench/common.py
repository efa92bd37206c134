"""Shared helpers of the benchmarks: paths, machine note, statistics, result files.

Not a benchmark itself. Every bench writes its headline figures, when asked
with ``--results FILE``, as JSON rows ``{figure, goal, measured, baseline}``
that ``run_all.py`` turns into one Markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
if str(ROOT) not in sys.path:  # benches reuse the tests' servers (tests/support)
    sys.path.insert(0, str(ROOT))


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
    if not stats["count"]:
        return "none (n=0)"
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


ProcessSnapshot = dict[int, tuple[str, float, int]]
"""Every process on the machine: pid -> (name, CPU seconds so far, parent pid)."""


def _proc_stats() -> Iterator[tuple[int, str, list[str]]]:
    """Every process on the machine: pid, name, and the ``/proc/PID/stat`` fields after it."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.find("(") + 1 : stat.rfind(")")]
        yield int(entry), name, stat.rsplit(")", 1)[1].split()


def all_process_cpu() -> ProcessSnapshot:
    """CPU seconds so far and parent of every process on the machine (kernel threads included)."""
    ticks = os.sysconf("SC_CLK_TCK")
    return {
        pid: (name, (int(fields[11]) + int(fields[12])) / ticks, int(fields[1]))
        for pid, name, fields in _proc_stats()
    }


def family(snapshot: ProcessSnapshot, roots: set[int]) -> set[int]:
    """``roots`` and every process descending from one of them, as the snapshot saw it.

    Taken from the snapshot itself, so a child that ran then (a server's espeak-ng or
    Apertium process) counts as part of the system even if it exited since.
    """
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (_, _, ppid) in snapshot.items():
        children[ppid].append(pid)
    found = set(roots)
    todo = list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def top_others(
    before: ProcessSnapshot, after: ProcessSnapshot, mine: set[int]
) -> list[tuple[str, float]]:
    """The processes outside ``mine`` and its descendants that used the most CPU in between."""
    ours = family(before, mine) | family(after, mine)
    used: dict[str, float] = defaultdict(float)
    for pid, (name, seconds, _) in after.items():
        if pid in ours:
            continue
        used[name] += seconds - before.get(pid, (name, 0.0, 0))[1]
    return sorted(((n, s) for n, s in used.items() if s > 0), key=lambda x: -x[1])[:4]


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a process and its live descendants, the children they reaped included.

    ``cutime``/``cstime`` hold what exited children (espeak-ng runs, Apertium
    pipelines) used, so their work stays the system's, not "other processes'".
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for member in (pid, *descendants(pid)):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / ticks


class OtherLoad:
    """How much CPU other processes took while a bench ran (the machine is shared).

    Busy time of the whole machine minus this bench's own CPU: itself, the
    subprocesses it started (running or reaped) and their children (running
    or reaped). Figures measured while this is high are disturbed.
    """

    def __init__(self) -> None:
        self.began = time.perf_counter()
        self.busy = system_busy_seconds()
        self.own = self._own()
        self.load = loadavg()
        self.processes = all_process_cpu()

    @staticmethod
    def _own() -> float:
        me = os.getpid()
        return own_cpu_seconds() + sum(tree_cpu_seconds(child) for child in _children(me))

    def other_core_fraction(self) -> float:
        elapsed = time.perf_counter() - self.began
        other = (system_busy_seconds() - self.busy) - (self._own() - self.own)
        return max(0.0, other) / elapsed if elapsed > 0 else 0.0

    def report(self) -> str:
        elapsed = time.perf_counter() - self.began
        fraction = self.other_core_fraction()
        top = top_others(self.processes, all_process_cpu(), {os.getpid()})
        line = (
            f"Machine load: other processes used {fraction:.0%} of a core on average over "
            f"these {elapsed:.0f} s (load average at start {self.load}, now {loadavg()}; "
            f"top: {', '.join(f'{name} {seconds:.1f} s' for name, seconds in top) or '-'}; "
            f"kernel threads such as kworker/jbd2 may be doing this bench's disk flushes)"
        )
        if fraction > 0.1:
            line += "; WARNING: the machine was busy with other work, figures are disturbed"
        return line + "."


def _children(pid: int) -> list[int]:
    return [child for child, _, fields in _proc_stats() if int(fields[1]) == pid]


def descendants(pid: int) -> list[int]:
    """Every live process descending from ``pid``."""
    children: dict[int, list[int]] = defaultdict(list)
    for child, _, fields in _proc_stats():
        children[int(fields[1])].append(child)
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class Verdicts:
    """A bench's judgement of its own run: measurement failures and goal verdicts.

    A *failure* means the figure was not measured (something lost or duplicated,
    a reader died, the load generator fell behind, a headline would be ``nan``):
    the bench prints ``FAIL: ...`` and exits non-zero. A *goal* verdict says
    whether a valid figure met its goal (``GOAL MET`` / ``GOAL MISSED``); a miss
    is a finding, not a broken bench, so it does not change the exit code.
    """

    def __init__(self, bench: str) -> None:
        self.bench = bench
        self.failures: list[str] = []
        self.goals: list[str] = []

    def fail(self, reason: str, *, quiet: bool = False) -> None:
        """Record that something the bench measures did not happen (``quiet``: printed)."""
        self.failures.append(reason)
        if not quiet:
            print(f"  FAIL: {reason}", flush=True)

    def finite(self, name: str, value: float) -> bool:
        """Fail unless ``value`` is a number (a headline is never ``nan``)."""
        if isinstance(value, int | float) and math.isfinite(value):
            return True
        self.fail(f"{name}: nothing was measured (the figure would be nan)")
        return False

    def goal(self, name: str, met: bool, detail: str) -> None:
        """Print and keep one goal verdict."""
        line = f"GOAL {'MET' if met else 'MISSED'}: {name}: {detail}"
        self.goals.append(line)
        print(line, flush=True)

    def finish(self) -> int:
        """Print the verdicts and failures again, last; return the exit code."""
        heading(f"Verdicts ({self.bench})", "-")
        for line in self.goals:
            print(line)
        for reason in self.failures:
            print(f"FAIL: {reason}")
        if self.failures:
            print(
                f"RESULT: FAIL ({len(self.failures)} problem(s): the figures above are not valid)"
            )
            return 1
        print("RESULT: OK (every figure above was measured)")
        return 0


def num(value: float, spec: str = ".0f", unit: str = "") -> str:
    """A figure for printing; ``-`` instead of ``nan`` (never print nan as a figure)."""
    if not (isinstance(value, int | float) and math.isfinite(value)):
        return "-"
    return f"{value:{spec}}{unit}"


def add_smoke_flag(parser: argparse.ArgumentParser, what: str) -> None:
    """The ``--smoke`` flag every bench has: tiny sizes, still measured, still failing loudly."""
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"tiny sizes, a few seconds ({what}); measures for real and fails loudly",
    )
