"""Metrics of a live voice conversation: ``serve``'s /metrics, the agent's, and the media JSON.

Everything is real: ``voicemode serve`` and ``voicemode agent`` as processes,
LiveKit's own server, and people as livekit.rtc clients speaking real speech.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.support.agent_worker import AgentWorker
from tests.support.livekit_server import LiveKitServer, livekit_server
from tests.support.rtc_people import Listener, Speaker, eventually
from tests.support.scrape import Scrape, scrape
from tests.support.service import ServedInstance, free_port, http_get, livekit_token
from tests.test_voice_sessions import member, served_with_livekit

__all__ = ["livekit_server", "served_with_livekit"]  # fixtures, imported to be found by pytest

SENTENCE = "The weather today is sunny with a light breeze from the west."

pytestmark = pytest.mark.slow


async def media_metrics(served: ServedInstance, room: str, user: str) -> tuple[int, Any]:
    """``GET /api/rooms/{room}/media-metrics`` as ``user``: status and body."""
    status, body = await http_get(served, f"/api/rooms/{room}/media-metrics", user)
    return status, orjson.loads(body)


async def scraped_when(url: str, ready: Any, what: str) -> Scrape:
    """Scrape ``url`` until ``ready(scrape)`` holds, up to 40 s."""

    last: list[Scrape] = []

    async def attempt() -> Scrape | None:
        result = await scrape(url)
        last[:] = [result]
        return result if ready(result) else None

    try:
        found: Scrape = await eventually(attempt, 40, what)
    except AssertionError as error:
        ours = [line for line in last[0].text.splitlines() if line.startswith("voicemode_")]
        raise AssertionError("\n".join([str(error), *ours])) from None
    return found


def test_a_voice_conversation_moves_serve_and_agent_metrics(
    served_with_livekit: ServedInstance, livekit_server: LiveKitServer, tmp_path: Path
) -> None:
    served = served_with_livekit
    room = "metrics-voice"
    health_port = free_port()
    worker = AgentWorker(
        served, livekit_server, tmp_path / "agent.log", args=("--health-port", str(health_port))
    )
    worker.start()
    serve_url = f"http://127.0.0.1:{served.http_port}/metrics"
    agent_url = f"http://127.0.0.1:{health_port}/metrics"

    async def scenario() -> None:
        quiet = await scrape(agent_url)
        assert quiet.value("voicemode_agent_rooms") == 0
        async with member(served, "alice", room, "en"), member(served, "bob", room, "es") as bob_ws:
            ready = await bob_ws.request("start-voice-session", {"languageCode": "es"}, timeout=20)
            assert ready["event"] == "voice-session-ready", ready
            bob = await Listener.connect(ready["data"]["liveKitUrl"], ready["data"]["liveKitToken"])
            alice = await Speaker.connect(
                livekit_server.url, await livekit_token(served, room, "alice")
            )
            try:
                attached = await scraped_when(
                    serve_url,
                    lambda s: s.value("voicemode_agents_attached") == 1,
                    "serve to count the attached agent",
                )
                assert attached.value("voicemode_voice_sessions") == 1
                assert attached.value("voicemode_members", {"state": "present"}) == 2
                await asyncio.wait_for(alice.subscribed.wait(), 30)
                await eventually(lambda: bob.subscribed_at, 30, "bob to get tts-es")
                await alice.say(SENTENCE)
                await bob_ws.expect("translated-message", timeout=60)

                spoke = await scraped_when(
                    serve_url,
                    lambda s: s.value("voicemode_transcripts_total") == 1,
                    "serve to count the transcript",
                )
                assert (
                    spoke.value("voicemode_translations_total", {"source": "en", "target": "es"})
                    == 1
                )
                assert (
                    spoke.value("voicemode_stage_duration_seconds_count", {"stage": "stt_decode"})
                    == 1
                )
                assert spoke.value("voicemode_end_of_speech_to_delivery_seconds_count") >= 1

                measured = await scraped_when(
                    agent_url,
                    lambda s: (
                        s.value("voicemode_agent_tracks", {"direction": "inbound"}) >= 1
                        and s.value("voicemode_agent_tracks", {"direction": "outbound"}) >= 1
                    ),
                    "the agent to measure both directions",
                )
                assert measured.value("voicemode_agent_rooms") == 1
                assert measured.value("voicemode_agent_participants") == 2
                assert (
                    measured.value("voicemode_stage_duration_seconds_count", {"stage": "vad_wait"})
                    >= 1
                )
                for name in ("packet_loss_ratio", "jitter_seconds", "audio_level"):
                    for direction in ("inbound", "outbound"):
                        count = measured.value(
                            f"voicemode_agent_track_{name}_count", {"direction": direction}
                        )
                        assert count >= 1, (name, direction)
                assert measured.value("voicemode_agent_room_cpu_cores_count") >= 1
                assert measured.value("voicemode_agent_room_cpu_cores_sum") > 0

                status, body = await media_metrics(served, room, "bob")
                assert status == 200, body
                assert body["roomMetrics"]["participantCount"] == 2
                assert body["roomMetrics"]["trackCount"] >= 2
                assert body["roomMetrics"]["dataRate"] > 0
                assert 0 <= body["qualityMetrics"]["packetLoss"] < 0.05  # loopback
                assert 1 <= body["audioMetrics"]["qualityScore"] <= 5
                alice_tracks = {p["identity"]: p["tracks"] for p in body["participants"]}["alice"]
                assert [track["direction"] for track in alice_tracks] == ["inbound"]
                stranger, refused = await media_metrics(served, room, "mallory")
                assert (stranger, refused["error"]["code"]) == (403, "not_a_member")
            finally:
                await alice.room.disconnect()
                await bob.leave()

    try:
        asyncio.run(scenario())
    finally:
        worker.stop()
