"""Speech gives way under load: stale syntheses are shed, text is never held back.

A translation is worth speaking only while it is fresh. When synthesis cannot
keep up, requests that waited too long (or that overflow the waiting line)
end at once with ``synthesized-speech-end {durationMs: 0, errorCode:
"speech_shed"}`` and are recorded with that code, while every listener's
``translated-message`` still arrives promptly.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from actors.service import ServiceSettings, VoiceService
from actors.speech import (
    SPEECH_SHED,
    SheddingRule,
    SpeechEnd,
    SpeechHeader,
    SpeechKey,
    SpeechPiece,
    SpeechSynthesis,
    WaitingLine,
)
from adapters.engines.translation.identity import IdentityTranslator
from adapters.engines.translation.registry import TranslationRegistry
from adapters.engines.tts.espeak import EspeakSynthesizer
from adapters.engines.tts.registry import SynthesizerRegistry
from events.domain import SpeechSynthesized, room_id_for
from events.store import EventStore
from tests.support.service import Client, ServedInstance

SENTENCE = (
    "Let us start with the numbers for the northern region, then move on to the "
    "schedule for the launch in the first week of March, number {n}."
)


# ------------------------------------------------------------------ the rule, no threads


def test_a_request_that_waited_too_long_is_shed_and_the_next_fresh_one_taken() -> None:
    line: WaitingLine[str] = WaitingLine(SheddingRule(max_wait_s=2.0, max_waiting=10))
    line.add("old", now=0.0)
    line.add("older-but-fine", now=1.5)
    line.add("new", now=3.0)

    assert line.take(now=3.4) == ("older-but-fine", ["old"])
    assert line.take(now=5.0) == ("new", [])
    assert line.take(now=5.0) == (None, [])


def test_everything_stale_is_shed_in_one_take() -> None:
    line: WaitingLine[int] = WaitingLine(SheddingRule(max_wait_s=1.0, max_waiting=10))
    for n in range(3):
        line.add(n, now=float(n) / 10)
    assert line.take(now=10.0) == (None, [0, 1, 2])
    assert len(line) == 0


def test_a_full_line_sheds_its_oldest_requests() -> None:
    line: WaitingLine[int] = WaitingLine(SheddingRule(max_wait_s=60.0, max_waiting=3))
    shed = [n for n in range(5) for n in line.add(n, now=0.0)]
    assert shed == [0, 1]
    assert [line.take(now=0.0)[0] for _ in range(3)] == [2, 3, 4]


# ------------------------------------------------------------- in process, real espeak-ng


def test_a_flood_is_shed_recorded_and_every_listener_hears_an_end(tmp_path: Path) -> None:
    service = VoiceService(
        EventStore.open(str(tmp_path / "voicemode.db")),
        TranslationRegistry([IdentityTranslator()]),
        ServiceSettings(),
    )
    synthesis = SpeechSynthesis(
        SynthesizerRegistry([EspeakSynthesizer()]),
        service.writer,
        workers=1,
        rule=SheddingRule(max_wait_s=0.3, max_waiting=4),
    )
    heard: dict[SpeechKey, list[SpeechPiece]] = {}
    lock = threading.Lock()

    def hear(key: SpeechKey, piece: SpeechPiece) -> None:
        with lock:
            heard.setdefault(key, []).append(piece)

    keys = [SpeechKey(uuid4(), "es", None, ()) for _ in range(20)]
    try:
        for n, key in enumerate(keys):
            synthesis.request(room_id_for("r"), key, SENTENCE.format(n=n), hear)

        def spoken() -> list[SpeechSynthesized]:
            events = [recorded.event for recorded in service.store.read_room("r")]
            return [e for e in events if isinstance(e, SpeechSynthesized)]

        deadline = time.monotonic() + 60
        while len(spoken()) < len(keys):
            assert time.monotonic() < deadline, f"recorded {len(spoken())} of {len(keys)}"
            time.sleep(0.05)
        recorded = {(e.transcript_id, e.error_code, e.engine, e.audio_ms) for e in spoken()}
    finally:
        synthesis.close()
        service.close()

    ends = {key: [p for p in heard[key] if isinstance(p, SpeechEnd)] for key in keys}
    assert all(len(found) == 1 for found in ends.values()), "exactly one end each"
    shed = [key for key in keys if ends[key][0].error_code == SPEECH_SHED]
    assert len(shed) >= len(keys) // 2, "a flood on one thread is mostly shed"
    for key in shed:
        assert heard[key] == [SpeechEnd(0, SPEECH_SHED)], "no header, no audio"
    spoken_ok = [key for key in keys if key not in shed]
    assert spoken_ok and all(isinstance(heard[key][0], SpeechHeader) for key in spoken_ok)
    assert {(key.transcript_id, SPEECH_SHED, "none", 0) for key in shed} <= recorded


# ------------------------------------------------------------------ served, real espeak-ng

LISTENERS = ("es", "fr", "de", "it", "pt", "nl", "en")
TRANSCRIPTS = 40


@pytest.mark.slow
def test_served_speech_flood_never_holds_text_back(tmp_path: Path) -> None:
    served = ServedInstance(
        db=str(tmp_path / "flood.db"),
        env={"VOICEMODE_SPEECH": "on", "VOICEMODE_TRANSLATION_ENGINES": "identity"},
    )
    served.start()
    try:
        lateness, frames = asyncio.run(_flood(served))
        replayed = [json.loads(line) for line in served.replay("flood", "--json").splitlines()]
    finally:
        served.stop()

    # (a) Text is never held back by speech: every listener, every message, promptly.
    for language, late in lateness.items():
        assert len(late) == TRANSCRIPTS, f"{language} lost text"
        assert max(late) < 1.0, f"{language} text held back {max(late):.2f} s"
    # (c) Nothing lost: each listener who hears speech gets one end per translation.
    shed_heard: Counter[str] = Counter()
    for language, received in frames.items():
        ends = [f for f in received if f.get("event") == "synthesized-speech-end"]
        if language == "en":
            assert ends == [], "the speaker's own language is not spoken"
            continue
        assert len(ends) == TRANSCRIPTS, f"{language}: {len(ends)} ends"
        assert len({end["data"]["id"] for end in ends}) == TRANSCRIPTS
        for end in ends:
            if end["data"].get("errorCode") == SPEECH_SHED:
                assert end["data"]["durationMs"] == 0
                shed_heard[language] += 1
    # (b) Stale speech was shed and the log says so, one record per shed synthesis.
    assert sum(shed_heard.values()) > 0, "a flood of speech on two cores sheds some"
    shed_recorded = [
        entry
        for entry in replayed
        if entry["event"] == "SpeechSynthesized" and json.dumps(entry).count(f'"{SPEECH_SHED}"') > 0
    ]
    assert len(shed_recorded) == sum(shed_heard.values()), (len(shed_recorded), shed_heard)


async def _flood(served: ServedInstance) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """One speaker floods a room with transcripts; listeners of seven languages receive."""
    listeners = {
        language: await Client.connect(served.url, served.token(f"l-{language}", lang=language))
        for language in LISTENERS
    }
    speaker = await Client.connect(served.url, served.token("speaker", lang="en"))
    for client in (*listeners.values(), speaker):
        joined = await client.request("join-room", {"roomCode": "flood"})
        assert joined["event"] == "joined-room", joined
    sent: dict[str, float] = {}
    for n in range(TRANSCRIPTS):
        text = SENTENCE.format(n=n)
        sent[text] = time.monotonic()
        await speaker.send("speech-transcript", {"transcript": text, "sourceLang": "en"})
    arrived: dict[str, dict[str, float]] = {language: {} for language in LISTENERS}

    async def receive(language: str, client: Client) -> None:
        seen = 0
        deadline = time.monotonic() + 30
        while len(arrived[language]) < TRANSCRIPTS and time.monotonic() < deadline:
            for frame in client.frames[seen:]:
                if frame.get("event") == "translated-message":
                    arrived[language][frame["data"]["originalText"]] = time.monotonic()
            seen = len(client.frames)
            await asyncio.sleep(0.005)

    await asyncio.gather(*(receive(lang, client) for lang, client in listeners.items()))
    # Let speech finish (or be shed) before counting its ends.
    for language, client in listeners.items():
        if language != "en":
            await _until(lambda c=client: len(c.named("synthesized-speech-end")) >= TRANSCRIPTS, 60)
    lateness = {
        language: [times[text] - sent[text] for text in times]
        for language, times in arrived.items()
    }
    return lateness, {language: client.frames for language, client in listeners.items()}


async def _until(check: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)
