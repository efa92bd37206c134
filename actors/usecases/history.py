"""A room's history for its members: the queries behind the timeline page.

Anyone who ever joined a room may read its log (someone who left still
wants to see what was said), nobody else. The events are the replay
debugger's explained entries (:mod:`events.timeline`), the state is what
``replay --state-at`` prints (:mod:`actors.projections.room_state`). Every
function here reads the store: call them off the loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice

from actors.messages import Refused
from actors.projections.room_state import room_state_lines
from events.domain import Room, room_id_for
from events.store import EventStore
from events.timeline import Timeline, TimelineEntry, TimelineFilter


@dataclass(frozen=True)
class RoomEvents:
    """A page of a room's explained events after a position, in log order."""

    entries: tuple[TimelineEntry, ...]
    last: int
    """Where the next page starts (``after=last``): the last entry's position
    if the page is full, else the end of the log as it was read, so a quiet
    room is not scanned again from the same place."""


@dataclass(frozen=True)
class RoomState:
    """The room (members, modes, assistant prompts) as it was at ``position``."""

    position: int
    lines: tuple[str, ...]


def refusal(store: EventStore, code: str, user_id: str) -> Refused | None:
    """Why ``user_id`` may not read the room's history (None: they joined it once)."""
    opened = False
    for event in store.stream(room_id_for(code)):
        opened = True
        if isinstance(event, Room.ParticipantJoined) and event.user_id == user_id:
            return None
    if not opened:
        return Refused("unknown_room", f"there is no room {code}")
    return Refused("not_a_member", f"{user_id} never joined room {code}")


def room_events(
    store: EventStore, code: str, user_id: str, after: int, limit: int
) -> RoomEvents | Refused:
    """At most ``limit`` of the room's events after position ``after``."""
    refused = refusal(store, code, user_id)
    if refused is not None:
        return refused
    end = store.position()
    selection = TimelineFilter(room=code, since=after, until=end)
    entries = tuple(islice(Timeline(store).entries(selection), limit))
    last = entries[-1].position if len(entries) == limit else end
    return RoomEvents(entries, last)


def room_state(store: EventStore, code: str, user_id: str, at: int | None) -> RoomState | Refused:
    """The room right after position ``at`` (None or past the end: now)."""
    refused = refusal(store, code, user_id)
    if refused is not None:
        return refused
    end = store.position()
    position = end if at is None else min(at, end)
    lines = room_state_lines(store, code, position)
    if lines is None:
        lines = [f"room {code} did not exist yet at position {position}"]
    return RoomState(position, tuple(lines))
