"""Durable append throughput of the event store.

(a) ours: ``events.writer.GroupCommitWriter`` over ``events.store.EventStore``
    (SQLite file, orjson transcoder), with many concurrent producers that behave
    like room actors: each owns one room stream and has at most one 1-event
    batch in flight (it waits for the commit before appending its next event).
    Two producer shapes are measured:
      * ``async`` (the goal's figure): few threads driving many rooms through
        ``writer.submit`` and callbacks, as ``serve``'s room actors do (they run
        on a shared pool of 4 threads, see actors/dispatch.py);
      * ``threads``: one thread per room calling ``writer.append`` (blocking), as
        pykka's own threading actors would.
(c) physical limit: the very rows (a) committed, inserted again with plain
    ``sqlite3`` in the same transactions (same sizes), same table schema, WAL
    and synchronous=FULL: what SQLite itself costs.
(b) baseline: the eventsourcing library's default path, one
    ``Application.save()`` per event with its default JSON transcoder on its
    SQLite recorder (``PERSISTENCE_MODULE=eventsourcing.sqlite``), from one
    thread (and, for a like-for-like shape, from the same number of threads).
Extra: our ``EventStore.append`` one event per transaction from one thread
(orjson transcoder without group commit), to separate the two effects.

Goals (ratios, same run): durable append >= 10x the library's save-per-event
and >= 50 % of the raw batched inserts. The bench exits 1 with a ``FAIL`` line
when a store does not hold exactly what its producers were acked.

Every measurement gets a fresh file in the same temporary directory, with the
default (durable) SQLite settings the code uses: WAL journal, synchronous=FULL,
nothing turned off.

    .venv/bin/python bench/store.py                   # full: 200 rooms, 10 s each
    .venv/bin/python bench/store.py --rooms 20 --seconds 2
    .venv/bin/python bench/store.py --smoke                   # 1 s each
"""

from __future__ import annotations

import argparse
import contextlib
import math
import queue
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import common
from common import Row, heading, machine_note, rate, summary_ms
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import StoredEvent

from events.domain import Room, room_id_for
from events.sqlite import originator_hex
from events.store import EventStore
from events.writer import GroupCommitWriter

RAW_TABLE = "stored_events"
"""The events table of the SQLite recorder (eventsourcing's default name)."""
LIBRARY_RATIO_GOAL = 10.0
RAW_SHARE_GOAL = 0.5
SMOKE = {"rooms": 10, "seconds": 1.0, "skip_library_threads": True}
"""What ``--smoke`` sets: each measurement runs a second."""

SENTENCES = (
    "Good morning everyone, can you hear me clearly?",
    "Let's start with the quarterly numbers for the northern region.",
    "The new build fixed the crash we saw on older phones last week.",
    "Could you share the slides again, the second page did not load.",
    "I think we should move the launch to the first week of March.",
    "Thanks, that answers my question about the translation latency.",
)


@dataclass
class Measured:
    events: int
    seconds: float
    commits: int = 0
    latencies: Sequence[float] = ()
    busy_s: float = 0.0  # time the writer spent inside EventStore.append_stored (insert+fsync)
    batches: list[list[StoredEvent]] = field(default_factory=list)  # what each commit held
    problem: str | None = None  # the store does not hold what the producers were acked

    @property
    def per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


class RoomStream:
    """A producer's view of one room: its stream id and next version."""

    def __init__(self, index: int) -> None:
        self.code = f"bench-room-{index}"
        self.room_id = room_id_for(self.code)
        self.speaker = f"user-{index}-a"
        self.version = 1  # RoomOpened is version 1
        self.count = 0

    def next_transcript(self) -> Room.TranscriptRecognized:
        self.version += 1
        self.count += 1
        return Room.TranscriptRecognized(
            originator_id=self.room_id,
            originator_version=self.version,
            timestamp=Room.Event.create_timestamp(),
            transcript_id=uuid4(),
            speaker_id=self.speaker,
            speaker_name="Alice Example",
            text=SENTENCES[self.count % len(SENTENCES)],
            source_language="en",
            solo_target=None,
            targets=("es", "fr"),
            engine="faster-whisper:tiny.en",
            duration_ms=1840 + self.count % 700,
        )


def sqlite_settings(path: Path) -> str:
    with contextlib.closing(sqlite3.connect(path)) as db:
        journal = db.execute("PRAGMA journal_mode").fetchone()[0]
        sync = db.execute("PRAGMA synchronous").fetchone()[0]
    names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
    return f"journal_mode={journal}, synchronous={names.get(sync, sync)} (default connection)"


@dataclass
class Commits:
    """The writer's transactions while counted: how many, time inside, and their rows."""

    count: int = 0
    seconds: float = 0.0
    batches: list[list[StoredEvent]] = field(default_factory=list)


@contextlib.contextmanager
def counting_commits(store: EventStore) -> Iterator[Commits]:
    """Count the writer's transactions, the time spent in them, and keep their rows.

    Wraps this store instance's ``append_stored``, the call ``GroupCommitWriter``
    makes once per transaction; nothing in the core changes. The rows are kept so
    the raw-SQLite baseline can insert the very same rows in the same batches.
    """
    commits = Commits()
    original = store.append_stored

    def append_stored(stored: Sequence[StoredEvent], tracking: Any = None) -> Sequence[int]:
        began = time.perf_counter()
        try:
            return original(stored, tracking)
        finally:
            commits.count += 1
            commits.seconds += time.perf_counter() - began
            commits.batches.append(list(stored))

    store.append_stored = append_stored  # type: ignore[method-assign]
    try:
        yield commits
    finally:
        store.append_stored = original  # type: ignore[method-assign]


def open_rooms(store: EventStore, count: int) -> list[RoomStream]:
    """Record each room's RoomOpened (untimed set-up)."""
    rooms = [RoomStream(i) for i in range(count)]
    opened: list[Any] = []
    for stream in rooms:
        room = Room(code=stream.code)
        opened.extend(room.collect_events())
    store.append(opened)
    return rooms


def run_group_commit_threads(path: Path, rooms: int, seconds: float) -> Measured:
    """One thread per room, blocking ``writer.append`` of one event at a time."""
    store = EventStore.open(str(path))
    streams = open_rooms(store, rooms)
    writer = GroupCommitWriter(store)
    start_barrier = threading.Barrier(rooms + 1)
    stop = threading.Event()
    latencies: list[list[float]] = [[] for _ in range(rooms)]
    counts = [0] * rooms

    def producer(index: int) -> None:
        stream = streams[index]
        mine = latencies[index]
        start_barrier.wait()
        while not stop.is_set():
            event = stream.next_transcript()
            began = time.perf_counter()
            writer.append([event])
            mine.append(time.perf_counter() - began)
            counts[index] += 1

    threads = [threading.Thread(target=producer, args=(i,), daemon=True) for i in range(rooms)]
    for thread in threads:
        thread.start()
    with counting_commits(store) as commits:
        start_barrier.wait()
        began = time.perf_counter()
        time.sleep(seconds)
        stop.set()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
    writer.stop()
    problem = verify(store, rooms + sum(counts))
    store.close()
    return Measured(
        sum(counts),
        elapsed,
        commits.count,
        [x for lat in latencies for x in lat],
        commits.seconds,
        commits.batches,
        problem,
    )


def run_group_commit_async(path: Path, rooms: int, seconds: float, threads: int) -> Measured:
    """``threads`` producer threads drive ``rooms`` rooms through ``writer.submit``.

    A room's next event is created and submitted by its producer thread when
    the callback (on the writer thread) says its previous one is durable.
    """
    store = EventStore.open(str(path))
    streams = open_rooms(store, rooms)
    writer = GroupCommitWriter(store)
    inboxes: list[queue.SimpleQueue[tuple[int, float] | None]] = [
        queue.SimpleQueue() for _ in range(threads)
    ]
    latencies: list[float] = []
    done = [0]  # acked: the callback said durable
    in_flight = [0]
    failed: list[BaseException] = []
    stop = threading.Event()
    lock = threading.Condition()

    def submit(index: int) -> None:
        stream = streams[index]
        began = time.perf_counter()

        def on_done(result: Sequence[int] | BaseException) -> None:
            finished = time.perf_counter()
            with lock:
                if isinstance(result, BaseException):
                    failed.append(result)
                else:
                    latencies.append(finished - began)
                    done[0] += 1
                in_flight[0] -= 1
                lock.notify_all()
            inboxes[index % threads].put((index, finished))

        with lock:  # no submit once stop is set, so none can race writer.stop()
            if stop.is_set():
                return
            in_flight[0] += 1
        writer.submit([stream.next_transcript()], on_done)

    def producer(slot: int) -> None:
        for index in range(slot, rooms, threads):
            submit(index)
        inbox = inboxes[slot]
        while (item := inbox.get()) is not None:
            if not stop.is_set():
                submit(item[0])

    workers = [threading.Thread(target=producer, args=(s,), daemon=True) for s in range(threads)]
    with counting_commits(store) as commits:
        began = time.perf_counter()
        for worker in workers:
            worker.start()
        time.sleep(seconds)
        with lock:
            stop.set()
            counted = done[0]
            elapsed = time.perf_counter() - began
            while in_flight[0]:  # the last submits become durable (or fail)
                lock.wait()
        writer.stop()
        for inbox in inboxes:
            inbox.put(None)
        for worker in workers:
            worker.join()
    problem = verify(store, rooms + done[0])
    if failed:
        problem = f"{len(failed)} appends failed, first: {failed[0]!r}"
    store.close()
    return Measured(
        counted, elapsed, commits.count, latencies, commits.seconds, commits.batches, problem
    )


def run_store_single(path: Path, seconds: float) -> Measured:
    """Our store without group commit: one event per transaction, one thread."""
    store = EventStore.open(str(path))
    (stream,) = open_rooms(store, 1)
    count = 0
    began = time.perf_counter()
    deadline = began + seconds
    while time.perf_counter() < deadline:
        store.append([stream.next_transcript()])
        count += 1
    elapsed = time.perf_counter() - began
    problem = verify(store, 1 + count)
    store.close()
    return Measured(count, elapsed, count, problem=problem)


# --- baseline: the eventsourcing library's default ---------------------------------------


class LibraryRoom(Aggregate):
    """An aggregate with the same transcript event, for the library's own path."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.transcripts = 0

    @event("TranscriptRecognized")
    def recognize(
        self,
        transcript_id: UUID,
        speaker_id: str,
        speaker_name: str,
        text: str,
        source_language: str,
        solo_target: str | None,
        targets: tuple[str, ...],
        engine: str,
        duration_ms: int,
    ) -> None:
        self.transcripts += 1


class LibraryApp(Application[UUID]):
    """The library's Application with its defaults (JSONTranscoder, no snapshots)."""


def library_app(path: Path) -> LibraryApp:
    return LibraryApp(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
        }
    )


def library_transcript(room: LibraryRoom, count: int) -> None:
    room.recognize(
        transcript_id=uuid4(),
        speaker_id="user-a",
        speaker_name="Alice Example",
        text=SENTENCES[count % len(SENTENCES)],
        source_language="en",
        solo_target=None,
        targets=("es", "fr"),
        engine="faster-whisper:tiny.en",
        duration_ms=1840 + count % 700,
    )


def run_library_sequential(path: Path, seconds: float) -> Measured:
    app = library_app(path)
    room = LibraryRoom("bench-room")
    app.save(room)
    count = 0
    began = time.perf_counter()
    deadline = began + seconds
    while time.perf_counter() < deadline:
        library_transcript(room, count)
        app.save(room)
        count += 1
    elapsed = time.perf_counter() - began
    stored = app.recorder.max_notification_id() or 0
    problem = None
    if stored != count + 1:
        problem = f"library store holds {stored} events, expected {count + 1}"
    app.close()
    return Measured(count, elapsed, count, problem=problem)


def run_library_threads(path: Path, rooms: int, seconds: float) -> Measured:
    """One thread per aggregate, each ``save()`` per event, like (a)'s threads."""
    app = library_app(path)
    aggregates = [LibraryRoom(f"bench-room-{i}") for i in range(rooms)]
    app.save(*aggregates)
    barrier = threading.Barrier(rooms + 1)
    stop = threading.Event()
    counts = [0] * rooms
    errors: list[BaseException] = []

    def producer(index: int) -> None:
        room = aggregates[index]
        barrier.wait()
        while not stop.is_set():
            library_transcript(room, counts[index])
            try:
                app.save(room)
            except Exception as error:
                errors.append(error)
                return
            counts[index] += 1

    threads = [threading.Thread(target=producer, args=(i,), daemon=True) for i in range(rooms)]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    problem = None
    if errors:
        problem = f"{len(errors)} library save(s) failed, first: {errors[0]!r}"
    app.close()
    return Measured(sum(counts), elapsed, sum(counts), problem=problem)


def verify(store: EventStore, expected: int) -> str | None:
    """A problem if the store does not hold exactly the events the producers were acked."""
    stored = store.position()
    if stored != expected:
        return f"store holds {stored} events, producers were acked {expected}"
    return None


def run_raw_sqlite(path: Path, batches: Sequence[Sequence[StoredEvent]]) -> Measured:
    """The physical limit: the same rows, in the same transactions, with plain sqlite3.

    The table is made by ``EventStore.open`` (same schema and primary key, WAL
    journal); the connection sets ``synchronous=FULL`` like ours. Each batch is
    one ``BEGIN``/``executemany``/``COMMIT``, no Python objects beyond the rows.
    """
    EventStore.open(str(path)).close()
    rows = [
        [(originator_hex(e.originator_id), e.originator_version, e.topic, e.state) for e in batch]
        for batch in batches
    ]
    total = sum(len(batch) for batch in rows)
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        began = time.perf_counter()
        for batch in rows:
            db.execute("BEGIN")
            db.executemany(f"INSERT INTO {RAW_TABLE} VALUES (?,?,?,?)", batch)
            db.execute("COMMIT")
        elapsed = time.perf_counter() - began
        stored = db.execute(f"SELECT count(*) FROM {RAW_TABLE}").fetchone()[0]
    problem = None if stored == total else f"raw table holds {stored} rows, inserted {total}"
    return Measured(total, elapsed, len(rows), problem=problem)


def describe(label: str, measured: Measured, *, latency: bool = False) -> None:
    line = (
        f"  {label:<58} {measured.per_s:>10,.0f} events/s  "
        f"({measured.events:,} in {measured.seconds:.2f} s"
    )
    if measured.commits and measured.commits != measured.events:
        per_commit = measured.events / measured.commits
        line += f", {measured.commits:,} commits, {per_commit:.1f} events/commit"
    if measured.busy_s:
        line += f", writer busy in append {measured.busy_s / measured.seconds:.0%} of the time"
    line += ")"
    print(line, flush=True)
    if latency and measured.latencies:
        stats = summary_ms(measured.latencies)
        print(
            f"  {'':<58} append->durable: p50 {stats['p50']:.2f} ms, p99 {stats['p99']:.2f} ms, "
            f"max {stats['max']:.2f} ms",
            flush=True,
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rooms", type=int, default=200, help="concurrent producers (rooms)")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each measurement")
    parser.add_argument(
        "--async-threads",
        type=int,
        default=4,
        help="producer threads of the submit/callback variant",
    )
    parser.add_argument(
        "--dir", default=None, help="directory for the database files (default: a fresh temp dir)"
    )
    parser.add_argument(
        "--skip-library-threads",
        action="store_true",
        help="skip the multi-threaded library variant",
    )
    common.add_smoke_flag(parser, f"{SMOKE['rooms']} rooms, {SMOKE['seconds']:g} s each")
    parser.add_argument("--results", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        for name, value in SMOKE.items():
            setattr(args, name, value)

    heading(
        "bench/store.py: durable append throughput of the event store" + " (smoke)" * args.smoke
    )
    print(machine_note("producer threads and the SQLite writer share them"))
    load = common.OtherLoad()
    verdicts = common.Verdicts("store")
    workdir = Path(tempfile.mkdtemp(prefix="voicemode-bench-store-", dir=args.dir))
    print(f"Files: fresh SQLite databases in {workdir} (same disk for every measurement)")
    print(
        f"Event: Room.TranscriptRecognized (9 fields, ~{len(SENTENCES[0])}-char text); "
        f"{args.rooms} rooms, {args.seconds:g} s per measurement."
    )
    measured: list[tuple[str, Measured]] = []

    def note(label: str, result: Measured, *, latency: bool = False) -> Measured:
        describe(label, result, latency=latency)
        measured.append((label, result))
        if result.problem:
            verdicts.fail(f"{label}: {result.problem}")
        return result

    try:
        probe = workdir / "probe.db"
        EventStore.open(str(probe)).close()
        print(f"SQLite: {sqlite_settings(probe)}; the library's WAL switch applies to both stores.")

        heading("(a) ours: GroupCommitWriter over EventStore", "-")
        ours = note(
            f"{args.rooms} rooms on {args.async_threads} threads, writer.submit + callback",
            run_group_commit_async(
                workdir / "ours-async.db", args.rooms, args.seconds, args.async_threads
            ),
            latency=True,
        )
        if ours.commits == 0:
            verdicts.fail("the commit counter saw no transaction (it wraps the wrong call)")
        ours_threads = note(
            f"{args.rooms} room threads, blocking writer.append, 1 event each",
            run_group_commit_threads(workdir / "ours-threads.db", args.rooms, args.seconds),
            latency=True,
        )
        single = note(
            "EventStore.append, 1 event/transaction, 1 thread (no group commit)",
            run_store_single(workdir / "ours-single.db", args.seconds),
        )

        heading("(b) baseline: eventsourcing Application.save() per event (JSONTranscoder)", "-")
        library = note(
            "Application.save() per event, 1 thread",
            run_library_sequential(workdir / "library.db", args.seconds),
        )
        library_threads = None
        if not args.skip_library_threads:
            library_threads = note(
                f"Application.save() per event, {args.rooms} threads",
                run_library_threads(workdir / "library-threads.db", args.rooms, args.seconds),
            )

        heading("(c) physical limit: raw batched SQLite inserts of the same rows", "-")
        sizes = [len(batch) for batch in ours.batches]
        raw = note(
            f"sqlite3 executemany, the {len(sizes):,} transactions (a) made, same rows",
            run_raw_sqlite(workdir / "raw.db", ours.batches),
        )
        print(
            f"  {'':<58} same table schema, WAL, synchronous=FULL; transaction sizes as the "
            f"group commit made them: mean {sum(sizes) / max(1, len(sizes)):.1f}, "
            f"max {max(sizes, default=0)} events"
        )
        for _, result in measured:
            verdicts.finite("throughput", result.per_s if result.events else math.nan)

        heading("Summary", "-")
        speedup = ours.per_s / library.per_s if library.per_s else math.nan
        share = ours.per_s / raw.per_s if raw.per_s else math.nan
        print(
            f"  group commit, {args.rooms} rooms on {args.async_threads} threads (the room "
            f"actors' shape): {ours.per_s:,.0f} events/s = "
            f"{common.num(speedup, '.1f', 'x')} the library baseline {library.per_s:,.0f} "
            f"events/s (1 save per event) and {common.num(share, '.0%')} of raw batched inserts "
            f"of the same rows {raw.per_s:,.0f} events/s"
        )
        rows = [
            Row(
                "store",
                f"durable appends, GroupCommitWriter, {args.rooms} rooms on {args.async_threads} "
                "threads, writer.submit + callback (1-event batches)",
                f">= {LIBRARY_RATIO_GOAL:.0f}x library, >= {RAW_SHARE_GOAL:.0%} of raw inserts",
                f"{rate(ours.per_s)} = {common.num(speedup, '.1f', 'x')} library, "
                f"{common.num(share, '.0%')} of raw",
                f"{rate(library.per_s)} (library Application.save per event, 1 thread); "
                f"{rate(raw.per_s)} (raw sqlite3 inserts of the same rows, same transactions)",
            ),
            Row(
                "store",
                f"durable appends, {args.rooms} threads each blocking in writer.append",
                "-",
                rate(ours_threads.per_s),
                f"{rate(single.per_s)} (our EventStore.append, 1 event/transaction)",
            ),
        ]
        if library_threads is not None:
            rows.append(
                Row(
                    "store",
                    f"library Application.save per event, {args.rooms} threads",
                    "-",
                    rate(library_threads.per_s),
                    f"{rate(library.per_s)} (same, 1 thread)",
                )
            )
        print(common.markdown_table(rows))
        if math.isfinite(speedup):
            verdicts.goal(
                "durable append vs the library's save-per-event",
                speedup >= LIBRARY_RATIO_GOAL,
                f"{speedup:.1f}x (goal >= {LIBRARY_RATIO_GOAL:.0f}x)",
            )
        if math.isfinite(share):
            verdicts.goal(
                "durable append vs raw batched SQLite inserts of the same rows",
                share >= RAW_SHARE_GOAL,
                f"{share:.0%} (goal >= {RAW_SHARE_GOAL:.0%})",
            )
        machine_load = load.report()
        print(machine_load)
        common.write_results(
            args.results,
            rows,
            {
                "machine_load": machine_load,
                "failures": verdicts.failures,
                "goals": verdicts.goals,
                "ours_threads": ours_threads.per_s,
                "ours_async": ours.per_s,
                "ours_single": single.per_s,
                "library": library.per_s,
                "library_threads": library_threads.per_s if library_threads else None,
                "raw": raw.per_s,
            },
        )
    finally:
        if args.dir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return verdicts.finish()


if __name__ == "__main__":
    raise SystemExit(main())
