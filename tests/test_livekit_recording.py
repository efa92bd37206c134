"""Recording a LiveKit room: the room's agent records what it heard and spoke.

A real LiveKit server (v1.13.5), a real agent worker dispatched by it, real
rtc clients (Alice speaks espeak-ng English, Bob listens in Spanish) and an
in-process voicemode with recording on: the agent learns that the room
records, encodes Alice's utterance and its spoken Spanish translation to
Ogg Opus and ships them over its control plane; voicemode stores them in the
blob store and records ``AudioRecorded``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import av
import numpy as np
import pytest

from actors.agent_messages import RecordedAudio, RoomMembers, RoomRecording
from actors.messages import Accepted, Outcome, SetRecording
from actors.recording import RecordingSettings
from actors.service import ServiceSettings, VoiceService
from adapters.blobs.local import LocalDirectoryBlobStore
from adapters.engines.audio.ogg_opus import encode_ogg_opus
from adapters.engines.translation.apertium import ApertiumTranslator
from adapters.engines.translation.identity import IdentityTranslator
from adapters.engines.translation.registry import TranslationRegistry
from adapters.shells.direct_control_plane import DirectControlPlane
from adapters.shells.livekit_agent.wire import decode_recorded, encode_recorded
from adapters.shells.protocol import ProtocolError
from events.domain import room_id_for
from events.recording import AudioRecorded
from events.store import EventStore
from runtime import build_speech
from tests.support.livekit_server import LiveKitServer, livekit_server
from tests.support.rtc_people import eventually
from tests.support.speech import linear16
from tests.test_livekit_agent import FIRST, Voicemode, dispatched_conversation, join, run

__all__ = ["livekit_server"]  # the fixture, imported to be found by pytest


async def set_recording(service: VoiceService, code: str, user: str, enabled: bool) -> None:
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[Outcome] = loop.create_future()

    def reply(outcome: Outcome) -> None:
        loop.call_soon_threadsafe(answer.set_result, outcome)

    service.tell_room(code, SetRecording(user, enabled, reply))
    assert isinstance(await answer, Accepted)


def played_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        frames = list(container.decode(audio=0))
    return sum(frame.samples for frame in frames) / frames[0].sample_rate


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[Voicemode]:
    speech = build_speech(["faster-whisper"], ["espeak-ng"])
    service = VoiceService(
        EventStore.open(str(tmp_path / "voicemode.db")),
        TranslationRegistry([ApertiumTranslator()], timeout_s=5),
        ServiceSettings(),
        speech,
        recording=RecordingSettings(LocalDirectoryBlobStore(tmp_path / "recordings")),
    )
    yield Voicemode(service, speech)
    service.close()


def test_an_agent_learns_that_its_room_records(tmp_path: Path) -> None:
    service = VoiceService(
        EventStore.open(str(tmp_path / "voicemode.db")),
        TranslationRegistry([IdentityTranslator()]),
        ServiceSettings(),
        recording=RecordingSettings(LocalDirectoryBlobStore(tmp_path / "recordings")),
    )

    async def scenario() -> None:
        await join(service, "r", "alice", "en")
        await set_recording(service, "r", "alice", True)
        control = DirectControlPlane(service)
        await control.attach("r")
        updates = control.updates("r")
        assert await anext(updates) == RoomMembers("r", {"alice": "en"})
        assert await anext(updates) == RoomRecording("r", True)
        await set_recording(service, "r", "alice", False)
        assert await asyncio.wait_for(anext(updates), 10) == RoomRecording("r", False)
        await control.close()

    try:
        run(scenario)
    finally:
        service.close()


def test_a_recorded_clip_crosses_the_agent_channel_as_one_binary_frame() -> None:
    opus = encode_ogg_opus(np.zeros(16000, dtype=np.int16), 16000)
    clip = RecordedAudio(
        "r", "speech", uuid4(), None, "es", "es", "espeak-ng", 1, 1000, 22050, opus
    )
    assert decode_recorded(encode_recorded(clip)) == clip
    with pytest.raises(ProtocolError) as refused:
        decode_recorded(encode_recorded(clip)[: -len(opus)] + b"not ogg")
    assert refused.value.code == "invalid_field"
    with pytest.raises(ProtocolError):
        decode_recorded(b"\x00\x00\x10\x00{}")


@pytest.mark.slow
def test_a_dispatched_agent_records_what_it_heard_and_spoke(
    recorded: Voicemode, livekit_server: LiveKitServer, tmp_path: Path
) -> None:
    code = "lk-recorded"
    agent_name = "voicemode-recording-test"
    spoken_s = len(linear16(FIRST)) / 2 / 16000

    async def clips() -> list[AudioRecorded]:
        events = await recorded.events(code)
        found = [e for e in events if isinstance(e, AudioRecorded)]
        kinds = {clip.kind for clip in found}
        return found if kinds == {"utterance", "speech"} else []

    async def scenario() -> list[AudioRecorded]:
        await recorded.join(code, "alice", "en")
        await recorded.join(code, "bob", "es")
        await set_recording(recorded.service, code, "alice", True)
        conversation = dispatched_conversation(livekit_server, recorded, agent_name, code)
        async with conversation as (alice, _):
            await alice.say(FIRST)
            found: list[AudioRecorded] = await eventually(
                clips, timeout_s=60, what="the utterance and its speech recorded"
            )
            return found

    found = run(scenario)
    directory = tmp_path / "recordings"
    heard = [clip for clip in found if clip.kind == "utterance"]
    spoken = [clip for clip in found if clip.kind == "speech"]
    assert len(heard) == 1 and heard[0].speaker_id == "alice" and heard[0].sample_rate == 16000
    assert heard[0].room_id == room_id_for(code)
    played = played_seconds(directory / heard[0].key)
    assert abs(played - heard[0].duration_ms / 1000) < 0.08
    assert spoken_s - 0.1 <= played <= spoken_s + 1.2, (played, spoken_s)
    (speech,) = spoken
    assert speech.language == "es" and speech.engine == "espeak-ng"
    assert speech.transcript_id == heard[0].transcript_id
    played = played_seconds(directory / speech.key)
    assert played > 1.0 and abs(played - speech.duration_ms / 1000) < 0.08
