"""Every bench runs, measures and judges itself, so none can break silently again.

The slow tests run each bench's ``--smoke`` mode (tiny sizes, a few seconds,
real servers and real clients) as a subprocess, as ``bench/run_all.py --smoke``
does, and check that it exited 0 (its figures were measured: nothing lost, no
dead reader, no late generator) and printed its headline verdicts with
numbers, never ``nan``. The LiveKit bench starts its own LiveKit server (run
it locally under ``flock /tmp/livekit.lock``; CI runs tests one at a time).

The fast tests check the rules the benches judge by, without any server.
"""

from __future__ import annotations

import importlib.util
import math
import re
import subprocess
import sys
from types import ModuleType

import pytest

from tests.support.service import ROOT

BENCH = ROOT / "bench"
NUMBER = r"[\d,.]+"

HEADLINES = {
    "store": [
        rf"GOAL (MET|MISSED): durable append vs the library's save-per-event: {NUMBER}x",
        rf"GOAL (MET|MISSED): durable append vs raw batched SQLite inserts .*: {NUMBER}%",
        rf"\d+ room threads, blocking writer.append.* {NUMBER} commits, {NUMBER} events/commit",
    ],
    "replay": [
        rf"GOAL (MET|MISSED): replay text \(\d+ processes\) .*: {NUMBER}% .*--jobs 1\): "
        rf"{NUMBER}%",
        rf"limit: EventStore.scan \+ decode_plain .* {NUMBER} events/s",
    ],
    "delivery": [
        rf"GOAL (MET|MISSED): delivery p99, identity engine, speech off .*: {NUMBER} ms = "
        rf"{NUMBER}x the bare relay's p99",
        rf"GOAL (MET|MISSED): delivery p99 with speech on, en listeners .*: {NUMBER} ms",
        rf"GOAL (MET|MISSED): delivery p99 with speech on, es/fr listeners .*: {NUMBER} ms",
        rf"send -> first synthesized audio byte: p50 {NUMBER} ms",
        rf"GOAL (MET|MISSED): server peak RSS \(VmHWM\), speech .*: {NUMBER} MB",
        rf"client process VmHWM {NUMBER} MB",
    ],
    "voice": [
        rf"GOAL (MET|MISSED): end of speech -> final p50 .*: {NUMBER} ms",
        rf"GOAL (MET|MISSED): end of speech -> translation p50 .*: {NUMBER} ms",
        rf"GOAL (MET|MISSED): end of speech -> audio p50 .*: {NUMBER} ms",
        rf"=> baseline end of speech -> translation p50 {NUMBER} ms.*-> first audio p50 "
        rf"{NUMBER} ms",
    ],
    "recording": [
        rf"GOAL (MET|MISSED): 1 speaker\(s\): end of speech -> final p50 with recording: "
        rf"{NUMBER} ms .*off: {NUMBER} ms",
        rf"GOAL (MET|MISSED): 1 speaker\(s\): serve CPU added by recording: [+-]{NUMBER} cores",
    ],
    "livekit_rooms": [
        rf"GOAL (MET|MISSED): mouth to ear over LiveKit p50: {NUMBER} ms",
        rf"baseline: LiveKit alone.*\n-+\n  p50 {NUMBER} ms",
    ],
    "idle_tracks": [
        rf"queued +{NUMBER} \(.*\) +{NUMBER} %",
        rf"GOAL (MET|MISSED): an idle room's floor in the agent, tracks asleep .*: {NUMBER} %",
    ],
    "assistant": [
        rf"GOAL (MET|MISSED): end of speech -> first answer audio p50, WebSocket .*: {NUMBER} ms "
        rf"\(goal <= {NUMBER} ms; baseline, whole reply then speech: {NUMBER} ms\)",
        rf"embedded smollm2: load {NUMBER} s, first token p50 {NUMBER} ms, {NUMBER} tokens/s, "
        rf"RSS \+{NUMBER} MB",
    ],
    "web_client": [
        rf"GOAL (MET|MISSED): page weight, gzipped JS\+CSS: {NUMBER} KB",
        rf"GOAL (MET|MISSED): start of speech -> first caption rendered p50, .*: {NUMBER} ms",
        rf"GOAL (MET|MISSED): end of speech -> translated text visible p50, .*: {NUMBER} ms "
        rf"\(goal <= {NUMBER} ms: the Python client's {NUMBER} ms",
        rf"joined-room -> first rendered caption: {NUMBER} ms",
    ],
}


def run_smoke(name: str, timeout: float) -> str:
    """Run ``bench/<name>.py --smoke``; return its output after checking it succeeded."""
    done = subprocess.run(
        [sys.executable, str(BENCH / f"{name}.py"), "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{name} --smoke exited {done.returncode}:\n{output[-4000:]}"
    assert "RESULT: OK" in output, output[-4000:]
    assert not re.search(r"\bnan\b", output, re.IGNORECASE), "a figure printed as nan"
    for headline in HEADLINES[name]:
        assert re.search(headline, output), f"{name}: no line matching {headline!r}:\n{output}"
    return output


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "timeout"),
    [
        ("store", 120),
        ("replay", 120),
        ("delivery", 240),
        ("voice", 240),
        ("recording", 300),
        ("idle_tracks", 120),
        ("assistant", 300),
        ("web_client", 240),
    ],
)
def test_bench_smoke(name: str, timeout: float) -> None:
    """The bench measures for real at tiny sizes and prints its verdicts with numbers."""
    run_smoke(name, timeout)


@pytest.mark.slow
def test_livekit_bench_smoke() -> None:
    """The LiveKit bench, with the LiveKit server it starts itself, measures mouth to ear."""
    run_smoke("livekit_rooms", 280)


# ---------------------------------------------------------------- the rules, without servers


def bench_module(name: str) -> ModuleType:
    """Import ``bench/<name>.py`` as a module (named ``bench_<name>``)."""
    if str(BENCH) not in sys.path:
        sys.path.append(str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_a_failure_makes_the_bench_exit_non_zero_and_nan_is_never_a_figure(
    capsys: pytest.CaptureFixture[str],
) -> None:
    common = bench_module("common")
    verdicts = common.Verdicts("x")
    verdicts.goal("a figure", False, "12 ms")
    assert verdicts.finish() == 0  # a missed goal is a finding, not a broken bench
    assert verdicts.finite("headline", math.nan) is False
    assert verdicts.finish() == 1
    out = capsys.readouterr().out
    assert "FAIL: headline: nothing was measured" in out
    assert common.num(math.nan) == "-"


def test_a_delivery_run_with_losses_dead_readers_or_nan_is_invalid() -> None:
    delivery = bench_module("delivery")
    args = type("Args", (), {"max_send_lag_ms": 50.0})()
    totals = dict.fromkeys(
        (
            "lost",
            "duplicated",
            "misrouted",
            "unknown",
            "recognized_lost",
            "recognized_dup",
            "closed_early",
            "audio_frames",
        ),
        0,
    )
    ok_stats = {"p50": 1.0, "p99": 2.0}
    healthy = delivery.run_problems(
        "identity", args, {**totals, "sent_measured": 10}, {}, {}, ok_stats, ok_stats
    )
    assert healthy == []
    broken = delivery.run_problems(
        "identity",
        args,
        {**totals, "sent_measured": 0, "lost": 3, "closed_early": 2},
        {},
        {},
        {"p50": math.nan, "p99": math.nan},
        ok_stats,
    )
    assert any("3 deliveries lost" in p for p in broken)
    assert any("readers died" in p for p in broken)
    assert any("nan" in p for p in broken)
    speech = delivery.run_problems(
        "speech",
        args,
        {**totals, "sent_measured": 10},
        {},
        {"missing": 4, "silent": 0},
        ok_stats,
        {"p50": math.nan, "p99": math.nan},
    )
    assert any("4 translations never got a synthesized-speech-end" in p for p in speech)


def test_the_delivery_goal_is_three_times_the_relay_or_ten_ms_for_a_fast_relay() -> None:
    delivery = bench_module("delivery")
    assert delivery.delivery_bound_ms(2.0) == 10.0
    assert delivery.delivery_bound_ms(5.0) == 15.0


def test_livekit_keeps_up_only_if_both_listeners_heard_every_sentence() -> None:
    livekit = bench_module("livekit_rooms")
    outcome = livekit.Outcome("rooms1", 1, ("es", "ca"), 2, taken=1, expected=4)
    outcome.ear_ms = {"es": [500.0, 600.0], "ca": [500.0, 600.0]}
    outcome.fully_heard = 1  # one sentence heard by only one listener... and another twice
    outcome.lag_ms = [1.0] * 10
    outcome.window_s, outcome.client_cpu_s = 10.0, 1.0
    assert not outcome.kept_up(2000)
    outcome.fully_heard = 2
    assert outcome.kept_up(2000)
    assert outcome.generator_behind(20.0) is None
    outcome.lag_ms = [80.0] * 10
    assert "push lag" in (outcome.generator_behind(20.0) or "")


def test_the_assistant_bench_paces_answers_finds_them_and_refuses_cut_or_missing_ones() -> None:
    assistant = bench_module("assistant")
    answer = "One two three four. Five six seven eight."
    pace = assistant.Pace.for_answers([answer], 300.0, 40.0)
    assert pace.word_interval_s == pytest.approx(len(answer) / 4 / 40 / 8)
    assert pace.first_sentence_ms(answer) == pytest.approx(300 + 3 * pace.word_interval_s * 1000)
    book = assistant.AnswerBook([("What is the capital of France?", "Paris.")])
    assert book.get("What is the capital and France?", "default") == "Paris."
    assert book.get("Hello there.", "default") == "default"
    assert book.asked[-1] == ("Hello there.", None)
    asked = [
        assistant.Asked("q1", "a1", audio_ms=800.0),
        assistant.Asked("q2", "a2", audio_ms=900.0, interrupted=1),
        assistant.Asked("q3", "a3", timed_out=True),
    ]
    outcome = assistant.PathOutcome("streamed", asked=asked, lag_ms=[1.0] * 10)
    found = assistant.problems(outcome, 20.0)
    assert any("interrupted" in problem for problem in found)
    assert any("not answered" in problem for problem in found)
    assert outcome.p("audio_ms", 50) == 800.0
    assert assistant.problems(assistant.PathOutcome("streamed", asked=asked[:1]), 20.0) == []
