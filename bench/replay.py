"""Replay speed: ``voicemode replay`` over a store of a million events.

The store is filled with realistic room traffic (200 rooms by default: rooms
opening, four participants joining, leaving and coming back, language
changes, speech start/stop, transcripts, and one TranslationProduced per
target language built exactly as the fan-out builds them), interleaved across
rooms in log order and appended with ``EventStore.append`` in large batches.
The database is cached in the temp directory under a key made of the bench's
format version, the event count, the room count and a hash of the code that
decides the stored form (events/domain.py, events/transcoder.py), so re-runs
skip generation; generation time is reported separately either way.

Timed (wall clock, subprocess, stdout to /dev/null):

* ``voicemode replay --db FILE``          the text timeline of every event
* ``voicemode replay --db FILE --json``   the same as JSON lines
* ``voicemode replay ROOM --db FILE``     one room (scans the whole log)
* ``voicemode replay --db FILE --until 0`` start-up alone (imports, opening the store)

* ``voicemode replay --db FILE --jobs 1``  the text timeline on one core

``voicemode replay`` renders on one process per core (``--jobs``, default
``os.cpu_count()``; see events/parallel_replay.py); the baselines read on one
thread. So the text figure is given twice: as replay runs by default and
forced to one process (``--jobs 1``), which is the like-for-like comparison.

Limit, same run, one thread, in-process: reading and decoding the same rows
with no rendering (``EventStore.scan`` + ``decode_plain`` of each row's state,
as replay's ``Timeline.entry`` starts). Goal: replay >= 50 % of it. Reference:
the library's standard path, ``EventStore.read`` (``Mapper.to_domain_event``:
full domain objects), in-process and without printing.

The bench exits 1 with a ``FAIL`` line when the store does not hold the events
it should or replay did not print one line per event.

    .venv/bin/python bench/replay.py                      # 1,000,000 events, 200 rooms
    .venv/bin/python bench/replay.py --events 100000 --rooms 20
    .venv/bin/python bench/replay.py --smoke              # 20,000 events
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import common
from common import Row, heading, machine_note, rate

from actors.projections.fanout import translation_events
from adapters.engines.translation.base import Translation
from events.domain import Room
from events.store import EventStore
from events.timeline import Timeline, TimelineFilter
from events.transcoder import decode_plain

FORMAT_VERSION = "replay-v1"
LIMIT_SHARE_GOAL = 0.5
SMOKE = {"events": 20_000, "rooms": 5}
"""What ``--smoke`` sets: a small store (generated once, then cached)."""
BATCH_EVENTS = 20_000
AWAY_GRACE = timedelta(minutes=15)

SENTENCES = {
    "en": (
        "Good morning everyone, can you hear me clearly?",
        "Let's start with the quarterly numbers for the northern region.",
        "The new build fixed the crash we saw on older phones.",
        "Could you share the slides again, please?",
        "I think we should move the launch to the first week of March.",
        "Thanks, that answers my question.",
    ),
    "es": (
        "Buenos días a todos, ¿me oís bien?",
        "Empecemos con las cifras trimestrales de la región norte.",
        "La nueva versión arregló el fallo que vimos en los teléfonos antiguos.",
        "¿Podrías compartir las diapositivas otra vez, por favor?",
        "Creo que deberíamos mover el lanzamiento a la primera semana de marzo.",
        "Gracias, eso responde a mi pregunta.",
    ),
    "fr": (
        "Bonjour à tous, vous m'entendez bien ?",
        "Commençons par les chiffres trimestriels de la région nord.",
        "La nouvelle version a corrigé le plantage vu sur les anciens téléphones.",
        "Pourriez-vous partager à nouveau les diapositives, s'il vous plaît ?",
        "Je pense que nous devrions déplacer le lancement à la première semaine de mars.",
        "Merci, cela répond à ma question.",
    ),
}
MEMBERS = (
    ("alice", "Alice Martin", "en"),
    ("bruno", "Bruno Díaz", "es"),
    ("chloe", "Chloé Bernard", "fr"),
    ("dave", "Dave Okafor", "en"),
)


@dataclass
class RoomTraffic:
    """One room's simulated life; yields its next few events per tick."""

    index: int
    rng: random.Random
    room: Room | None = None
    speaker: str | None = None
    said: int = 0
    translations: dict[str, int] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return f"room-{self.index}"

    def tick(self) -> list[object]:
        rng = self.rng
        if self.room is None:
            self.room = Room(code=self.code)
            for user, name, lang in MEMBERS:
                self.room.join(f"{user}-{self.index}", name, lang)
            return list(self.room.collect_events())
        room = self.room
        events: list[object] = []
        roll = rng.random()
        users = list(room.members)
        if roll < 0.01:  # someone drops and comes back
            user = rng.choice(users)
            if user != self.speaker:
                member = room.members[user]
                room.leave(user, "disconnected")
                room.join(user, member.name, member.language)
        elif roll < 0.013:  # someone switches language
            user = rng.choice(users)
            if user != self.speaker:
                current = room.members[user].language
                room.change_language(user, rng.choice([x for x in SENTENCES if x != current]))
        elif roll < 0.015:
            room.report_client_error(
                rng.choice(users),
                "mic_denied",
                "microphone permission denied",
                '{"browser":"Firefox 131"}',
            )
        if self.speaker is None or self.said >= rng.randint(3, 10):
            if self.speaker is not None:
                room.end_speech(self.speaker)
            self.speaker = rng.choice(list(room.members))
            language = room.members[self.speaker].language
            room.start_speech(self.speaker, language, None, "LINEAR16", 16000)
            self.said = 0
        language = room.members[self.speaker].language
        sentence = rng.randrange(len(SENTENCES[language]))
        room.recognize(
            rng_uuid(rng),
            self.speaker,
            SENTENCES[language][sentence],
            language,
            "faster-whisper:tiny.en",
            rng.randint(600, 4000),
            AWAY_GRACE,
        )
        self.said += 1
        events.extend(room.collect_events())
        transcript = events[-1]
        assert isinstance(transcript, Room.TranscriptRecognized)
        translations = [
            Translation(
                SENTENCES[target][sentence] if target in SENTENCES else transcript.text,
                "apertium",
                rng.randint(1, 40),
            )
            for target in transcript.targets
        ]
        events.extend(translation_events(transcript, translations))
        return events


def rng_uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def traffic(total: int, rooms: int, seed: int = 7) -> Iterator[list[object]]:
    """Batches of events in log order, interleaving the rooms, ``total`` in all."""
    rng = random.Random(seed)
    simulated = [RoomTraffic(i, random.Random(rng.getrandbits(64))) for i in range(rooms)]
    produced = 0
    batch: list[object] = []
    order = list(range(rooms))
    while produced < total:
        rng.shuffle(order)
        for index in order:
            events = simulated[index].tick()
            take = events[: total - produced]
            batch.extend(take)
            produced += len(take)
            if len(batch) >= BATCH_EVENTS or produced >= total:
                yield batch
                batch = []
            if produced >= total:
                return


def cache_key(events: int, rooms: int) -> str:
    digest = hashlib.sha256()
    for name in ("events/domain.py", "events/transcoder.py"):
        digest.update((common.ROOT / name).read_bytes())
    return f"{FORMAT_VERSION}-{events}-{rooms}-{digest.hexdigest()[:12]}"


def generate(path: Path, events: int, rooms: int) -> tuple[float, Counter[str]]:
    """Write the store; return seconds taken and the count of events per type."""
    partial = path.with_suffix(".partial")
    for leftover in path.parent.glob(partial.name + "*"):
        leftover.unlink()
    store = EventStore.open(str(partial))
    kinds: Counter[str] = Counter()
    began = time.perf_counter()
    written = 0
    for batch in traffic(events, rooms):
        store.append(batch)  # type: ignore[arg-type]
        written += len(batch)
        kinds.update(type(event).__name__ for event in batch)
        if written % 200_000 < BATCH_EVENTS:
            print(f"    {written:,} events ...", flush=True)
    elapsed = time.perf_counter() - began
    store.close()
    for suffix in ("-wal", "-shm"):
        Path(str(partial) + suffix).unlink(missing_ok=True)
    partial.rename(path)
    meta = {"generation_s": elapsed, "kinds": dict(kinds), "events": events, "rooms": rooms}
    path.with_suffix(".json").write_text(json.dumps(meta))
    return elapsed, kinds


def timed_subprocess(args: list[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        subprocess.run(
            args,
            stdout=subprocess.DEVNULL,
            check=True,
            env=common.subprocess_env(),
            cwd=common.ROOT,
        )
        best = min(best, time.perf_counter() - began)
    return best


def count_lines(args: list[str]) -> int:
    result = subprocess.run(
        args, stdout=subprocess.PIPE, check=True, env=common.subprocess_env(), cwd=common.ROOT
    )
    return result.stdout.count(b"\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument(
        "--room",
        default=None,
        help="room code for the filtered replay (default: room-7, or the last)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per timing (best is kept)")
    parser.add_argument(
        "--cache-dir", default=os.path.join(tempfile.gettempdir(), "voicemode-bench-replay")
    )
    parser.add_argument("--regenerate", action="store_true", help="ignore the cached store")
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="skip the untimed runs that count the lines printed",
    )
    common.add_smoke_flag(parser, f"{SMOKE['events']:,} events")
    parser.add_argument("--results", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        for name, value in SMOKE.items():
            setattr(args, name, value)
    verdicts = common.Verdicts("replay")

    heading("bench/replay.py: voicemode replay over a large store" + " (smoke)" * args.smoke)
    print(machine_note("the replay process and the bench share them"))
    load = common.OtherLoad()
    cache = Path(args.cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    db = cache / f"{cache_key(args.events, args.rooms)}.db"

    heading("store", "-")
    meta = db.with_suffix(".json")
    cached = db.exists() and meta.exists() and not args.regenerate
    if cached:
        saved = json.loads(meta.read_text())
        kinds = Counter(saved["kinds"])
        generation_s = float(saved["generation_s"])
        print(
            f"  cached: {db} ({db.stat().st_size / 2**20:.0f} MB), generated by an earlier run "
            f"in {generation_s:.1f} s ({rate(args.events / generation_s)}); "
            f"--regenerate to redo it"
        )
    else:
        print(
            f"  generating {args.events:,} events over {args.rooms} rooms into {db} ...", flush=True
        )
        generation_s, kinds = generate(db, args.events, args.rooms)
        print(
            f"  generated in {generation_s:.1f} s ({rate(args.events / generation_s)}, "
            f"batches of {BATCH_EVENTS:,}); {db.stat().st_size / 2**20:.0f} MB"
        )
    print("  events by type: " + ", ".join(f"{k} {v:,}" for k, v in kinds.most_common()))
    store = EventStore.open(str(db))
    total = store.position()
    store.close()
    if total != args.events:
        verdicts.fail(f"store holds {total:,} events, expected {args.events:,}")

    room = args.room or f"room-{min(7, args.rooms - 1)}"
    exe = common.voicemode_exe()
    base = [exe, "replay", "--db", str(db)]
    heading("voicemode replay (subprocess, stdout to /dev/null, wall clock incl. start-up)", "-")
    startup = timed_subprocess([*base, "--until", "0"], args.repeat)
    print(f"  start-up alone (--until 0):     {startup:6.2f} s")
    timings = {}
    jobs = os.cpu_count() or 1
    for label, extra in (
        ("text", []),
        ("text1", ["--jobs", "1"]),
        ("json", ["--json"]),
        ("room", [room]),
    ):
        seconds = timed_subprocess([*base, *extra], args.repeat)
        timings[label] = seconds
        net = seconds - startup
        shown = {
            "text": f"text, all events ({jobs} procs)",
            "text1": "text, --jobs 1 (one core)",
            "json": "--json, all events",
            "room": f"ROOM {room} (scans all)",
        }[label]
        print(
            f"  {shown:<31} {seconds:6.2f} s  {rate(total / seconds):>18}  "
            f"({rate(total / net) if net > 0 else '-'} without start-up)",
            flush=True,
        )

    if not args.no_verify:
        lines = count_lines(base)
        room_lines = count_lines([*base, room])
        print(
            f"  check (untimed): text printed {lines:,} lines for {total:,} events; "
            f"ROOM {room} printed {room_lines:,} lines"
        )
        if lines != total:
            verdicts.fail(f"the text replay printed {lines:,} lines for {total:,} events")

    heading("limit and references (same store, in-process, one thread, no output)", "-")
    store = EventStore.open(str(db))
    began = time.perf_counter()
    decoded = sum(1 for row in store.scan() if decode_plain(row[3]) is not None)
    limit_s = time.perf_counter() - began
    print(
        f"  limit: EventStore.scan + decode_plain (read + decode, no rendering): "
        f"{limit_s:6.2f} s  {rate(decoded / limit_s)}"
    )
    if decoded != total:
        verdicts.fail(f"the limit read {decoded:,} rows of {total:,}")
    began = time.perf_counter()
    count = sum(1 for _ in store.read())
    library_s = time.perf_counter() - began
    print(
        f"  EventStore.read (Mapper.to_domain_event, domain objects): {library_s:6.2f} s  "
        f"{rate(count / library_s)}"
    )
    began = time.perf_counter()
    entries = sum(1 for _ in Timeline(store).entries(TimelineFilter()))
    timeline_s = time.perf_counter() - began
    print(
        f"  Timeline.entries (what replay decodes, no formatting):   {timeline_s:6.2f} s  "
        f"{rate(entries / timeline_s)}"
    )
    store.close()

    heading("Summary", "-")
    library_rate = count / library_s
    limit_rate = decoded / limit_s
    limit_text = f"{rate(limit_rate)} (limit: scan + decode, no rendering, 1 thread)"

    def share(label: str) -> str:
        return f"{total / timings[label] / limit_rate:.0%} of the limit"

    gen = f"{generation_s:.1f} s ({rate(args.events / generation_s)})" + (
        ", cached from an earlier run" if cached else ""
    )
    rows = [
        Row(
            "replay",
            f"`voicemode replay` text, {total:,} events (wall, incl. {startup:.2f} s start-up; "
            f"renders on {jobs} processes, the limit reads on 1 thread)",
            f">= {LIMIT_SHARE_GOAL:.0%} of the limit",
            f"{rate(total / timings['text'])} = {share('text')}",
            limit_text,
        ),
        Row(
            "replay",
            "`voicemode replay --jobs 1` text (one core, like for like with the limit)",
            "-",
            f"{rate(total / timings['text1'])} = {share('text1')}",
            limit_text,
        ),
        Row(
            "replay",
            f"`voicemode replay --json` ({jobs} processes)",
            f">= {LIMIT_SHARE_GOAL:.0%} of the limit",
            f"{rate(total / timings['json'])} = {share('json')}",
            limit_text,
        ),
        Row(
            "replay",
            f"`voicemode replay ROOM` (scans {total:,}; {jobs} processes)",
            f">= {LIMIT_SHARE_GOAL:.0%} of the limit",
            f"{rate(total / timings['room'])} = {share('room')}",
            limit_text,
        ),
        Row(
            "replay",
            "EventStore.read (library path: full domain objects, no output)",
            "-",
            rate(library_rate),
            limit_text,
        ),
        Row(
            "replay",
            "in-process `Timeline.entries` (replay's decoding, no output)",
            "-",
            rate(entries / timeline_s),
            limit_text,
        ),
        Row(
            "replay",
            f"generating the {total:,}-event store (EventStore.append, batches of "
            f"{BATCH_EVENTS:,}; not in the figures)",
            "-",
            gen,
            "-",
        ),
    ]
    print(common.markdown_table(rows))
    for label, shown in (
        ("text", f"replay text ({jobs} processes)"),
        ("json", f"replay --json ({jobs} processes)"),
        ("room", f"replay ROOM ({jobs} processes)"),
    ):
        ratio = total / timings[label] / limit_rate
        if verdicts.finite(shown, ratio):
            verdicts.goal(
                f"{shown} vs reading + decoding the same rows on 1 thread",
                ratio >= LIMIT_SHARE_GOAL,
                f"{ratio:.0%} (goal >= {LIMIT_SHARE_GOAL:.0%})"
                + (
                    f"; text on one core (--jobs 1): {total / timings['text1'] / limit_rate:.0%}"
                    if label == "text"
                    else ""
                ),
            )
    machine_load = load.report()
    print(machine_load)
    common.write_results(
        args.results,
        rows,
        {
            "machine_load": machine_load,
            "events": total,
            "timings": timings,
            "startup": startup,
            "library_s": library_s,
            "limit_s": limit_s,
            "failures": verdicts.failures,
            "goals": verdicts.goals,
            "timeline_s": timeline_s,
            "cached": cached,
            "generation_s": generation_s,
        },
    )
    return verdicts.finish()


if __name__ == "__main__":
    raise SystemExit(main())
