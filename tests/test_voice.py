"""Voice rooms end to end: real-time speech over WebSocket, with the real engines.

A ``voicemode serve`` process with its speech engines on (Silero VAD,
faster-whisper tiny.en, Apertium, espeak-ng) is spoken to by WebSocket
clients that stream espeak-ng speech in real time: chunks of 20 to 100 ms,
each sent when its audio would have been recorded. The tests check what the
people in the room notice: captions while someone speaks, the transcript, the
translation in each listener's language, speech they can hear, and error
frames that say what was wrong without flooding anyone.

Word error rate limit: tiny.en on espeak-ng's formant voice measured 7-10 %
mean WER over 20 sentences in ``test_speech_engines.py`` (single sentences up
to 45 %); the sentences used here came out word for word through the served
pipeline in every format. A mean of at most 25 % per stream tolerates a
misheard word or two, while a broken stage (wrong sample rate, clipped or
merged utterances, lost audio at the end, garbage) is far above it; a single
sentence above 60 % means the wrong sentence or nothing at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, SupportsIndex

import numpy as np
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.support.service import Client, ServedInstance
from tests.support.speech import (
    linear16,
    opus_stream,
    silence,
    timeslices,
    trimmed,
    word_error_rate,
)

pytestmark = pytest.mark.slow

WER_LIMIT = 0.25
SENTENCE_WER_LIMIT = 0.6

#: English sentences and words their Spanish translation (Apertium) contains.
SENTENCES: dict[str, tuple[str, ...]] = {
    "The weather today is sunny with a light breeze from the west.": (
        "tiempo",
        "soleado",
        "oeste",
    ),
    "Please send me the report before the meeting on Friday.": ("informe", "reunión", "viernes"),
    "She opened the window to let some fresh air into the room.": ("ventana", "aire", "fresco"),
    "Remember to turn off the lights when you leave the office.": ("luces", "oficina", "recuerda"),
    "The children are playing football in the park after school.": ("niños", "fútbol", "parque"),
    "My brother bought a new car last week.": ("hermano", "coche", "semana"),
}
ENGLISH = list(SENTENCES)

#: Sentences said without a pause between them (only 50 ms of silence).
CONTINUOUS = [
    "The museum is closed on Mondays but open every other day of the week",
    "He forgot his umbrella at home and got completely wet in the cold rain",
    "My sister works as a nurse at the big hospital downtown near the park",
    "The price of fresh vegetables has gone up again this month in our town",
]
MAX_UTTERANCE_MS = 15_000

#: Speech the listener hears is 16-bit PCM: this RMS is quiet speech, far above silence.
AUDIBLE_RMS = 300.0


def run(scenario: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(scenario())


# --- the service and its clients ------------------------------------------------------


@pytest.fixture(scope="module")
def voice_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedInstance]:
    """One ``voicemode serve`` with its speech engines on, shared by this file's tests."""
    instance = ServedInstance(
        db=str(tmp_path_factory.mktemp("voice") / "voicemode.db"),
        env={"VOICEMODE_SPEECH": "on"},
    )
    instance.start()
    yield instance
    instance.stop()


class StampedFrames(list[dict[str, Any]]):
    """A client's frame list that also notes when each frame arrived (monotonic seconds)."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, frame: dict[str, Any]) -> None:
        self.times.append(time.monotonic())
        super().append(frame)

    def arrival(self, index: SupportsIndex) -> float:
        return self.times[index]


class TimedClient(Client):
    """A recording client that knows when each frame arrived."""

    def __init__(self, websocket: ClientConnection) -> None:
        super().__init__(websocket)
        # The reader task has not run yet (no await since it was created).
        self.stamped = StampedFrames()
        self.frames = self.stamped

    def arrived_at(self, frame: dict[str, Any]) -> float:
        return self.stamped.arrival(next(i for i, f in enumerate(self.frames) if f is frame))

    def codes(self) -> list[str]:
        return [frame["data"]["code"] for frame in self.named("error")]

    def speech_frames(self) -> list[dict[str, Any]]:
        """Everything about synthesized speech: headers, ends and binary markers."""
        speech = {"synthesized-speech", "synthesized-speech-end", "binary"}
        return [frame for frame in self.frames if frame.get("event") in speech]


async def member(served: ServedInstance, user: str, lang: str, room: str) -> TimedClient:
    """A client that joined ``room`` hearing ``lang``."""
    websocket = await connect(f"{served.url}?token={served.token(user, lang=lang)}")
    client = TimedClient(websocket)
    reply = await client.request("join-room", {"roomCode": room})
    assert reply["event"] == "joined-room", reply
    return client


async def close_all(*clients: Client) -> None:
    for client in clients:
        with contextlib.suppress(Exception):
            await client.close()


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait until ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def start_speech(client: Client, encoding: str = "LINEAR16", rate: int = 16000) -> None:
    reply = await client.request(
        "start-speech", {"languageCode": "en", "encoding": encoding, "sampleRateHertz": rate}
    )
    assert reply["event"] == "ack", reply


async def stop_speech(client: Client) -> None:
    reply = await client.request("stop-speech", timeout=20)
    assert reply["event"] == "ack", reply


# --- audio ----------------------------------------------------------------------------


def pcm_chunks(pcm: bytes, rate: int, chunk_ms: int) -> list[bytes]:
    size = rate * chunk_ms // 1000 * 2
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


@dataclass(frozen=True)
class Speech:
    """Sentences said with pauses, as LINEAR16, and when each last word ends (seconds)."""

    pcm: bytes
    rate: int
    ends_s: list[float]

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / self.rate


def say(sentences: list[str], rate: int, pause_s: float = 0.6) -> Speech:
    pcm = b""
    ends: list[float] = []
    for sentence in sentences:
        pcm += silence(pause_s, rate)
        sentence_pcm = linear16(sentence, rate)
        loud = np.flatnonzero(np.abs(np.frombuffer(sentence_pcm, dtype="<i2")) > 300)
        ends.append((len(pcm) // 2 + int(loud[-1]) + 1) / rate)  # espeak-ng's tail is silent
        pcm += sentence_pcm
    return Speech(pcm + silence(1.0, rate), rate, ends)


def encoded(speech: Speech, encoding: str, chunk_ms: int) -> list[bytes]:
    """The speech as a client sends it: PCM chunks, or MediaRecorder-like WebM timeslices."""
    if encoding == "LINEAR16":
        return pcm_chunks(speech.pcm, speech.rate, chunk_ms)
    return timeslices(opus_stream(speech.pcm, speech.rate, "webm"), speech.seconds, chunk_ms)


async def stream(client: Client, chunks: list[bytes], chunk_s: float, speed: float = 1.0) -> float:
    """Send chunk ``i`` at ``start + i * chunk_s / speed``; returns ``start`` (monotonic)."""
    start = time.monotonic()
    for i, chunk in enumerate(chunks):
        await client.ws.send(chunk)
        delay = start + (i + 1) * chunk_s / speed - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    return start


def rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def garbage(size: int, seed: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


# --- what listeners receive -----------------------------------------------------------


@dataclass
class Heard:
    """One synthesized speech as a listener received it."""

    header: dict[str, Any]
    end: dict[str, Any] | None = None
    audio: bytes = b""


def heard(client: Client) -> dict[str, Heard]:
    """Each synthesis a client received, by transcript id: header, audio frames, end.

    Asserts the wire order: a header, then its binary frames, then its end,
    never interleaved with another synthesis, and no binary frame outside one.
    """
    result: dict[str, Heard] = {}
    current: Heard | None = None
    audio = iter(client.audio)
    for frame in client.frames:
        name = frame.get("event")
        if name == "synthesized-speech":
            assert current is None, f"header inside another synthesis: {frame}"
            current = Heard(frame["data"])
            assert frame["data"]["id"] not in result, "the same speech twice"
            result[frame["data"]["id"]] = current
        elif name == "binary":
            assert current is not None, "audio outside a synthesized-speech"
            current.audio += next(audio)
        elif name == "synthesized-speech-end":
            assert current is not None and current.header["id"] == frame["data"]["id"], frame
            current.end = frame["data"]
            current = None
    return result


def assert_audible_spanish(speech: Heard, transcript_id: str) -> None:
    header, end = speech.header, speech.end
    assert end is not None
    assert header["id"] == end["id"] == transcript_id
    assert header["language"] == end["language"] == "es"
    assert header["encoding"] == "LINEAR16"
    assert header["engine"] == "espeak-ng"
    assert header["voice"]
    assert "errorCode" not in end, end
    rate = header["sampleRate"]
    assert 8000 <= rate <= 48000
    assert len(speech.audio) % 2 == 0
    received_ms = len(speech.audio) / 2 / rate * 1000
    assert abs(received_ms - end["durationMs"]) <= 0.1 * end["durationMs"], (
        received_ms,
        end,
    )
    assert 1000 <= end["durationMs"] <= 20_000, end  # a spoken sentence
    assert rms(speech.audio) > AUDIBLE_RMS, rms(speech.audio)


# --- 1. speech is transcribed, translated and spoken ----------------------------------

FORMATS = [
    pytest.param("LINEAR16", 16000, 20, ENGLISH[0:3], id="linear16-16k-20ms"),
    pytest.param("LINEAR16", 48000, 100, ENGLISH[3:6], id="linear16-48k-100ms"),
    pytest.param("WEBM_OPUS", 48000, 100, [ENGLISH[i] for i in (1, 4, 5)], id="webm-opus-48k"),
]


@pytest.mark.parametrize(("encoding", "rate", "chunk_ms", "sentences"), FORMATS)
def test_spoken_sentences_are_captioned_transcribed_translated_and_spoken(
    voice_served: ServedInstance, encoding: str, rate: int, chunk_ms: int, sentences: list[str]
) -> None:
    room = f"say-{encoding}-{rate}"

    async def scenario() -> None:
        alice = await member(voice_served, f"alice-{room}", "en", room)
        bob = await member(voice_served, f"bob-{room}", "es", room)
        carol = await member(voice_served, f"carol-{room}", "en", room)
        try:
            speech = say(sentences, rate)
            await start_speech(alice, encoding, rate)
            started = await stream(alice, encoded(speech, encoding, chunk_ms), chunk_ms / 1000)
            await stop_speech(alice)
            await until(
                lambda: len(alice.named("recognized-speech")) >= len(sentences),
                15,
                "a transcript per sentence",
            )
            await asyncio.sleep(0.5)
            finals = alice.named("recognized-speech")
            texts = [final["data"]["text"] for final in finals]
            assert len(finals) == len(sentences), texts
            wers = [word_error_rate(s, t) for s, t in zip(sentences, texts, strict=True)]
            print(f"\nWER {room}: {[round(w, 2) for w in wers]} {texts}")
            assert statistics.mean(wers) <= WER_LIMIT, texts
            assert max(wers) <= SENTENCE_WER_LIMIT, texts

            captions_while_speaking: list[int] = []
            for final, sentence, end_s in zip(finals, sentences, speech.ends_s, strict=True):
                data = final["data"]
                ident, text = data["id"], data["text"]
                assert data["sourceLang"] == "en" and data["speakerName"]

                # Captions while the sentence was being said, for the room and the speaker.
                spoken_until = started + end_s
                for client in (alice, bob, carol):
                    captions = [
                        frame
                        for frame in client.named("partial-speech")
                        if frame["data"]["id"] == ident
                    ]
                    early = [f for f in captions if client.arrived_at(f) < spoken_until]
                    # Several updates per sentence, at least one before its last word.
                    assert len(captions) >= 2, (client, [f["data"]["text"] for f in captions])
                    assert early, (client, [f["data"]["text"] for f in captions])
                    if client is bob:
                        captions_while_speaking.append(len(early))
                    assert all(f["data"]["sourceLang"] == "en" for f in captions)

                # The Spanish listener reads it in Spanish and hears it.
                to_bob = await bob.expect("translated-message", id=ident)
                assert to_bob["data"]["originalText"] == text
                assert to_bob["data"]["targetLang"] == "es"
                assert to_bob["data"]["sourceLang"] == "en"
                assert "errorCode" not in to_bob["data"], to_bob
                spanish = to_bob["data"]["translatedText"].lower()
                found = [w for w in SENTENCES[sentence] if w in spanish]
                assert len(found) >= 2, (spanish, SENTENCES[sentence])
                await bob.expect("synthesized-speech-end", id=ident, timeout=15)

                # The English listener reads the same text and hears nothing.
                to_carol = await carol.expect("translated-message", id=ident)
                assert to_carol["data"]["translatedText"] == to_carol["data"]["originalText"]
                assert to_carol["data"]["originalText"] == text
                assert to_carol["data"]["targetLang"] == "en"

            print(f"captions per sentence before its last word: {captions_while_speaking}")
            spoken = heard(bob)
            assert sorted(spoken) == sorted(final["data"]["id"] for final in finals)
            for ident, speech_heard in spoken.items():
                assert_audible_spanish(speech_heard, ident)

            await asyncio.sleep(0.5)
            assert carol.speech_frames() == [] and carol.audio == []
            assert alice.speech_frames() == [] and alice.audio == []
            assert alice.named("translated-message") == []
            for client in (alice, bob, carol):
                assert client.codes() == [], client.named("error")
        finally:
            await close_all(alice, bob, carol)

    run(scenario)


# --- 2. preferences -------------------------------------------------------------------


def test_listener_preferences_choose_whether_and_how_translations_are_spoken(
    voice_served: ServedInstance,
) -> None:
    room = "prefs"

    async def scenario() -> None:
        alice = await member(voice_served, "alice-prefs", "en", room)
        quiet = await member(voice_served, "quiet-prefs", "es", room)
        latino = await member(voice_served, "latino-prefs", "es", room)
        plain = await member(voice_served, "plain-prefs", "es", room)
        try:
            reply = await quiet.request("set-preferences", {"speech": False})
            assert reply["event"] == "ack", reply
            reply = await latino.request("set-preferences", {"voice": "es-419"})
            assert reply["event"] == "ack", reply
            for bad in (
                {"ttsEngine": "no-such-tts"},
                {"sttEngine": "no-such-stt"},
                {"translationEngine": "no-such-translator"},
                {"voice": "xx-nowhere"},
            ):
                reply = await plain.request("set-preferences", bad)
                assert reply["event"] == "error", reply
                assert reply["data"]["code"] == "unknown_engine", reply

            sentence = ENGLISH[5]
            speech = say([sentence], 16000)
            await start_speech(alice)
            await stream(alice, encoded(speech, "LINEAR16", 100), 0.1)
            await stop_speech(alice)
            final = await alice.expect("recognized-speech", timeout=15)
            ident = final["data"]["id"]
            assert word_error_rate(sentence, final["data"]["text"]) <= SENTENCE_WER_LIMIT, final

            for listener in (quiet, latino, plain):
                to_listener = await listener.expect("translated-message", id=ident)
                assert to_listener["data"]["targetLang"] == "es"
            await latino.expect("synthesized-speech-end", id=ident, timeout=15)
            await plain.expect("synthesized-speech-end", id=ident, timeout=15)
            latino_speech = heard(latino)[ident]
            plain_speech = heard(plain)[ident]
            assert_audible_spanish(latino_speech, ident)
            assert_audible_spanish(plain_speech, ident)
            assert latino_speech.header["voice"] == "es-419"
            assert plain_speech.header["voice"] not in {None, "es-419"}
            assert latino_speech.audio != plain_speech.audio  # another voice, other sound

            await asyncio.sleep(1.0)
            assert quiet.speech_frames() == [] and quiet.audio == []

            # Turning speech back on makes the next translation heard.
            reply = await quiet.request("set-preferences", {"speech": True})
            assert reply["event"] == "ack", reply
            reply = await alice.request(
                "speech-transcript", {"transcript": "The house is big.", "sourceLang": "en"}
            )
            assert reply["event"] == "ack", reply
            typed = await quiet.expect("translated-message", originalText="The house is big.")
            await quiet.expect("synthesized-speech-end", id=typed["data"]["id"], timeout=15)
            assert_audible_spanish(heard(quiet)[typed["data"]["id"]], typed["data"]["id"])
            for client in (alice, quiet, latino):
                assert client.codes() == [], client.named("error")
            assert plain.codes() == ["unknown_engine"] * 4
        finally:
            await close_all(alice, quiet, latino, plain)

    run(scenario)


# --- 3. bad input ---------------------------------------------------------------------


def test_audio_without_start_speech_is_refused(voice_served: ServedInstance) -> None:
    async def scenario() -> None:
        alice = await member(voice_served, "alice-nostart", "en", "nostart")
        bob = await member(voice_served, "bob-nostart", "es", "nostart")
        try:
            await alice.send_raw(bytes(3200))
            error = await alice.expect("error")
            assert error["data"]["code"] == "not_speaking"
            reply = await alice.request("stop-speech")
            assert reply["event"] == "error" and reply["data"]["code"] == "not_speaking", reply

            # After a finished speech, audio is refused again.
            await start_speech(alice)
            await stop_speech(alice)
            await alice.send_raw(bytes(3200))
            await until(lambda: len(alice.named("error")) == 3, 5, "the third error")
            assert alice.codes() == ["not_speaking"] * 3

            reply = await alice.request(
                "speech-transcript", {"transcript": "Still here.", "sourceLang": "en"}
            )
            assert reply["event"] == "ack", reply
            await bob.expect("translated-message", originalText="Still here.")
        finally:
            await close_all(alice, bob)

    run(scenario)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"encoding": "MP3"}, "unsupported_encoding"),
        ({"encoding": "webm"}, "unsupported_encoding"),
        ({"sampleRateHertz": 4000}, "invalid_sample_rate"),
        ({"sampleRateHertz": 96000}, "invalid_sample_rate"),
        ({"encoding": "WEBM_OPUS", "sampleRateHertz": 96000}, "invalid_sample_rate"),
    ],
)
def test_start_speech_in_an_unusable_format_is_refused(
    voice_served: ServedInstance, data: dict[str, Any], code: str
) -> None:
    async def scenario() -> None:
        alice = await member(voice_served, "alice-format", "en", "format")
        try:
            reply = await alice.request("start-speech", {"languageCode": "en", **data})
            assert reply["event"] == "error" and reply["data"]["code"] == code, reply
            # Not speaking: audio is refused, and a good start-speech works.
            await alice.send_raw(bytes(320))
            assert (await alice.expect("error", code="not_speaking"))["data"]
            await start_speech(alice)
            await stop_speech(alice)
            assert alice.codes() == [code, "not_speaking"]
        finally:
            await close_all(alice)

    run(scenario)


def test_bad_frames_while_speaking_leave_the_speech_working(voice_served: ServedInstance) -> None:
    """A second start-speech and an odd-sized chunk are refused; the stream carries on."""

    async def scenario() -> None:
        alice = await member(voice_served, "alice-odd", "en", "odd")
        bob = await member(voice_served, "bob-odd", "es", "odd")
        try:
            await start_speech(alice)
            reply = await alice.request("start-speech", {"languageCode": "en"})
            assert reply["event"] == "error" and reply["data"]["code"] == "already_speaking"
            await alice.send_raw(bytes(321))
            await alice.expect("error", code="odd_byte_count")

            sentence = ENGLISH[2]
            await stream(alice, encoded(say([sentence], 16000), "LINEAR16", 40), 0.04)
            await stop_speech(alice)
            final = await alice.expect("recognized-speech", timeout=15)
            assert word_error_rate(sentence, final["data"]["text"]) <= SENTENCE_WER_LIMIT, final
            await bob.expect("translated-message", id=final["data"]["id"])
            assert alice.codes() == ["already_speaking", "odd_byte_count"]
        finally:
            await close_all(alice, bob)

    run(scenario)


def _header_chunk() -> bytes:
    """The first timeslice of a real WebM stream: its header and some audio."""
    pcm = linear16(ENGLISH[0], 48000)
    return timeslices(opus_stream(pcm, 48000, "webm"), len(pcm) / 96000, 100)[0]


CORRUPT: dict[str, Callable[[], list[bytes]]] = {
    "garbage-from-the-start": lambda: [garbage(1600, seed) for seed in range(20)],
    "magic-then-garbage": lambda: [
        _header_chunk()[:4] + garbage(1600, 99),
        *(garbage(1600, seed) for seed in range(19)),
    ],
}


async def speak_opus_sentence(speaker: TimedClient, listener: TimedClient, sentence: str) -> None:
    """A fresh WEBM_OPUS speech is recognized and reaches the listener."""
    recognized = len(speaker.named("recognized-speech"))
    await start_speech(speaker, "WEBM_OPUS", 48000)
    await stream(speaker, encoded(say([sentence], 48000), "WEBM_OPUS", 100), 0.1)
    await stop_speech(speaker)
    await until(lambda: len(speaker.named("recognized-speech")) > recognized, 15, "the transcript")
    final = speaker.named("recognized-speech")[-1]
    assert word_error_rate(sentence, final["data"]["text"]) <= SENTENCE_WER_LIMIT, final
    await listener.expect("translated-message", id=final["data"]["id"])


@pytest.mark.parametrize("case", list(CORRUPT))
def test_corrupt_opus_is_reported_and_the_room_keeps_working(
    voice_served: ServedInstance, case: str
) -> None:
    room = f"corrupt-{case}"

    async def scenario() -> None:
        alice = await member(voice_served, f"alice-{room}", "en", room)
        bob = await member(voice_served, f"bob-{room}", "es", room)
        try:
            await start_speech(alice, "WEBM_OPUS", 48000)
            await stream(alice, CORRUPT[case](), 0.1)
            await stop_speech(alice)
            codes = alice.codes()
            assert codes and set(codes) == {"corrupt_audio"}, codes
            assert alice.named("recognized-speech") == []
            assert bob.named("translated-message") == [] and bob.codes() == []

            await speak_opus_sentence(alice, bob, ENGLISH[3])
            assert set(alice.codes()) == {"corrupt_audio"}
        finally:
            await close_all(alice, bob)

    run(scenario)


def test_corrupt_opus_is_reported_once_not_once_per_chunk(voice_served: ServedInstance) -> None:
    async def scenario() -> None:
        alice = await member(voice_served, "alice-storm", "en", "storm")
        try:
            await start_speech(alice, "WEBM_OPUS", 48000)
            await stream(alice, CORRUPT["garbage-from-the-start"](), 0.1)  # 2 s, 20 chunks
            await stop_speech(alice)
            print(f"\ncorrupt_audio frames for 20 garbage chunks: {len(alice.codes())}")
            assert 1 <= len(alice.codes()) <= 3, alice.codes()
        finally:
            await close_all(alice)

    run(scenario)


def test_garbage_inside_an_opus_stream_is_skipped(voice_served: ServedInstance) -> None:
    """Damage after a valid start is resynced past, as players do: some audio is lost
    (``test_garbage_inside_an_opus_stream_is_skipped`` in the engine tests), not the stream."""

    async def scenario() -> None:
        alice = await member(voice_served, "alice-damaged", "en", "damaged")
        bob = await member(voice_served, "bob-damaged", "es", "damaged")
        try:
            sentence = ENGLISH[4]
            chunks = encoded(say([sentence], 48000), "WEBM_OPUS", 100)
            damaged = [*chunks[:3], garbage(800, 5), garbage(800, 6), *chunks[3:]]
            await start_speech(alice, "WEBM_OPUS", 48000)
            await stream(alice, damaged, 0.1)
            await stop_speech(alice)
            final = await alice.expect("recognized-speech", timeout=15)
            text = final["data"]["text"]
            print(f"\ndamaged WEBM_OPUS stream heard as {text!r}")
            # What the damage hid is lost; what came after it is heard.
            assert word_error_rate(sentence, text) <= SENTENCE_WER_LIMIT, text
            assert "school" in text.lower(), text
            await bob.expect("translated-message", id=final["data"]["id"])
            assert len(alice.codes()) <= 1, alice.codes()
        finally:
            await close_all(alice, bob)

    run(scenario)


def test_silence_makes_no_transcript_and_no_errors(voice_served: ServedInstance) -> None:
    async def scenario() -> None:
        alice = await member(voice_served, "alice-quiet", "en", "quiet")
        bob = await member(voice_served, "bob-quiet", "es", "quiet")
        try:
            await start_speech(alice)
            await stream(alice, pcm_chunks(silence(5.0), 16000, 50), 0.05)
            await stop_speech(alice)
            await asyncio.sleep(1.5)
            assert alice.named("recognized-speech") == []
            assert alice.named("partial-speech") == [] and bob.named("partial-speech") == []
            assert bob.named("translated-message") == []
            assert len(alice.named("error")) <= 1, alice.named("error")
            assert bob.named("error") == []
        finally:
            await close_all(alice, bob)

    run(scenario)


def test_audio_sent_ten_times_too_fast_is_bounded_and_nobody_else_notices(
    voice_served: ServedInstance,
) -> None:
    async def scenario() -> None:
        fast = await member(voice_served, "alice-fast", "en", "fast")
        fast_listener = await member(voice_served, "bob-fast", "es", "fast")
        calm = await member(voice_served, "carol-calm", "en", "calm")
        calm_listener = await member(voice_served, "dave-calm", "es", "calm")
        try:
            burst = say(ENGLISH * 2, 16000, pause_s=0.4)  # about 40 s of speech
            calm_sentence = ENGLISH[1]

            async def flood() -> float:
                await start_speech(fast)
                started = time.monotonic()
                await stream(fast, pcm_chunks(burst.pcm, 16000, 100), 0.1, speed=10)
                return time.monotonic() - started

            async def speak_calmly() -> float:
                """Say a sentence; how long after its last word the transcript came."""
                speech = say([calm_sentence], 16000)
                await start_speech(calm)
                started = await stream(calm, encoded(speech, "LINEAR16", 50), 0.05)
                await stop_speech(calm)
                final = await calm.expect("recognized-speech", timeout=15)
                return calm.arrived_at(final) - (started + speech.ends_s[0])

            flood_s, calm_latency_s = await asyncio.gather(flood(), speak_calmly())
            await asyncio.sleep(0.5)
            errors = fast.named("error")
            codes = {error["data"]["code"] for error in errors}
            print(
                f"\n10x: {len(errors)} error frames ({sorted(codes)}) over {flood_s:.1f} s; "
                f"other room's transcript {calm_latency_s:.2f} s after its last word was sent"
            )
            assert errors, "audio at 10x real time must be reported"
            assert codes <= {"audio_too_fast", "audio_overflow", "audio_rate_limited"}, codes
            assert len(errors) <= flood_s + 2, [error["data"] for error in errors]

            # The other room did not notice.
            final = calm.named("recognized-speech")[0]
            # One sentence, decoded while a 10x flood competes for both cores: the
            # per-sentence bound applies (the 0.25 average is checked on streams).
            assert word_error_rate(calm_sentence, final["data"]["text"]) <= SENTENCE_WER_LIMIT, (
                final
            )
            assert calm_latency_s < 3, calm_latency_s
            await calm_listener.expect("translated-message", id=final["data"]["id"])
            assert calm.codes() == [] and calm_listener.codes() == []
            assert fast_listener.codes() == []

            # The fast speaker, now at real time, is understood again.
            sentence = ENGLISH[5]
            before = len(fast.named("recognized-speech"))
            await stream(fast, encoded(say([sentence], 16000, 1.0), "LINEAR16", 100), 0.1)
            await stop_speech(fast)
            await until(lambda: len(fast.named("recognized-speech")) > before, 15, "transcript")
            last = fast.named("recognized-speech")[-1]["data"]["text"]
            assert word_error_rate(sentence, last) <= SENTENCE_WER_LIMIT, last
            assert len(fast.named("error")) == len(errors), "errors after slowing down"
        finally:
            await close_all(fast, fast_listener, calm, calm_listener)

    run(scenario)


# --- long continuous speech -----------------------------------------------------------


def server_rss_mb(served: ServedInstance) -> float:
    assert served.process is not None
    for line in Path(f"/proc/{served.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@dataclass
class LongSpeech:
    """What 90 s of continuous speech produced."""

    seconds: float
    reference: str
    texts: list[str]
    durations_ms: list[int]
    errors: list[dict[str, Any]]
    translations: int
    rss_mb: list[tuple[float, float]] = field(default_factory=list)  # (audio second, MB)


LONG_SPEED = 1.4  # under the service's 1.5x allowance
#: The engines' caches fill during the first utterances (the first third). After that a
#: flat server grew 5-16 MB over the last 60 s of speech here (measured with CTranslate2's
#: shape cache capped), the current one 60-75 MB; 40 MB a minute would be 2.4 GB an hour.
RSS_GROWTH_LIMIT_MB = 40


@pytest.fixture(scope="module")
def long_speech(voice_served: ServedInstance) -> LongSpeech:
    """Stream 90 s of speech without a pause at 1.4x real time; note the server's RSS."""
    sentences: list[str] = []
    pcm = b""
    while len(pcm) < 90 * 32000:
        sentence = CONTINUOUS[len(sentences) % len(CONTINUOUS)]
        sentences.append(sentence)
        pcm += trimmed(sentence) + silence(0.05)
    chunks = pcm_chunks(pcm, 16000, 100)
    seconds = len(pcm) / 32000

    async def scenario() -> LongSpeech:
        alice = await member(voice_served, "alice-long", "en", "long")
        bob = await member(voice_served, "bob-long", "es", "long")
        try:
            result = LongSpeech(seconds, " ".join(sentences), [], [], [], 0)
            sampling = True

            async def sample() -> None:
                while sampling:
                    audio_s = (time.monotonic() - started) * LONG_SPEED
                    result.rss_mb.append((audio_s, server_rss_mb(voice_served)))
                    await asyncio.sleep(0.5)

            await start_speech(alice)
            started = time.monotonic()
            sampler = asyncio.create_task(sample())
            await stream(alice, chunks, 0.1, speed=LONG_SPEED)
            await stop_speech(alice)
            await asyncio.sleep(2)
            sampling = False
            await sampler
            result.rss_mb.append((seconds, server_rss_mb(voice_served)))
            result.texts = [f["data"]["text"] for f in alice.named("recognized-speech")]
            result.errors = alice.named("error")
            result.translations = len(bob.named("translated-message"))
        finally:
            await close_all(alice, bob)
        for line in voice_served.replay("long", "--json", "--type", "TranscriptRecognized").split(
            "\n"
        ):
            if line:
                result.durations_ms.append(int(orjson.loads(line)["duration_ms"]))
        return result

    result: LongSpeech = run(scenario)
    return result


def test_long_continuous_speech_is_cut_into_utterances(long_speech: LongSpeech) -> None:
    texts, durations = long_speech.texts, long_speech.durations_ms
    print(f"\n{long_speech.seconds:.0f} s continuous: {len(texts)} utterances, ms {durations}")
    assert long_speech.errors == []
    # 90 s without a pause: cut at the 15 s maximum, six utterances or so.
    assert 5 <= len(texts) <= 8, texts
    assert len(durations) == len(texts)
    assert all(1000 <= ms <= MAX_UTTERANCE_MS + 32 for ms in durations), durations
    assert sum(durations) >= 0.9 * long_speech.seconds * 1000, durations
    # Each utterance is real speech, and together they say what was said.
    assert all(len(text.split()) >= 20 for text in texts[:-1]), texts
    wer = word_error_rate(long_speech.reference, " ".join(texts))
    print(f"long speech WER {wer:.2f}")
    assert wer <= 0.35, texts
    assert long_speech.translations == len(texts)


def test_long_continuous_speech_does_not_grow_memory(long_speech: LongSpeech) -> None:
    third = long_speech.seconds / 3
    first = [mb for second, mb in long_speech.rss_mb if second <= third]
    last = [mb for second, mb in long_speech.rss_mb if second >= 2 * third]
    growth = max(last) - first[-1]
    print(f"\nserver RSS: {first[-1]:.0f} MB after the first third, max {max(last):.0f} MB late")
    assert growth <= RSS_GROWTH_LIMIT_MB, [(round(s), round(mb)) for s, mb in long_speech.rss_mb]


# --- 4. nothing lost at the end -------------------------------------------------------


@pytest.mark.parametrize(("encoding", "rate"), [("LINEAR16", 16000), ("WEBM_OPUS", 48000)])
def test_stop_speech_right_after_the_last_word_keeps_it(
    voice_served: ServedInstance, encoding: str, rate: int
) -> None:
    room = f"abrupt-{encoding}"

    async def scenario() -> None:
        alice = await member(voice_served, f"alice-{room}", "en", room)
        bob = await member(voice_served, f"bob-{room}", "es", room)
        try:
            sentence = ENGLISH[1]  # ends with "Friday"
            pcm = silence(0.3, rate) + trimmed(sentence, rate)  # no silence after the last word
            speech = Speech(pcm, rate, [len(pcm) / 2 / rate])
            await start_speech(alice, encoding, rate)
            await stream(alice, encoded(speech, encoding, 100), 0.1)
            stopped = time.monotonic()
            await stop_speech(alice)
            final = await alice.expect("recognized-speech", timeout=15)
            latency = time.monotonic() - stopped
            text = final["data"]["text"]
            print(f"\nabrupt stop {encoding}: {text!r} {latency:.2f} s after stop-speech")
            assert word_error_rate(sentence, text) <= WER_LIMIT, text
            assert text.rstrip(".!? ").lower().endswith("friday"), text
            to_bob = await bob.expect("translated-message", id=final["data"]["id"])
            assert "viernes" in to_bob["data"]["translatedText"].lower(), to_bob
            assert alice.codes() == []
        finally:
            await close_all(alice, bob)

    run(scenario)
