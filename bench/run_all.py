"""Run every benchmark at its default (full) size, one after the other, and
print one Markdown table of the results (figure, goal, measured, baseline)
ready to paste into the README.

    .venv/bin/python bench/run_all.py               # full sizes (delivery alone takes minutes)
    .venv/bin/python bench/run_all.py --quick       # small sizes
    .venv/bin/python bench/run_all.py --smoke       # every bench's --smoke (~5 min), as CI runs
    .venv/bin/python bench/run_all.py --only store,replay --markdown results.md

Each bench's own report is streamed as it runs; the table comes last, then the
goal verdicts and failures. The exit code is 1 if any bench failed (exited
non-zero: something it measures did not happen, or it broke).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common
from common import Row, heading, machine_note

BENCHES = (
    "store",
    "replay",
    "delivery",
    "voice",
    "recording",
    "livekit_rooms",
    "idle_tracks",
    "assistant",
    "web_client",
)
QUICK_ARGS = {
    "store": ["--rooms", "20", "--seconds", "2"],
    "replay": ["--events", "50000", "--rooms", "20"],
    "delivery": ["--rooms", "20", "--seconds", "5", "--warmup", "2"],
    "voice": ["--speakers", "1,2", "--sentences", "4"],
    "recording": ["--speakers", "1", "--sentences", "4", "--rounds", "1"],
    "livekit_rooms": ["--quick"],
    "idle_tracks": ["--rounds", "1"],
    "assistant": ["--questions", "4"],
    "web_client": ["--sentences", "4"],
}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only", default=",".join(BENCHES), help=f"comma-separated subset of {', '.join(BENCHES)}"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument(
        "--smoke", action="store_true", help="each bench's --smoke: tiny sizes, a few seconds"
    )
    parser.add_argument("--markdown", default=None, help="also write the table to this file")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in BENCHES]
    if unknown:
        parser.error(f"unknown bench(es): {unknown}")

    size = "smoke" if args.smoke else "quick sizes" if args.quick else "full sizes"
    heading(f"bench/run_all.py ({size})")
    print(machine_note(), flush=True)
    rows: list[Row] = []
    loads: list[str] = []
    verdicts: list[str] = []
    durations: dict[str, float] = {}
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="voicemode-bench-all-") as tmp:
        for name in chosen:
            results = Path(tmp) / f"{name}.json"
            command = [
                sys.executable,
                str(common.BENCH_DIR / f"{name}.py"),
                "--results",
                str(results),
            ]
            if args.smoke:
                command.append("--smoke")
            elif args.quick:
                command += QUICK_ARGS[name]
            began = time.perf_counter()
            code = subprocess.call(command, cwd=common.ROOT)
            durations[name] = time.perf_counter() - began
            if not results.exists():
                failed.append(f"{name} (exit {code}, no results)")
                rows.append(Row(name, "bench failed", "-", f"exit {code}", "-"))
                continue
            payload = json.loads(results.read_text())
            if code != 0:
                reasons = "; ".join(payload.get("failures", [])) or "see its report"
                failed.append(f"{name} (exit {code}: {reasons})")
                rows.append(Row(name, "bench FAILED: figures not valid", "-", reasons, "-"))
            rows.extend(Row(**row) for row in payload["rows"])
            verdicts += [f"{name}: {line}" for line in payload.get("goals", [])]
            if payload.get("machine_load"):
                loads.append(f"{name}: {payload['machine_load']}")

    heading("Combined results")
    table = common.markdown_table(rows)
    footer = [
        "",
        "- " + machine_note() + " Baselines are measured in the same run, on the same machine.",
        "- Run times: "
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in durations.items())
        + ".",
    ]
    footer += [f"- {line}" for line in loads]
    text = table + "\n" + "\n".join(footer)
    print(text)
    if verdicts:
        heading("Goal verdicts", "-")
        print("\n".join(verdicts))
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")
    if failed:
        print(f"\nFAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
