"""Recording's overhead: bench/voice.py's run with every room recording, against the same without.

For each speaker count (``--speakers``, default 1 and 2), the voice bench's
run (real ``voicemode serve``, espeak-ng sentences streamed in real time,
one Spanish listener per room) is done twice per round in alternating order,
recording off then on, then on then off, so a drift of the machine over the
rounds falls on both sides alike. With recording on, ``serve`` runs with
``--record`` and each speaker turns its room's recording on before speaking:
every utterance the recognizer heard and every synthesized translation is
encoded to Ogg Opus and written to the recordings directory.

Reported per speaker count, off and on: end of speech -> final, ->
translation, -> first synthesized audio (p50 / p90 over all rounds), and
``serve``'s CPU (process tree) per second of the run, with the clips the
run stored. The overhead is on minus off.

    .venv/bin/python bench/recording.py                    # 1 and 2 speakers, 2 rounds
    .venv/bin/python bench/recording.py --smoke            # 1 speaker, 2 sentences, 1 round
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

import common
import voice
from common import Row, heading, machine_note, percentile

SMOKE = {**voice.SMOKE, "rounds": 1}
LATENCY_FACTOR = 1.1
LATENCY_SLACK_MS = 20.0
"""Recording may add at most 10 % + 20 ms to a p50 (the recorder runs beside the pipeline)."""
CPU_OVERHEAD = 0.05
"""Recording may add at most 5 % of a core to serve (encoding is ~1.5 % of real time)."""


def run_pair(
    n: int, args: argparse.Namespace, round_number: int, plans: list[voice.Plan], warm: bytes
) -> dict[bool, dict[str, Any]]:
    """One run off and one on, in an order that alternates by round."""
    outcomes: dict[bool, dict[str, Any]] = {}
    for record in (False, True) if round_number % 2 == 0 else (True, False):
        workdir = Path(tempfile.mkdtemp(prefix="voicemode-bench-recording-"))
        try:
            run_args = argparse.Namespace(**{**vars(args), "record": record})
            outcomes[record] = voice.run_speakers(n, plans, run_args, workdir, warm)
        finally:
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
    return outcomes


def pooled(outcomes: list[dict[str, Any]], key: str) -> list[float]:
    return sorted(value for outcome in outcomes for value in outcome["combined"][key])


def cpu_share(outcomes: list[dict[str, Any]]) -> float:
    """``serve``'s CPU seconds per second of the run (1.0: one core busy)."""
    busy = sum(float(o["server_cpu_s"]) for o in outcomes)
    return busy / sum(float(o["window_s"]) for o in outcomes)


def rows_for(n: int, runs: dict[bool, list[dict[str, Any]]]) -> list[Row]:
    rows = []
    for key, figure in (
        ("final", "end of speech -> final"),
        ("translation", "end of speech -> translation"),
        ("audio", "end of speech -> first audio"),
    ):
        off, on = pooled(runs[False], key), pooled(runs[True], key)
        rows.append(
            Row(
                "recording",
                f"{n} speaker(s): {figure}, p50 / p90 (ms)",
                "on - off small",
                f"on {percentile(on, 50):.0f} / {percentile(on, 90):.0f}",
                f"off {percentile(off, 50):.0f} / {percentile(off, 90):.0f}",
            )
        )
    clips = sum(o["recorded_clips"] for o in runs[True])
    rows.append(
        Row(
            "recording",
            f"{n} speaker(s): serve CPU (cores busy), clips stored",
            "on - off small",
            f"on {cpu_share(runs[True]):.2f}, {clips} clips",
            f"off {cpu_share(runs[False]):.2f}",
        )
    )
    return rows


def judge(n: int, runs: dict[bool, list[dict[str, Any]]], verdicts: common.Verdicts) -> None:
    """Fail runs that measured nothing or stored nothing; print the overhead goals."""
    for record, outcomes in runs.items():
        if not all(o["combined"]["final"] for o in outcomes):
            verdicts.fail(f"{n} speaker(s), recording {'on' if record else 'off'}: no finals")
    if not all(o["recorded_clips"] for o in runs[True]):
        verdicts.fail(f"{n} speaker(s): recording on stored no clip")
    for key in ("final", "audio"):
        off = percentile(pooled(runs[False], key), 50)
        on = percentile(pooled(runs[True], key), 50)
        if verdicts.finite(f"{key} p50", off) and verdicts.finite(f"{key} p50", on):
            verdicts.goal(
                f"{n} speaker(s): end of speech -> {key} p50 with recording",
                on <= off * LATENCY_FACTOR + LATENCY_SLACK_MS,
                f"{on:.0f} ms (goal <= {LATENCY_FACTOR:g}x off + {LATENCY_SLACK_MS:.0f} ms; "
                f"off: {off:.0f} ms)",
            )
    extra = cpu_share(runs[True]) - cpu_share(runs[False])
    verdicts.goal(
        f"{n} speaker(s): serve CPU added by recording",
        extra <= CPU_OVERHEAD,
        f"{extra:+.3f} cores (goal <= {CPU_OVERHEAD:g})",
    )


def main(argv: list[str] | None = None) -> int:
    parser = voice.build_parser()
    parser.description = __doc__
    parser.set_defaults(speakers="1,2")
    parser.add_argument("--rounds", type=int, default=2, help="off/on pairs per speaker count")
    args = parser.parse_args(argv)
    if args.smoke:
        for name, value in SMOKE.items():
            setattr(args, name, value)
    counts = sorted({int(n) for n in args.speakers.split(",") if n.strip()})
    low, high = (int(v) for v in args.chunk_ms.split(","))
    heading("bench/recording.py: voice latency and CPU with recording off and on")
    print(machine_note("the clients and the server share them"))
    verdicts = common.Verdicts("recording")
    plans, audio = voice.plan_speakers(args, max(counts), (low, high))
    rows: list[Row] = []
    for n in counts:
        runs: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
        for round_number in range(args.rounds):
            pair = run_pair(n, args, round_number, plans, audio[voice.WARMUP_SENTENCE])
            for record, outcome in pair.items():
                runs[record].append(outcome)
        judge(n, runs, verdicts)
        rows += rows_for(n, runs)
    heading("Summary", "-")
    print(common.markdown_table(rows))
    common.write_results(args.results, rows, {"failures": verdicts.failures})
    return verdicts.finish()


if __name__ == "__main__":
    raise SystemExit(main())
