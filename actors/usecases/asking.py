"""Asking a room from the asyncio loop without ever blocking it on the actor."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Callable

from actors.messages import Outcome, Refused, Reply, RoomCommand
from actors.service import VoiceService

TIMED_OUT = Refused("timeout", "the room did not answer in time")


async def ask_room(
    service: VoiceService,
    room_code: str,
    make: Callable[[Reply], RoomCommand],
    timeout_s: float,
    *,
    off_loop: bool = False,
) -> Outcome:
    """Send ``make(reply)`` to the room and await its outcome (``timeout`` if none came).

    The reply hops onto the loop with ``call_soon_threadsafe``. ``off_loop``
    tells the room from a worker thread, for callers that must not pay for
    starting a room's actor (which loads its stream) on the loop.
    """
    if off_loop:
        loop = asyncio.get_running_loop()
        return await await_outcome(
            lambda reply: loop.run_in_executor(None, service.tell_room, room_code, make(reply)),
            timeout_s,
        )
    return await await_outcome(lambda reply: service.tell_room(room_code, make(reply)), timeout_s)


async def await_outcome(send: Callable[[Reply], object], timeout_s: float) -> Outcome:
    """Call ``send`` with a reply channel and await the outcome (``timeout`` if none came).

    The reply may come from any thread: it hops onto the loop with
    ``call_soon_threadsafe``. What ``send`` returns is awaited if awaitable.
    """
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[Outcome] = loop.create_future()

    def reply(outcome: Outcome) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            loop.call_soon_threadsafe(_resolve, answer, outcome)

    sent = send(reply)
    if inspect.isawaitable(sent):
        await sent
    try:
        return await asyncio.wait_for(answer, timeout_s)
    except TimeoutError:
        return TIMED_OUT


def _resolve(future: asyncio.Future[Outcome], outcome: Outcome) -> None:
    if not future.done():
        future.set_result(outcome)
