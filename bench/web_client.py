"""The web client in a real Chromium: page weight, captions and translations as the page shows them.

``voicemode serve --dev`` runs as a subprocess with its speech engines
(``VOICEMODE_SPEECH=on``: Silero VAD, faster-whisper tiny.en, Apertium,
espeak-ng) and serves the built page (``web/dist``). Debian's Chromium, driven
by Playwright (``tests/support/browser.py``), opens two pages in one room: an
English speaker whose fake microphone says ``--sentences`` espeak-ng sentences
(48 kHz WAV, ``--gap`` of silence between them) and a Spanish listener. A
Python WebSocket client (the baseline, a bare client) joins the same room as a
second Spanish listener. The speaker's page clicks "Start speaking" as soon as
it joined: MediaRecorder ``audio/webm;codecs=opus`` over the WebSocket.

Every time is taken on one wall clock (``performance.timeOrigin + now()`` in
the pages, ``time.time()`` in Python, same machine) by the probes of
``tests/support/web_page.py``, installed in each page before it loads:

* page weight: the gzipped size (level 9) of the page's JS and CSS
  (``web/dist/assets``): all of it (goal <= 300 KB), what ``index.html`` loads
  before any voice session, and ``livekit-client``'s own chunk (the one
  dependency no page that speaks LiveKit can avoid, loaded with the first voice
  session) as the reference.
* joined-room -> first rendered caption: from the speaker's page receiving
  ``joined-room`` to the first caption in its "Live captions" region, split
  into: until the microphone first heard speech (the click, ``getUserMedia``,
  the recording's 1 s of lead silence) and from there. Then, per sentence,
  start of speech (the page's microphone, tapped) -> that utterance's first
  caption rendered at the listener's page, against the first ``partial-speech``
  frame of it at the Python client. Goal: the page's p50 within 50 ms of the
  Python client's.
* end of speech (the last loud 256-sample block the page's microphone
  delivered) -> translated text visible on the listener's page (the message's
  list item in the document), p50, against the ``translated-message`` frame at
  the Python client in the same room. Goal: the page's p50 within 50 ms of the
  Python client's (what the page adds: receiving, the reducer, React's render).

A sentence the VAD cut in two is counted once, by its last part (the message
that arrived last before the next sentence began). A sentence without a
translation at a listener, an error frame, or a microphone that did not say
every sentence fails the run.

    .venv/bin/python bench/web_client.py                 # 8 sentences (~1.5 min)
    .venv/bin/python bench/web_client.py --smoke         # 2 sentences
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import math
import os
import re
import shutil
import tempfile
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import common
import voice
from common import Row, heading, machine_note, num, percentile
from websockets.asyncio.client import connect

from tests.support.browser import MIC_RATE, Chromium, Speech
from tests.support.service import ROOT, Client, ServedInstance
from tests.support.web_page import PROBES, Probes, eventually, join, messages, probes, wall_ms

SENTENCES = voice.SENTENCES[:8]
"""The voice bench's first eight sentences: the same speech, so their figures compare."""
DIST = Path(os.environ.get("VOICEMODE_WEB_DIR", ROOT / "web" / "dist"))
LIVEKIT_BUNDLE = (
    ROOT / "web" / "node_modules" / "livekit-client" / "dist" / "livekit-client.esm.mjs"
)
WEIGHT_GOAL_KB = 300.0
PAGE_SLACK_MS = 50.0
ROOM = "bench-web"
SMOKE = {"sentences": 2}


def gzipped_kb(path: Path) -> float:
    return len(gzip.compress(path.read_bytes(), compresslevel=9)) / 1024


@dataclass
class Weight:
    """The page's gzipped JS and CSS files (KB), and which of them index.html loads."""

    files: dict[str, float]
    initial: set[str]

    @property
    def total_kb(self) -> float:
        return sum(self.files.values())

    @property
    def initial_kb(self) -> float:
        return sum(kb for name, kb in self.files.items() if name in self.initial)

    @property
    def livekit_kb(self) -> float:
        """livekit-client's own chunk (loaded with the first voice session)."""
        return sum(kb for name, kb in self.files.items() if name.startswith("livekit-client"))


def page_weight() -> Weight | None:
    """Gzipped sizes of ``web/dist/assets/*.js|css``; None when the page was not built."""
    assets = DIST / "assets"
    if not (DIST / "index.html").exists() or not assets.is_dir():
        return None
    files = {
        path.name: gzipped_kb(path)
        for path in sorted(assets.iterdir())
        if path.suffix in {".js", ".css"}
    }
    initial = set(re.findall(r"/assets/([^\"']+)", (DIST / "index.html").read_text()))
    return Weight(files, initial)


class WallFrames(list[dict[str, Any]]):
    """A client's frames, with the wall-clock ms each arrived (the pages' clock)."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, frame: dict[str, Any]) -> None:
        self.times.append(wall_ms())
        super().append(frame)


class WallClient(Client):
    """The baseline: a bare Python WebSocket client noting when each frame arrived."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.frames = self.stamped = WallFrames()  # the reader has not run yet

    def arrivals(self, event: str) -> list[tuple[str, float]]:
        """(id, wall ms) of each frame named ``event``, in arrival order."""
        return [
            (frame["data"]["id"], at)
            for frame, at in zip(self.stamped, self.stamped.times, strict=True)
            if frame.get("event") == event
        ]


@dataclass
class Run:
    """What the pages and the Python client saw of one room's speech."""

    speaker: Probes
    listener: Probes
    python_messages: list[tuple[str, float]]
    python_partials: list[tuple[str, float]]
    errors: list[dict[str, Any]]
    page_errors: list[str] = field(default_factory=list)


def last_per_sentence(arrivals: list[tuple[str, float]], starts: list[float]) -> list[float]:
    """For each sentence, the last arrival between its start and the next sentence's start."""
    found: dict[int, float] = {}
    for _, at in arrivals:
        sentence = bisect_right(starts, at) - 1
        if sentence >= 0:
            found[sentence] = at
    return [found.get(index, math.nan) for index in range(len(starts))]


def first_per_sentence(arrivals: list[tuple[str, float]], starts: list[float]) -> list[float]:
    """For each sentence, the first arrival after its start (before the next one's)."""
    found: dict[int, float] = {}
    for _, at in sorted(arrivals, key=lambda item: item[1]):
        found.setdefault(bisect_right(starts, at) - 1, at)
    return [found.get(index, math.nan) for index in range(len(starts))]


def differences(later: list[float], earlier: list[float]) -> list[float]:
    return sorted(b - a for a, b in zip(earlier, later, strict=True) if math.isfinite(b - a))


def p50(values: list[float]) -> float:
    return percentile(sorted(values), 50)


async def speak(chromium: Chromium, served: ServedInstance, speech: Speech, wait_s: float) -> Run:
    """The room: the listener page and the Python client join, then the speaker speaks."""
    base = f"http://127.0.0.1:{served.http_port}"
    listener = await chromium.page()
    speaker = await chromium.page(speech)
    page_errors: list[str] = []
    for page in (listener, speaker):
        await page.add_init_script(PROBES)
        page.on("pageerror", lambda error: page_errors.append(str(error)))
    python = WallClient(await connect(f"{served.url}?token={served.token('python', lang='es')}"))
    joined = await python.request("join-room", {"roomCode": ROOM, "language": "es"})
    assert joined["event"] == "joined-room", joined
    try:
        await join(listener, base, ROOM, "Lucía", "es")
        await join(speaker, base, ROOM, "Sam", "en")
        await speaker.get_by_role("button", name="Start speaking").click()
        count = len(speech.sentences)
        # judged below: a sentence without its translation fails the run
        with contextlib.suppress(TimeoutError):
            await eventually(
                lambda: _count_at_least(listener, count), wait_s, "the listener's translations"
            )
        await listener.wait_for_timeout(1500)  # a late part of a split sentence
        await speaker.get_by_role("button", name="Stop speaking").click()
        return Run(
            await probes(speaker),
            await probes(listener),
            python.arrivals("translated-message"),
            python.arrivals("partial-speech"),
            [frame for frame in python.frames if frame.get("event") == "error"],
            page_errors,
        )
    finally:
        await python.close()
        for page in (listener, speaker):
            await page.context.close()


async def _count_at_least(page: Any, count: int) -> bool:
    return bool(await messages(page).count() >= count)


def report(
    run: Run, speech: Speech, verdicts: common.Verdicts
) -> tuple[dict[str, list[float]], float]:
    """Print the figures; the per-sentence series by name and joined-room -> first caption."""
    count = len(speech.sentences)
    starts, ends = run.speaker.speech_starts(), run.speaker.speech_ends()
    if len(ends) != count:
        verdicts.fail(f"the page's microphone said {len(ends)} sentences, not {count}")
    page_seen = sorted(run.listener.seen.items(), key=lambda item: item[1])
    series = {
        "page text": differences(last_per_sentence(page_seen, starts), ends),
        "page frame": differences(
            last_per_sentence([(m["id"], m["t"]) for m in run.listener.messages], starts), ends
        ),
        "python": differences(last_per_sentence(run.python_messages, starts), ends),
        "page caption": differences(
            first_per_sentence(list(run.listener.captions.items()), starts), starts
        ),
        "python partial": differences(first_per_sentence(run.python_partials, starts), starts),
    }
    for name in ("page text", "python"):
        if len(series[name]) != count:
            verdicts.fail(f"{name}: {len(series[name])} of {count} sentences translated")
    if run.errors:
        verdicts.fail(f"error frames at the Python client: {run.errors[:2]}")
    if run.page_errors:
        verdicts.fail(f"errors in the pages: {run.page_errors[:2]}")

    joined = run.speaker.frames.get("joined-room", math.nan)
    first_caption = min(run.speaker.captions.values(), default=math.nan)
    first_loud = run.speaker.loud[0] if run.speaker.loud else math.nan
    first_partial = min(run.speaker.partials.values(), default=math.nan)
    heading("Captions", "-")
    print(
        f"  joined-room -> first rendered caption at the speaker's page: "
        f"{num(first_caption - joined)} ms = until the microphone heard speech "
        f"{num(first_loud - joined)} ms (the click, getUserMedia, {speech.lead_s:g} s of lead "
        f"silence) + speech -> first partial-speech frame {num(first_partial - first_loud)} ms "
        f"+ frame -> rendered {num(first_caption - first_partial)} ms"
    )
    print(
        f"  per sentence, start of speech -> first caption rendered at the listener's page: "
        f"{fmt(series['page caption'])}"
    )
    print(
        f"  per sentence, start of speech -> first partial-speech at the Python client:   "
        f"{fmt(series['python partial'])}"
    )
    heading("Translations", "-")
    print(
        f"  end of speech -> translated text visible on the listener's page: "
        f"{fmt(series['page text'])}"
    )
    print(
        f"  end of speech -> translated-message frame at the listener's page: "
        f"{fmt(series['page frame'])}"
    )
    print(
        f"  end of speech -> translated-message at the Python client:       {fmt(series['python'])}"
    )
    return series, first_caption - joined


def fmt(values: list[float]) -> str:
    if not values:
        return "none (n=0)"
    ordered = sorted(values)
    return (
        f"p50 {percentile(ordered, 50):.0f} ms, p90 {percentile(ordered, 90):.0f} ms, "
        f"max {ordered[-1]:.0f} ms (n={len(ordered)})"
    )


def judge(
    weight: Weight,
    series: dict[str, list[float]],
    joined_to_caption: float,
    verdicts: common.Verdicts,
) -> list[Row]:
    """The goal verdicts and the rows of the results table."""
    rows = []
    if verdicts.finite("page weight", weight.total_kb):
        verdicts.goal(
            "page weight, gzipped JS+CSS",
            weight.total_kb <= WEIGHT_GOAL_KB,
            f"{weight.total_kb:.1f} KB (goal <= {WEIGHT_GOAL_KB:.0f} KB; before a voice session "
            f"{weight.initial_kb:.1f} KB; livekit-client's chunk alone {weight.livekit_kb:.1f} KB)",
        )
        rows.append(
            Row(
                "web_client",
                "page weight, gzipped JS+CSS",
                f"<= {WEIGHT_GOAL_KB:.0f} KB",
                f"{weight.total_kb:.1f} KB ({weight.initial_kb:.1f} KB before a voice session)",
                f"livekit-client's chunk alone {weight.livekit_kb:.1f} KB",
            )
        )
    for page_key, python_key, figure in (
        ("page caption", "python partial", "start of speech -> first caption rendered"),
        ("page text", "python", "end of speech -> translated text visible"),
    ):
        page_p50, python_p50 = p50(series[page_key]), p50(series[python_key])
        if verdicts.finite(f"{figure} p50", page_p50) and verdicts.finite(
            f"{figure} p50 at the Python client", python_p50
        ):
            verdicts.goal(
                f"{figure} p50, listener's page vs a Python client in the same room",
                page_p50 <= python_p50 + PAGE_SLACK_MS,
                f"{page_p50:.0f} ms (goal <= {python_p50 + PAGE_SLACK_MS:.0f} ms: the Python "
                f"client's {python_p50:.0f} ms + {PAGE_SLACK_MS:.0f})",
            )
            rows.append(
                Row(
                    "web_client",
                    f"{figure}, p50 (listener's page)",
                    f"<= Python client + {PAGE_SLACK_MS:.0f} ms",
                    f"{page_p50:.0f} ms",
                    f"Python client {python_p50:.0f} ms",
                )
            )
    if verdicts.finite("joined-room -> first rendered caption", joined_to_caption):
        print(f"joined-room -> first rendered caption: {joined_to_caption:.0f} ms")
        rows.append(
            Row(
                "web_client",
                "joined-room -> first rendered caption (speaker's page)",
                "-",
                f"{joined_to_caption:.0f} ms",
                "-",
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sentences", type=int, default=len(SENTENCES), help=f"1-{len(SENTENCES)}")
    parser.add_argument("--gap", type=float, default=2.0, help="silence between sentences (s)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (store, logs)")
    common.add_smoke_flag(parser, "2 sentences")
    parser.add_argument("--results", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        for name, value in SMOKE.items():
            setattr(args, name, value)
    if not 1 <= args.sentences <= len(SENTENCES):
        parser.error(f"--sentences must be 1-{len(SENTENCES)}")

    heading("bench/web_client.py: the web client in Chromium" + " (smoke)" * args.smoke)
    verdicts = common.Verdicts("web_client")
    print(machine_note("Chromium, the Python client and the server share them"))
    weight = page_weight()
    if weight is None:
        verdicts.fail(f"the page is not built ({DIST}): run make setup")
        return verdicts.finish()
    heading("Page weight (gzip -9)", "-")
    for name, kb in weight.files.items():
        print(f"  {name}: {kb:.1f} KB")
    print(
        f"  total {weight.total_kb:.1f} KB; loaded by index.html {weight.initial_kb:.1f} KB; "
        f"livekit-client's chunk (with the first voice session) {weight.livekit_kb:.1f} KB"
    )

    speech = Speech(SENTENCES[: args.sentences], lead_s=1.0, gap_s=args.gap, tail_s=3.0)
    load = common.OtherLoad()
    workdir = Path(tempfile.mkdtemp(prefix="voicemode-bench-web-"))
    served = ServedInstance(
        db=str(workdir / "voicemode.db"), env={"VOICEMODE_SPEECH": "on"}, args=("--dev",)
    )
    chromium = Chromium(workdir)
    began = time.perf_counter()
    served.start()
    try:
        print(
            f"serve --dev (speech on) started in {time.perf_counter() - began:.1f} s; "
            f"{args.sentences} sentences, {args.gap:g} s apart",
            flush=True,
        )
        seconds = len(speech.pcm()) / 2 / MIC_RATE
        run = chromium.run(speak(chromium, served, speech, seconds + 20), timeout=seconds + 120)
        # Now, while Chromium's processes are still ours: once closed, its renderers are
        # reparented as they exit and their CPU would count as other processes' load.
        machine_load = load.report()
    finally:
        chromium.close()
        served.stop()
    series, joined_to_caption = report(run, speech, verdicts)
    heading("Summary", "-")
    rows = judge(weight, series, joined_to_caption, verdicts)
    print(common.markdown_table(rows))
    print(machine_load)
    if args.keep or verdicts.failures:
        print(f"Kept the work dir (store, server log): {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    common.write_results(
        args.results,
        rows,
        {"machine_load": machine_load, "failures": verdicts.failures, "goals": verdicts.goals},
    )
    return verdicts.finish()


if __name__ == "__main__":
    raise SystemExit(main())
