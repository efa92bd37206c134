"""How long ``GET /metrics`` takes on a busy ``serve``, against its own baselines.

Starts a real ``voicemode serve`` (SQLite, Apertium, speech off), opens
``--rooms`` rooms with two members each over the WebSocket (English and
Spanish), has one sentence said and translated in each room (so every
counter and histogram has series), then times ``--scrapes`` scrapes of
``/metrics`` one after another. Baselines, same run, same process: the
scrape with one room open, and ``/healthz`` (the cheapest route: one
position query) at full size.

    .venv/bin/python bench/metrics_scrape.py                 # 200 rooms
    .venv/bin/python bench/metrics_scrape.py --rooms 20 --scrapes 20
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import aiohttp
import common

from tests.support.service import Client, ServedInstance


async def timed_gets(url: str, count: int) -> tuple[list[float], int]:
    """``count`` GETs of ``url`` one after another: their durations (s) and the last body's size."""
    durations, size = [], 0
    async with aiohttp.ClientSession() as http:
        for _ in range(count):
            started = time.perf_counter()
            async with http.get(url) as answer:
                body = await answer.read()
                assert answer.status == 200, body[:200]
            durations.append(time.perf_counter() - started)
            size = len(body)
    return durations, size


async def open_room(served: ServedInstance, number: int) -> list[Client]:
    """Two members of room ``m<number>``, one sentence said and heard translated."""
    room = f"m{number}"
    speaker = await Client.connect(served.url, served.token(f"a{number}", lang="en"))
    listener = await Client.connect(served.url, served.token(f"b{number}", lang="es"))
    for client in (speaker, listener):
        joined = await client.request("join-room", {"roomCode": room}, timeout=60)
        assert joined["event"] == "joined-room", joined
    text = f"good morning number {number}"
    await speaker.request("speech-transcript", {"transcript": text, "sourceLang": "en"}, timeout=60)
    await listener.expect("translated-message", timeout=120, originalText=text)
    return [speaker, listener]


async def measure(served: ServedInstance, rooms: int, scrapes: int) -> dict[str, object]:
    base = f"http://127.0.0.1:{served.http_port}"
    clients = await open_room(served, 0)
    one_room, one_size = await timed_gets(f"{base}/metrics", scrapes)
    started = time.monotonic()
    for first in range(1, rooms, 20):
        batch = range(first, min(first + 20, rooms))
        for opened in await asyncio.gather(*(open_room(served, n) for n in batch)):
            clients += opened
    print(f"{rooms} rooms, {len(clients)} members open in {time.monotonic() - started:.1f} s")
    full, full_size = await timed_gets(f"{base}/metrics", scrapes)
    health, _ = await timed_gets(f"{base}/healthz", scrapes)
    for client in clients:
        await client.close()
    return {
        "full": common.summary_ms(full),
        "one_room": common.summary_ms(one_room),
        "healthz": common.summary_ms(health),
        "full_bytes": full_size,
        "one_room_bytes": one_size,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--scrapes", type=int, default=50)
    common.add_smoke_flag(parser, "5 rooms, 10 scrapes")
    parser.add_argument("--results", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    rooms, scrapes = (5, 10) if args.smoke else (args.rooms, args.scrapes)
    common.heading(f"bench/metrics_scrape.py: /metrics at {rooms} rooms")
    print(common.machine_note())
    with tempfile.TemporaryDirectory() as workdir:
        served = ServedInstance(db=str(Path(workdir) / "metrics.db"))
        served.start()
        try:
            figures = asyncio.run(measure(served, rooms, scrapes))
        finally:
            served.stop()
    full, one, health = figures["full"], figures["one_room"], figures["healthz"]
    assert isinstance(full, dict) and isinstance(one, dict) and isinstance(health, dict)
    print(f"/metrics at {rooms} rooms: {common.fmt_summary(full)}, {figures['full_bytes']} bytes")
    print(f"/metrics at 1 room:     {common.fmt_summary(one)}, {figures['one_room_bytes']} bytes")
    print(f"/healthz at {rooms} rooms: {common.fmt_summary(health)}")
    common.write_results(
        args.results,
        [
            common.Row(
                "metrics_scrape",
                f"/metrics scrape p50 at {rooms} rooms",
                "well under a 15 s scrape interval",
                f"{full['p50']:.1f} ms",
                f"{one['p50']:.1f} ms at 1 room; /healthz {health['p50']:.1f} ms",
            )
        ],
        figures,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
