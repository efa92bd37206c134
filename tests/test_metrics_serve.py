"""``GET /metrics`` on a live ``serve``: the figures move as a conversation goes on."""

from __future__ import annotations

import asyncio

from tests.support.scrape import Scrape, scrape
from tests.support.service import Client, ServedInstance

SENTENCES = ("good morning", "the house is big", "thank you very much")


async def scrape_when(served: ServedInstance, ready: object) -> Scrape:
    """Scrape until ``ready(scrape)`` holds (the log is read by its own thread), up to 10 s."""
    assert callable(ready)
    url = f"http://127.0.0.1:{served.http_port}/metrics"
    for _ in range(100):
        result = await scrape(url)
        if ready(result):
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"the metrics never got there:\n{result.text}")


def test_metrics_follow_a_conversation(served: ServedInstance) -> None:
    asyncio.run(follow_a_conversation(served))


async def follow_a_conversation(served: ServedInstance) -> None:
    before = await scrape(f"http://127.0.0.1:{served.http_port}/metrics")
    assert before.value("voicemode_rooms_open") == 0
    assert before.value("voicemode_transcripts_total") == 0
    assert before.has("voicemode_stage_duration_seconds_count", {"stage": "translation"})
    assert before.has("process_cpu_seconds_total")

    alice = await Client.connect(served.url, served.token("alice", lang="en"))
    bob = await Client.connect(served.url, served.token("bob", lang="es"))
    for client in (alice, bob):
        assert (await client.request("join-room", {"roomCode": "r1"}))["event"] == "joined-room"
    joined = await scrape_when(
        served, lambda s: s.value("voicemode_members", {"state": "present"}) == 2
    )
    assert joined.value("voicemode_rooms_open") == 1

    for text in SENTENCES:
        await alice.request("speech-transcript", {"transcript": text, "sourceLang": "en"})
        await bob.expect("translated-message", originalText=text)
    spoke = await scrape_when(served, lambda s: s.value("voicemode_transcripts_total") == 3)
    pair = {"source": "en", "target": "es"}
    assert spoke.value("voicemode_translations_total", pair) == 3
    assert spoke.value("voicemode_translations_total", {**pair, "engine": "apertium"}) == 3
    for stage in ("translation", "delivery", "store_commit"):
        counted = spoke.value("voicemode_stage_duration_seconds_count", {"stage": stage})
        assert counted > before.value("voicemode_stage_duration_seconds_count", {"stage": stage})
    assert spoke.value("voicemode_stage_duration_seconds_count", {"stage": "delivery"}) >= 3
    assert spoke.value("voicemode_store_commit_batch_events_count") > 0
    assert spoke.value("voicemode_projection_lag_positions", {"projection": "operations"}) >= 0

    await bob.close()
    dropped = await scrape_when(
        served, lambda s: s.value("voicemode_members", {"state": "away"}) == 1
    )
    assert dropped.value("voicemode_members", {"state": "present"}) == 1
    assert dropped.value("voicemode_dropped_clients_total", {"reason": "disconnected"}) == 1

    assert (await alice.request("leave-room"))["event"] != "error"
    empty = await scrape_when(served, lambda s: s.value("voicemode_rooms_open") == 0)
    assert empty.value("voicemode_members", {"state": "present"}) == 0
    assert empty.value("voicemode_transcripts_total") == 3  # counters never go back
    await alice.close()
