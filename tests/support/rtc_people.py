"""People in a LiveKit room for tests: rtc clients that speak and listen.

A :class:`Speaker` publishes espeak-ng speech on a microphone track, pushed
in real time 20 ms at a time; a :class:`Listener` subscribes to the
``tts-es`` track only (as a real client picks its own language) and to the
``lk.transcription`` text streams. Both are LiveKit's own Rust SDK
(livekit.rtc), connected to a real LiveKit server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from livekit import api, rtc

from adapters.shells.livekit_agent.speaking import track_name
from tests.support.livekit_server import LiveKitServer
from tests.support.speech import linear16, silence

MIC_RATE = 16000
FRAME_MS = 20
LOUD = 1000
"""A peak above this (int16) is speech, not silence or comfort noise."""


def token(
    server: LiveKitServer,
    identity: str,
    room: str,
    kind: api.AccessToken.ParticipantKind = "standard",
    attributes: dict[str, str] | None = None,
) -> str:
    return (
        api.AccessToken(server.api_key, server.api_secret)
        .with_identity(identity)
        .with_kind(kind)
        .with_attributes(attributes or {})
        .with_grants(api.VideoGrants(room_join=True, room=room, agent=kind == "agent"))
        .to_jwt()
    )


async def eventually(check: Callable[[], Any], timeout_s: float = 30, what: str = "") -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.1)


OnPublished = Callable[[rtc.RemoteTrackPublication, rtc.RemoteParticipant], None]
"""Decides whether to subscribe to a track someone published."""


async def connect_choosing(
    room: rtc.Room, url: str, access_token: str, on_published: OnPublished
) -> None:
    """Join without auto-subscribe; ``on_published`` sees every track, present and future.

    As a client picking its own language does: tracks published before the
    join are offered to it too, once connected.
    """
    room.on("track_published", on_published)
    await room.connect(url, access_token, rtc.RoomOptions(auto_subscribe=False))
    offer_present_tracks(room, on_published)


def offer_present_tracks(room: rtc.Room, on_published: OnPublished) -> None:
    """Offer ``on_published`` every track the room holds now."""
    for participant in room.remote_participants.values():
        for publication in participant.track_publications.values():
            on_published(publication, participant)


@dataclass
class Speaker:
    """A person with a microphone: speech is pushed in real time, 20 ms at a time."""

    room: rtc.Room
    source: rtc.AudioSource
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def join(cls, server: LiveKitServer, room: str, identity: str) -> Speaker:
        """Join with a token signed by the test's own key, saying the speaker speaks English."""
        return await cls.connect(
            server.url, token(server, identity, room, attributes={"language": "en"})
        )

    @classmethod
    async def connect(cls, url: str, access_token: str) -> Speaker:
        """Join with ``access_token`` and publish a microphone track."""
        lk_room = rtc.Room()
        speaker = cls(lk_room, rtc.AudioSource(MIC_RATE, 1))
        lk_room.on("local_track_subscribed", lambda _: speaker.subscribed.set())
        await lk_room.connect(url, access_token)
        track = rtc.LocalAudioTrack.create_audio_track("microphone", speaker.source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        await lk_room.local_participant.publish_track(track, options)
        return speaker

    async def say(self, text: str) -> None:
        pcm = silence(1.0, MIC_RATE) + linear16(text, MIC_RATE) + silence(1.5, MIC_RATE)
        samples = MIC_RATE * FRAME_MS // 1000
        size = samples * 2
        pcm += bytes(-len(pcm) % size)
        for start in range(0, len(pcm), size):
            frame = rtc.AudioFrame(pcm[start : start + size], MIC_RATE, 1, samples)
            await self.source.capture_frame(frame)
        await self.source.wait_for_playout()


@dataclass
class Listener:
    """A person hearing Spanish: the ``tts-es`` track and the transcription text streams.

    Like a real client, it subscribes to its language's track only, so a
    subscription to a speaker's microphone can only be the agent's.
    """

    room: rtc.Room
    loud_at: list[float] = field(default_factory=list)
    subscribed_at: list[float] = field(default_factory=list)
    texts: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @classmethod
    async def join(cls, server: LiveKitServer, room: str, identity: str) -> Listener:
        """Join with a token signed by the test's own key."""
        return await cls.connect(server.url, token(server, identity, room))

    @classmethod
    async def connect(cls, url: str, access_token: str) -> Listener:
        """Join with ``access_token``, subscribing to ``tts-es`` only."""
        listener = cls(rtc.Room())
        listener.room.on("track_subscribed", listener._on_track)
        listener.room.register_text_stream_handler("lk.transcription", listener._on_text)
        await connect_choosing(listener.room, url, access_token, listener._on_published)
        return listener

    def heard_since(self, moment: float) -> bool:
        return any(at > moment for at in self.loud_at)

    def subscriptions_after_asking_again(self) -> int:
        """How often ``tts-es`` was subscribed, after asking for it again if unsubscribed.

        For waiting on a track the agent republished: a subscription asked
        for while its publisher was still rebuilding its session can be
        lost, and a client that wants a track asks again.
        """
        offer_present_tracks(self.room, self._on_published)
        return len(self.subscribed_at)

    async def audio_packets_received(self) -> int:
        """RTP packets received so far on the audio tracks this listener subscribed to.

        Both peer connections are looked at: LiveKit may carry subscribed
        tracks on the publisher's connection (single peer connection mode).
        """
        stats = await self.room.get_rtc_stats()
        return sum(
            entry.inbound_rtp.received.packets_received
            for entry in (*stats.subscriber_stats, *stats.publisher_stats)
            if entry.WhichOneof("stats") == "inbound_rtp"
            and entry.inbound_rtp.stream.kind == "audio"
        )

    def _on_published(
        self, publication: rtc.RemoteTrackPublication, _: rtc.RemoteParticipant
    ) -> None:
        if publication.name == track_name("es") and not publication.subscribed:
            publication.set_subscribed(True)

    def _on_track(
        self, track: rtc.Track, publication: rtc.RemoteTrackPublication, _: rtc.RemoteParticipant
    ) -> None:
        if publication.name == track_name("es"):
            self.subscribed_at.append(time.monotonic())
            self._spawn(self._listen(track))

    async def _listen(self, track: rtc.Track) -> None:
        async for event in rtc.AudioStream.from_track(track=track, sample_rate=48000):
            if np.abs(np.frombuffer(event.frame.data, dtype=np.int16)).max() > LOUD:
                self.loud_at.append(time.monotonic())

    def _on_text(self, reader: rtc.TextStreamReader, _: str) -> None:
        async def read() -> None:
            self.texts.append((await reader.read_all(), dict(reader.info.attributes or {})))

        self._spawn(read())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def leave(self) -> None:
        await self.room.disconnect()
        for task in list(self._tasks):
            task.cancel()
