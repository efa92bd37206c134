"""Closing a room while people join it: each join lands before the close or is refused after it.

A real ``serve`` (no LiveKit: closing only records) and real WebSocket
clients. Whatever the order the room's single writer puts them in, nobody is
left inside a closed room: a client that joined first is told ``room-closed``
and is out (its messages are refused), one that came later is refused
``room_closed``, and the room lists nobody.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.support.service import Client, ServedInstance

JOINERS = 8
STAGGER_S = 0.003
"""Joins start this far apart, so that some land before the close and some after it."""


def test_joins_racing_a_close_end_with_nobody_in_the_closed_room(served: ServedInstance) -> None:
    asyncio.run(race(served))


async def race(served: ServedInstance) -> None:
    owner = await Client.connect(served.url, served.token("owner", lang="en"))
    assert (await owner.request("join-room", {"roomCode": "race"}))["event"] == "joined-room"
    joiners = [
        await Client.connect(served.url, served.token(f"guest{i}", lang="es"))
        for i in range(JOINERS)
    ]
    closed, *joins = await asyncio.gather(
        close_after(owner, STAGGER_S),
        *(join_after(guest, i * STAGGER_S) for i, guest in enumerate(joiners)),
    )
    assert closed["event"] == "ack", closed
    for guest, answer in zip(joiners, joins, strict=True):
        if answer["event"] == "joined-room":
            await guest.expect("room-closed", roomId="race", by="owner")
            refused = await guest.request(
                "speech-transcript", {"transcript": "still here?", "sourceLang": "es"}
            )
            assert refused["event"] == "error", refused
        else:
            assert answer["event"] == "error" and answer["data"]["code"] == "room_closed", answer
    await owner.expect("room-closed", roomId="race", by="owner")

    late = await joiners[0].request("join-room", {"roomCode": "race"})
    assert late["data"]["code"] == "room_closed", late
    room = await room_listing(served, "race")
    assert room["closedBy"] == "owner"
    assert room["participants"] == []
    for client in (owner, *joiners):
        await client.close()


async def close_after(owner: Client, delay_s: float) -> dict[str, Any]:
    """``close-room`` sent after ``delay_s``: the answer."""
    await asyncio.sleep(delay_s)
    return await owner.request("close-room")


async def join_after(guest: Client, delay_s: float) -> dict[str, Any]:
    """``join-room`` sent after ``delay_s``: the answer."""
    await asyncio.sleep(delay_s)
    return await guest.request("join-room", {"roomCode": "race"})


async def room_listing(served: ServedInstance, code: str) -> dict[str, Any]:
    """``GET /api/rooms/{code}`` as its owner."""
    headers = {"Authorization": f"Bearer {served.token('owner')}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{served.http_port}/api/rooms/{code}", headers=headers) as got,
    ):
        assert got.status == 200, await got.text()
        body: dict[str, Any] = await got.json()
        return body
