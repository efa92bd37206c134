"""A room as it was at a position, in words: what ``replay --state-at`` prints.

The command line and the timeline page's scrubber (``GET
/api/rooms/{code}/state``) show the same lines, so both take them from here.
"""

from __future__ import annotations

from actors.assistant.context import contexts_at, describe_contexts
from events.store import EventStore
from events.timeline import describe_room, state_at


def room_state_lines(store: EventStore, code: str, position: int) -> list[str] | None:
    """The room's members and modes, then each assistant prompt (None: no room yet).

    Blocking: it replays the log up to ``position``.
    """
    room = state_at(store, code, position)
    if room is None:
        return None
    return describe_room(room, position) + describe_contexts(contexts_at(store, code, position))
