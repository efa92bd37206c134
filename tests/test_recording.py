"""Session recording end to end: real speech into a ``serve --record`` over the WebSocket.

A room's owner turns recording on; everyone in the room is told; what the
recognizer heard of each utterance and each synthesized translation end up
as Ogg Opus files that decode back to the length that was spoken; the room
renders to one audio file covering the conversation (``replay
--export-audio`` and the HTTP route); retention deletes old audio and says
so; a recordings directory that breaks stops the recording, not the talk.
"""

from __future__ import annotations

import io
import shutil
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import av
import orjson
import pytest

from tests.support.disks import fill, tmpfs
from tests.support.service import ServedInstance, http_get
from tests.test_voice import (
    TimedClient,
    close_all,
    encoded,
    member,
    run,
    say,
    start_speech,
    stop_speech,
    stream,
    until,
)

pytestmark = pytest.mark.slow
__all__ = ["tmpfs"]  # the fixture, imported to be found by pytest

SENTENCES = [
    "The weather today is sunny with a light breeze from the west.",
    "My brother bought a new car last week.",
]


def served_with(tmp: Path, *flags: str, recordings: Path | None = None) -> ServedInstance:
    """A ``serve --record`` with speech, its store in ``tmp``, recordings there too by default."""
    return ServedInstance(
        db=str(tmp / "voicemode.db"),
        env={"VOICEMODE_SPEECH": "on"},
        args=("--record", "--record-dir", str(recordings or tmp / "recordings"), *flags),
    )


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedInstance]:
    instance = served_with(tmp_path_factory.mktemp("recording"))
    instance.start()
    yield instance
    instance.stop()


def events(served: ServedInstance, room: str, kind: str) -> list[dict[str, Any]]:
    """The room's events of one type, as ``replay --json`` gives them."""
    lines = served.replay(room, "--json", "--type", kind).splitlines()
    return [orjson.loads(line) for line in lines]


def decoded_seconds(path: Path) -> float:
    """How long an audio file plays, decoding every frame (not trusting the header)."""
    with av.open(str(path)) as container:
        samples = rate = 0
        for frame in container.decode(audio=0):
            samples += frame.samples
            rate = frame.sample_rate
    return samples / rate


async def say_sentence(speaker: TimedClient, sentence: str) -> float:
    """Speak one sentence in real time; how many seconds of speech it held."""
    speech = say([sentence], 16000, pause_s=0.3)
    heard = len(speaker.named("recognized-speech"))
    await start_speech(speaker)
    await stream(speaker, encoded(speech, "LINEAR16", 50), 0.05)
    await stop_speech(speaker)
    await until(lambda: len(speaker.named("recognized-speech")) > heard, 20, "the transcript")
    return speech.ends_s[0] - 0.3


def test_a_recorded_conversation_keeps_what_was_heard_and_spoken(
    recorded: ServedInstance, tmp_path: Path
) -> None:
    room = "recorded-talk"
    directory = Path(recorded.args[2])

    async def scenario() -> list[float]:
        alice = await member(recorded, "alice-rec", "en", room)
        bob = await member(recorded, "bob-rec", "es", room)
        try:
            reply = await alice.request("set-recording", {"enabled": True})
            assert reply["event"] == "ack", reply
            for client in (alice, bob):
                told = await client.expect("recording", recording=True)
                assert told["data"]["roomId"] == room and told["data"]["by"] == "alice-rec"
            spoken = [await say_sentence(alice, sentence) for sentence in SENTENCES]
            for final in alice.named("recognized-speech"):
                await bob.expect("synthesized-speech-end", id=final["data"]["id"], timeout=20)
            await until(lambda: len(events(recorded, room, "AudioRecorded")) >= 4, 20, "four clips")

            reply = await alice.request("set-recording", {"enabled": False})
            assert reply["event"] == "ack", reply
            stopped = await bob.expect("recording", recording=False)
            assert stopped["data"]["reason"] == "stopped"
            await say_sentence(alice, "Please send me the report before the meeting on Friday.")
            await bob.expect("translated-message", timeout=20)
            return spoken
        finally:
            await close_all(alice, bob)

    spoken = run(scenario)
    clips = events(recorded, room, "AudioRecorded")
    heard = [clip for clip in clips if clip["kind"] == "utterance"]
    synthesized = [clip for clip in clips if clip["kind"] == "speech"]
    assert len(heard) == 2 and len(synthesized) == 2, clips  # nothing after the stop
    for clip, seconds in zip(heard, spoken, strict=True):
        assert clip["sample_rate"] == 16000 and clip["speaker_id"] == "alice-rec"
        played = decoded_seconds(directory / clip["key"])
        assert abs(played - clip["duration_ms"] / 1000) < 0.08, (played, clip)
        # The recognizer got the speech plus the detector's padding: never less, not much more.
        assert seconds - 0.1 <= played <= seconds + 1.2, (played, seconds)
    for clip in synthesized:
        assert clip["language"] == "es" and clip["engine"] == "espeak-ng"
        played = decoded_seconds(directory / clip["key"])
        assert played > 1.0 and abs(played - clip["duration_ms"] / 1000) < 0.08, (played, clip)

    started = [event["who"] for event in events(recorded, room, "RecordingStarted")]
    assert started == ["alice-rec"]

    exported = tmp_path / "talk.wav"
    recorded.replay(room, "--export-audio", str(exported), "--record-dir", str(directory))
    with wave.open(str(exported)) as file:
        length = file.getnframes() / file.getframerate()
    first = min(clip["started_at"] for clip in clips)
    span = max(
        _seconds_between(first, clip["started_at"]) + clip["duration_ms"] / 1000 for clip in clips
    )
    assert abs(length - span) < 0.1, (length, span)
    assert length >= sum(spoken)

    async def over_http() -> None:
        status, body = await http_get(recorded, f"/api/rooms/{room}/recording", "alice-rec")
        assert status == 200, body
        listing = orjson.loads(body)
        assert listing["recording"] is False
        assert {clip["key"] for clip in listing["clips"]} == {clip["key"] for clip in clips}
        status, body = await http_get(
            recorded, f"/api/rooms/{room}/recording/audio?format=wav", "alice-rec"
        )
        assert status == 200 and body.startswith(b"RIFF")
        with wave.open(io.BytesIO(body)) as file:
            assert abs(file.getnframes() / file.getframerate() - length) < 0.05
        status, body = await http_get(recorded, f"/api/rooms/{room}/recording", "mallory")
        assert (status, orjson.loads(body)["error"]["code"]) == (403, "not_room_owner")

    run(over_http)


def _seconds_between(first: str, later: str) -> float:
    from datetime import datetime  # noqa: PLC0415

    return (datetime.fromisoformat(later) - datetime.fromisoformat(first)).total_seconds()


def replace_with_a_file(directory: Path) -> Path:
    """Move the recordings away and put a file in their place; where the clips are now."""
    kept = directory.parent / "kept"
    shutil.move(directory, kept)
    directory.write_text("not a directory")
    return kept


def fill_its_disk(directory: Path) -> Path:
    """Fill the file system under the recordings; the clips stay where they are."""
    fill(directory.parent)
    return directory


@pytest.mark.parametrize("breaking", [replace_with_a_file, fill_its_disk])
def test_a_broken_recordings_directory_stops_the_recording_not_the_conversation(
    tmp_path: Path, tmpfs: Path, breaking: Callable[[Path], Path]
) -> None:
    directory = tmpfs / "recordings"
    served = served_with(tmp_path, recordings=directory)
    room = "recording-breaks"
    served.start()
    try:

        async def scenario() -> None:
            alice = await member(served, "alice-break", "en", room)
            bob = await member(served, "bob-break", "es", room)
            try:
                assert (await alice.request("set-recording", {"enabled": True}))["event"] == "ack"
                await say_sentence(alice, SENTENCES[1])
                await until(lambda: len(list(directory.rglob("*.ogg"))) >= 2, 20, "two clips")
                kept = breaking(directory)

                await say_sentence(alice, SENTENCES[0])
                for client in (alice, bob):
                    told = await client.expect("recording", recording=False, timeout=20)
                    assert told["data"]["reason"] == "store_failed"
                # The conversation went on: Bob got the second sentence translated.
                final = alice.named("recognized-speech")[-1]
                await bob.expect("translated-message", id=final["data"]["id"], timeout=20)
                kept_clips = list(kept.rglob("*.ogg"))
                assert len(kept_clips) == 2
                assert all(decoded_seconds(clip) > 1.0 for clip in kept_clips)
            finally:
                await close_all(alice, bob)

        run(scenario)
        stopped = events(served, room, "RecordingStopped")
        assert [event["reason"] for event in stopped] == ["store_failed"]
        assert "store_failed" in served.replay(room)
    finally:
        served.stop()


def test_retention_deletes_old_audio_and_records_each_deletion(tmp_path: Path) -> None:
    served = served_with(tmp_path, "--record-retention", "3s")
    directory = tmp_path / "recordings"
    room = "recording-expires"
    served.start()
    try:

        async def scenario() -> None:
            alice = await member(served, "alice-expire", "en", room)
            try:
                assert (await alice.request("set-recording", {"enabled": True}))["event"] == "ack"
                await say_sentence(alice, SENTENCES[1])
            finally:
                await close_all(alice)
            await until(lambda: bool(events(served, room, "AudioRecorded")), 20, "the clip")
            assert list(directory.rglob("*.ogg"))
            await until(lambda: bool(events(served, room, "AudioDeleted")), 20, "its deletion")

        run(scenario)
        (clip,) = events(served, room, "AudioRecorded")
        (deleted,) = events(served, room, "AudioDeleted")
        assert deleted["key"] == clip["key"] and deleted["reason"] == "retention"
        assert not (directory / clip["key"]).exists()
        assert list(directory.rglob("*.ogg")) == []
    finally:
        served.stop()


async def http_put(
    served: ServedInstance, path: str, user: str, body: object
) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.put(
            f"http://127.0.0.1:{served.http_port}{path}",
            json=body,
            headers={"Authorization": f"Bearer {served.token(user)}"},
        ) as answer,
    ):
        return answer.status, await answer.json()


def test_the_owner_turns_recording_on_over_http_and_others_are_refused(
    recorded: ServedInstance,
) -> None:
    room = "recorded-over-http"
    path = f"/api/rooms/{room}/recording"

    async def scenario() -> None:
        alice = await member(recorded, "alice-http", "en", room)
        try:
            status, body = await http_put(recorded, path, "alice-http", {"enabled": True})
            assert (status, body["recording"], body["roomName"]) == (200, True, room), body
            told = await alice.expect("recording", recording=True)
            assert told["pos"] == body["position"]
            status, body = await http_put(recorded, path, "mallory", {"enabled": False})
            assert (status, body["error"]["code"]) == (403, "not_room_owner")
            status, body = await http_put(recorded, path, "alice-http", {"enabled": "no"})
            assert (status, body["error"]["code"]) == (400, "missing_field")
            status, body = await http_put(
                recorded, "/api/rooms/never-opened/recording", "alice-http", {"enabled": True}
            )
            assert (status, body["error"]["code"]) == (404, "unknown_room")
            status, raw = await http_get(recorded, f"{path}/audio", "alice-http")
            assert (status, orjson.loads(raw)["error"]["code"]) == (404, "nothing_recorded")
            status, raw = await http_get(recorded, f"{path}/audio?format=mp3", "alice-http")
            assert (status, orjson.loads(raw)["error"]["code"]) == (400, "unsupported_format")
            listing = orjson.loads((await http_get(recorded, path, "alice-http"))[1])
            assert listing == {"roomName": room, "recording": True, "clips": []}
        finally:
            await close_all(alice)

    run(scenario)


def test_a_server_without_record_refuses_to_record(tmp_path: Path) -> None:
    served = ServedInstance(db=str(tmp_path / "voicemode.db"))
    served.start()
    try:

        async def scenario() -> None:
            alice = await member(served, "alice-off", "en", "not-recorded")
            try:
                reply = await alice.request("set-recording", {"enabled": True})
                assert (reply["event"], reply["data"]["code"]) == ("error", "recording_unavailable")
                status, body = await http_put(
                    served, "/api/rooms/not-recorded/recording", "alice-off", {"enabled": True}
                )
                assert (status, body["error"]["code"]) == (409, "recording_unavailable")
                # The room is unharmed.
                reply = await alice.request(
                    "speech-transcript", {"transcript": "still here", "sourceLang": "en"}
                )
                assert reply["event"] == "ack"
            finally:
                await close_all(alice)

        run(scenario)
    finally:
        served.stop()
