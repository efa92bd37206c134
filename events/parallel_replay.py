"""Replay a long stretch of the log on every core, printed in log order.

Decoding and explaining events is CPU work that one Python thread does at
about 120,000 events per second here. The range is cut into chunks of
positions; worker processes (one per core, each with its own connection)
render whole chunks to bytes, and the parent writes them out in order.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from dataclasses import replace

from events.store import EventStore
from events.timeline import Timeline, TimelineFilter, render_entry

CHUNK_POSITIONS = 50_000
_worker: dict[str, Timeline] = {}


def render_chunk(db: str, selection: TimelineFilter, as_json: bool) -> bytes:
    """Render the selected events of one chunk (runs in a worker process)."""
    timeline = _worker.get(db)
    if timeline is None:
        timeline = _worker[db] = Timeline(EventStore.open(db))
    return b"".join(render_entry(entry, as_json=as_json) for entry in timeline.entries(selection))


def _render_args(args: tuple[str, TimelineFilter, bool]) -> bytes:
    return render_chunk(*args)


def render(
    db: str, selection: TimelineFilter, as_json: bool, jobs: int | None = None
) -> Iterator[bytes]:
    """Rendered output of ``(since, until]`` in order; ``until`` must be set."""
    assert selection.until is not None
    starts = range(selection.since, selection.until, CHUNK_POSITIONS)
    chunks = [
        (
            db,
            replace(selection, since=start, until=min(start + CHUNK_POSITIONS, selection.until)),
            as_json,
        )
        for start in starts
    ]
    workers = min(jobs or os.cpu_count() or 1, len(chunks))
    if workers <= 1:
        yield from map(_render_args, chunks)
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        yield from pool.imap(_render_args, chunks)
