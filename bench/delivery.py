"""Delivery overhead of ``voicemode serve`` under many rooms, over real WebSockets.

``voicemode serve`` runs as a subprocess on a fresh SQLite store. Client
processes (``--client-procs``, default 1, asyncio + the ``websockets`` client)
open ROOMS x 4 connections: one speaker (en) and three listeners (es, fr, en)
per room. Each speaker sends one ``speech-transcript`` per second, the rooms
staggered evenly across the second. The text carries a unique id token, so
every ``translated-message`` a listener receives is matched to its send by
``originalText``. Delivery overhead = receive time at the listener minus send
time at the speaker (same machine, same monotonic clock), measured after a
warm-up; lost and duplicated messages are counted over the whole run.

Runs, all in the same invocation (``--runs``):

* ``relay``: baseline. A bare ``websockets`` relay (this file, ``--serve-relay``)
  answers join-room and forwards each transcript to the room's other members as
  a translated-message: no actors, no event store, no translation. It is the
  floor set by the transport, the client and the shared CPUs.
* ``identity``: ``voicemode serve`` with ``VOICEMODE_SPEECH=off`` and
  ``VOICEMODE_TRANSLATION_ENGINES=identity``: text-only delivery, so only the
  system (actors, event store, projections, gateway) is timed.
* ``apertium``: the same with the default engine (Apertium), speech off.
* ``speech``: ``voicemode serve`` as deployed by default: speech on (espeak-ng
  synthesis), identity translation. The es and fr listeners hear every
  translation spoken; the en listener hears the speaker's own language and gets
  no synthesis. Text delivery is timed per group, plus send -> first
  synthesized audio byte, and each ``synthesized-speech-end`` is counted:
  spoken, or ended with an ``errorCode`` (speech shed or failed, by code).
  Binary frames are counted and timed, never kept.

Goal (ratio, same run): delivery p99 <= 3x the bare relay's p99 at 200 rooms x 4
(<= 10 ms when the relay's p99 is under 3 ms), for ``identity`` and for both
listener groups of ``speech``. The server's memory is sampled during each run
(VmRSS of the server process, and of its child processes, i.e. Apertium
pipelines) and its peak (VmHWM) read at the end. Goal: <= 300 MB.

A run whose figures are not valid makes the bench print ``FAIL: ...`` and exit
1: a delivery or speech end lost or duplicated, a reader that died, an error
frame, the load generator sending late (``--max-send-lag-ms``), or a headline
that would be ``nan``. Missed goals are printed as ``GOAL MISSED`` (exit 0).

    .venv/bin/python bench/delivery.py                        # 200 rooms, 5 s warm-up + 30 s
    .venv/bin/python bench/delivery.py --rooms 20 --seconds 10 --runs identity
    .venv/bin/python bench/delivery.py --smoke                # 3 rooms, relay/identity/speech
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import common
import orjson
from common import Row, fmt_summary, heading, machine_note, summary_ms
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve

from adapters.shells.auth import issue_token, verify_token

LISTENERS = (("l-es", "es"), ("l-fr", "fr"), ("l-en", "en"))
SPEAKER_LANG = "en"
SENTENCES = (
    "Good morning everyone, can you hear me clearly",
    "Let us start with the numbers for the northern region",
    "The new build fixed the crash we saw on older phones",
    "Could you share the slides again, the second page did not load",
    "I think we should move the launch to the first week of March",
    "Thanks, that answers my question about the schedule",
)
JOIN_CONCURRENCY = 32
START_TIMEOUT_S = 180  # speech on loads the recognizer before listening
RUN_NAMES = ("relay", "identity", "apertium", "speech")
RUN_TITLES = {
    "relay": " (baseline: bare websockets relay, no actors/store/translation)",
    "identity": " (voicemode serve, VOICEMODE_SPEECH=off, VOICEMODE_TRANSLATION_ENGINES=identity)",
    "apertium": " (voicemode serve, VOICEMODE_SPEECH=off, default engine: Apertium)",
    "speech": " (voicemode serve as deployed: speech on, identity translation, espeak-ng; "
    "the es and fr listeners hear each translation spoken)",
}
SPEECH_LISTENERS = frozenset(lang for _, lang in LISTENERS if lang != SPEAKER_LANG)
"""Listeners who hear another language: in the speech run, each of their deliveries is spoken."""
RELAY_FAST_MS = 3.0
"""Below this relay p99 the delivery goal is the absolute 10 ms, above it 3x the relay's p99."""
GOAL_RATIO = 3.0
GOAL_FLOOR_MS = 10.0
RSS_GOAL_MB = 300
SMOKE = {
    "rooms": 3,
    "seconds": 2,
    "warmup": 1,
    "drain": 5.0,
    "runs": "relay,identity,speech",
    "max_send_lag_ms": 250.0,
}
"""What ``--smoke`` sets: tiny runs (a few seconds each); Apertium is left out (its dozens of
pipeline processes take longer to start than the run lasts), and the send-lag bound is looser
so that a busy CI machine does not refuse a 3-room run."""


# ================================================================ client worker process


@dataclass
class Conn:
    """One client connection and what it received."""

    user: str
    room: int
    language: str
    ws: ClientConnection | None = None
    waiters: dict[Any, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    closed: str | None = None


@dataclass
class Tally:
    """Everything a worker records (one per worker process)."""

    sent: dict[str, tuple[float, int, bool]] = field(
        default_factory=dict
    )  # text -> (t, room, warm)
    received: dict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    recognized: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    unknown: int = 0
    misrouted: int = 0
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    send_lag: list[float] = field(default_factory=list)
    id_text: dict[str, str] = field(default_factory=dict)  # translated-message id -> its text
    first_audio: dict[tuple[str, str], float] = field(default_factory=dict)  # (id, user) -> t
    speech_end: dict[tuple[str, str], str] = field(default_factory=dict)  # -> errorCode or ""
    audio_bytes: int = 0
    audio_frames: int = 0


async def reader(conn: Conn, tally: Tally) -> None:
    """Read every frame of one connection until it closes.

    Binary frames (synthesized speech) are counted and timed, never kept, so the
    client's memory does not grow with the audio it receives.
    """
    assert conn.ws is not None
    clock = time.perf_counter
    speaking: str | None = None  # one synthesis at a time per connection
    try:
        async for message in conn.ws:
            now = clock()
            if isinstance(message, bytes):
                tally.audio_bytes += len(message)
                tally.audio_frames += 1
                if speaking is not None:
                    tally.first_audio.setdefault((speaking, conn.user), now)
                continue
            frame = orjson.loads(message)
            name = frame.get("event")
            if name == "translated-message":
                data = frame["data"]
                text = data["originalText"]
                if text not in tally.sent:
                    tally.unknown += 1
                    continue
                if data.get("toUserId") != conn.user:
                    tally.misrouted += 1
                tally.received[(text, conn.user)].append(now)
                tally.id_text[str(data.get("id"))] = text
            elif name == "recognized-speech":
                tally.recognized[frame["data"]["text"]] += 1
            elif name == "synthesized-speech":
                speaking = str(frame["data"]["id"])
            elif name == "synthesized-speech-end":
                data = frame["data"]
                tally.speech_end[(str(data["id"]), conn.user)] = str(data.get("errorCode") or "")
                speaking = None
            elif name == "error":
                tally.errors[frame["data"].get("code", "?")] += 1
            ref = frame.get("ref")
            if ref is not None and ref in conn.waiters:
                waiter = conn.waiters.pop(ref)
                if not waiter.done():
                    waiter.set_result(frame)
    except Exception as error:
        conn.closed = repr(error)
    else:
        conn.closed = "closed"


async def open_conn(
    conn: Conn,
    url: str,
    secret: str,
    tally: Tally,
    compression: str | None,
    tasks: list[asyncio.Task[None]],
) -> None:
    token = issue_token(secret, conn.user, conn.user, conn.language, 6 * 3600)
    conn.ws = await connect(
        f"{url}?token={token}",
        compression=compression,
        max_queue=None,
        open_timeout=60,
        ping_interval=None,
    )
    tasks.append(asyncio.create_task(reader(conn, tally)))
    ref = f"join-{conn.user}"
    waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    conn.waiters[ref] = waiter
    await conn.ws.send(
        orjson.dumps(
            {"event": "join-room", "data": {"roomCode": f"room-{conn.room}"}, "ref": ref}
        ).decode()
    )
    reply = await asyncio.wait_for(waiter, 60)
    if reply.get("event") != "joined-room":
        raise RuntimeError(f"{conn.user} could not join: {reply}")


async def speak(
    conn: Conn, room: int, rooms_total: int, t0: float, ticks: int, warmup: int, tally: Tally
) -> None:
    assert conn.ws is not None
    offset = room / rooms_total
    clock = time.perf_counter
    for tick in range(ticks):
        due = t0 + tick + offset
        delay = due - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        text = f"{SENTENCES[(room + tick) % len(SENTENCES)]} (id b{room}x{tick})."
        payload = orjson.dumps(
            {"event": "speech-transcript", "data": {"transcript": text, "sourceLang": "en"}}
        ).decode()
        if conn.closed:
            return
        now = clock()
        tally.sent[text] = (now, room, tick < warmup)
        tally.send_lag.append(now - due)
        try:
            await conn.ws.send(payload)
        except Exception:
            return


async def worker_main(spec: dict[str, Any]) -> dict[str, Any]:
    rooms: list[int] = spec["rooms"]
    tally = Tally()
    conns: dict[int, list[Conn]] = {}
    for room in rooms:
        conns[room] = [Conn(f"r{room}-s", room, SPEAKER_LANG)] + [
            Conn(f"r{room}-{suffix}", room, lang) for suffix, lang in LISTENERS
        ]
    tasks: list[asyncio.Task[None]] = []
    semaphore = asyncio.Semaphore(JOIN_CONCURRENCY)
    compression = None if spec["compression"] == "none" else "deflate"

    async def join(conn: Conn) -> None:
        async with semaphore:
            await open_conn(conn, spec["url"], spec["secret"], tally, compression, tasks)

    began = time.perf_counter()
    # Listeners first, so each room's members are in before anyone speaks.
    await asyncio.gather(*(join(c) for room in rooms for c in conns[room][1:]))
    await asyncio.gather(*(join(conns[room][0]) for room in rooms))
    join_s = time.perf_counter() - began
    print(json.dumps({"ready": True, "join_s": join_s}), flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    t0 = float(json.loads(line)["t0"])
    ticks = spec["warmup"] + spec["seconds"]
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    load_began = time.perf_counter()
    await asyncio.gather(
        *(
            speak(conns[room][0], room, spec["rooms_total"], t0, ticks, spec["warmup"], tally)
            for room in rooms
        )
    )
    load_s = time.perf_counter() - load_began
    usage_after = resource.getrusage(resource.RUSAGE_SELF)
    # Drain: wait until every expected delivery arrived. A backlog (an engine slower
    # than the offered load) is waited for as long as deliveries keep arriving; only
    # ``drain`` seconds without progress (or ``drain_max`` in all) end the wait, so
    # what is still missing then is lost, not late.
    expected = len(tally.sent) * len(LISTENERS)
    speech_listeners = (
        {c.user for cs in conns.values() for c in cs[1:] if c.language in SPEECH_LISTENERS}
        if spec["speech"]
        else set()
    )
    began_drain = last_progress = time.perf_counter()
    seen = -1
    while True:
        now = time.perf_counter()
        got = len(tally.received) + len(tally.recognized) + len(tally.speech_end)
        spoken_due = sum(1 for _, user in tally.received if user in speech_listeners)
        if (
            len(tally.received) >= expected
            and len(tally.recognized) >= len(tally.sent)
            and len(tally.speech_end) >= spoken_due
        ):
            break
        if got != seen:
            seen, last_progress = got, now
        if now - last_progress > spec["drain"] or now - began_drain > spec["drain_max"]:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # catch duplicates that would arrive late
    cpu = (usage_after.ru_utime - usage_before.ru_utime) + (
        usage_after.ru_stime - usage_before.ru_stime
    )
    result = summarize_worker(tally, conns, speech_listeners)
    result.update(
        {
            "join_s": join_s,
            "load_s": load_s,
            "client_cpu_s": cpu,
            "client_hwm": proc_status(os.getpid(), "VmHWM"),
        }
    )
    for room in rooms:
        for conn in conns[room]:
            if conn.ws is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.ws.close(), 2)
    for task in tasks:
        task.cancel()
    return result


def summarize_worker(
    tally: Tally, conns: dict[int, list[Conn]], speech_listeners: set[str]
) -> dict[str, Any]:
    latencies: dict[str, list[float]] = defaultdict(list)
    lost = duplicated = 0
    lost_samples: list[str] = []
    text_id = {text: tid for tid, text in tally.id_text.items()}
    audio_latencies: list[float] = []
    speech = {"due": 0, "spoken": 0, "silent": 0, "missing": 0}
    speech_codes: dict[str, int] = defaultdict(int)
    for room_conns in conns.values():
        for conn in room_conns[1:]:
            for text, (sent_at, room, warm) in tally.sent.items():
                if room != conn.room:
                    continue
                arrivals = tally.received.get((text, conn.user), [])
                if not arrivals:
                    lost += 1
                    if len(lost_samples) < 5:
                        lost_samples.append(f"{conn.user}: {text}")
                    continue
                duplicated += len(arrivals) - 1
                if not warm:
                    latencies[conn.language].append(arrivals[0] - sent_at)
                if conn.user not in speech_listeners:
                    continue
                speech["due"] += 1
                key = (text_id.get(text, ""), conn.user)
                code = tally.speech_end.get(key)
                if code is None:
                    speech["missing"] += 1
                elif code:
                    speech_codes[code] += 1
                elif key in tally.first_audio:
                    speech["spoken"] += 1
                    if not warm:
                        audio_latencies.append(tally.first_audio[key] - sent_at)
                else:
                    speech["silent"] += 1  # ended without an errorCode and without audio
    recognized_lost = sum(1 for text in tally.sent if tally.recognized.get(text, 0) == 0)
    recognized_dup = sum(max(0, n - 1) for n in tally.recognized.values())
    closed = [c.closed for cs in conns.values() for c in cs if c.closed]
    send_times = [sent_at for sent_at, _, _ in tally.sent.values()]
    arrivals_all = [t for times in tally.received.values() for t in times]
    return {
        "first_send": min(send_times, default=0.0),
        "last_send": max(send_times, default=0.0),
        "last_arrival": max(arrivals_all, default=0.0),
        "deliveries": len(arrivals_all),
        "latencies": latencies,
        "sent": len(tally.sent),
        "sent_measured": sum(1 for _, _, warm in tally.sent.values() if not warm),
        "expected": len(tally.sent) * len(LISTENERS),
        "lost": lost,
        "lost_samples": lost_samples,
        "duplicated": duplicated,
        "unknown": tally.unknown,
        "misrouted": tally.misrouted,
        "recognized_lost": recognized_lost,
        "recognized_dup": recognized_dup,
        "errors": dict(tally.errors),
        "closed_early": len(closed),
        "closed_samples": closed[:3],
        "send_lag_p99_ms": summary_ms(tally.send_lag)["p99"] if tally.send_lag else 0.0,
        "send_lag_max_ms": max(tally.send_lag, default=0.0) * 1000,
        "audio_latencies": audio_latencies,
        "speech": speech,
        "speech_codes": dict(speech_codes),
        "audio_bytes": tally.audio_bytes,
        "audio_frames": tally.audio_frames,
    }


def run_worker() -> int:
    spec = json.loads(sys.stdin.readline())
    result = asyncio.run(worker_main(spec))
    print(json.dumps({"result": result}), flush=True)
    return 0


# ================================================================ baseline relay server


def run_relay(port: int) -> int:
    """A bare websockets server with the same frames and no system behind them."""
    secret = os.environ["VOICEMODE_SECRET"]
    rooms: dict[str, dict[str, ServerConnection]] = defaultdict(dict)
    counter = [0]

    async def handle(ws: ServerConnection) -> None:
        assert ws.request is not None
        query = ws.request.path.partition("?token=")[2]
        identity = verify_token(secret, query)
        user = identity.user_id
        room: str | None = None
        try:
            async for message in ws:
                frame = orjson.loads(message)
                name = frame.get("event")
                data = frame.get("data") or {}
                if name == "join-room":
                    room = data["roomCode"]
                    rooms[room][user] = ws
                    await ws.send(
                        orjson.dumps(
                            {
                                "event": "joined-room",
                                "ref": frame.get("ref"),
                                "data": {
                                    "roomId": room,
                                    "userId": user,
                                    "language": identity.language,
                                },
                            }
                        ).decode()
                    )
                elif name == "speech-transcript" and room is not None:
                    counter[0] += 1
                    text = data["transcript"].strip()
                    tid = f"t{counter[0]}"
                    for other, other_ws in list(rooms[room].items()):
                        if other == user:
                            frame_out = {
                                "event": "recognized-speech",
                                "pos": counter[0],
                                "data": {
                                    "id": tid,
                                    "text": text,
                                    "sourceLang": data["sourceLang"],
                                    "speakerName": identity.name,
                                },
                            }
                        else:
                            frame_out = {
                                "event": "translated-message",
                                "pos": counter[0],
                                "data": {
                                    "id": tid,
                                    "originalText": text,
                                    "translatedText": text,
                                    "sourceLang": data["sourceLang"],
                                    "targetLang": "xx",
                                    "fromUserId": user,
                                    "toUserId": other,
                                    "speakerName": identity.name,
                                },
                            }
                        with contextlib.suppress(Exception):
                            await other_ws.send(orjson.dumps(frame_out).decode())
        finally:
            if room is not None:
                rooms[room].pop(user, None)

    async def main() -> None:
        async with serve(handle, "127.0.0.1", port, max_size=1024 * 1024, max_queue=64):
            print(f"relay listening on {port}", flush=True)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            await stop.wait()

    asyncio.run(main())
    return 0


# ================================================================ orchestration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def proc_status(pid: int, key: str) -> int:
    """A ``kB`` field of /proc/<pid>/status, in bytes (0 if gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def proc_pss(pid: int) -> int:
    """Proportional set size of a process in bytes (shared pages split among sharers)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


descendants = common.descendants


class MemorySampler:
    """Samples VmRSS of the server, and that plus its children's PSS, in a thread.

    Children (Apertium pipelines: a dozen processes per direction) share most
    of their pages, so their VmRSS would be counted many times over; PSS
    splits shared pages among the processes that map them.
    """

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_rss = 0
        self.peak_tree = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = proc_status(self.pid, "VmRSS")
            tree = rss + sum(proc_pss(child) for child in descendants(self.pid))
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_tree = max(self.peak_tree, tree)
            self.samples += 1
            self._stop.wait(self.interval)


@dataclass
class Server:
    kind: str
    workdir: Path
    secret: str = field(default_factory=lambda: secrets.token_hex(32))
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self) -> None:
        env = common.subprocess_env({"VOICEMODE_SECRET": self.secret})
        if self.kind == "relay":
            command = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--serve-relay",
                str(self.port),
            ]
        else:
            if self.kind == "speech":  # the default deployment: speech on
                env["VOICEMODE_SPEECH"] = "on"
                env["VOICEMODE_TRANSLATION_ENGINES"] = "identity"
                env["VOICEMODE_STT_ENGINES"] = "faster-whisper"
                env["VOICEMODE_TTS_ENGINES"] = "espeak-ng"
            else:  # text-only delivery: nobody gets synthesized speech
                env["VOICEMODE_SPEECH"] = "off"
                env["VOICEMODE_TRANSLATION_ENGINES"] = self.kind
            # Nobody asks the assistant here: its embedded model's memory is
            # measured by bench/assistant.py, not counted against delivery's.
            env["VOICEMODE_ASSISTANT"] = "off"
            db = self.workdir / f"{self.kind}.db"
            command = [
                common.voicemode_exe(),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--db",
                str(db),
            ]
        self.log_path = self.workdir / f"{self.kind}.log"
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=common.ROOT
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} server exited: {self.log_path.read_text()}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"{self.kind} server did not listen within {START_TIMEOUT_S} s")

    def stop(self) -> tuple[float, int | None]:
        """SIGTERM; return (seconds to exit, exit code or None if it had to be killed)."""
        assert self.process is not None
        began = time.perf_counter()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                return time.perf_counter() - began, None
        return time.perf_counter() - began, self.process.returncode

    def log_lines(self, needle: str) -> list[str]:
        if self.log_path is None or not self.log_path.exists():
            return []
        return [
            line
            for line in self.log_path.read_text(errors="replace").splitlines()
            if needle in line
        ]


def split_rooms(rooms: int, procs: int) -> list[list[int]]:
    return [list(range(i, rooms, procs)) for i in range(procs)]


def run_one(kind: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    heading(f"run: {kind}{RUN_TITLES[kind]}", "-")
    server = Server(kind, workdir)
    server.start()
    assert server.process is not None
    pid = server.process.pid
    time.sleep(1.0)
    idle_rss = proc_status(pid, "VmRSS")
    sampler = MemorySampler(pid)
    sampler.start()
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for rooms in split_rooms(args.rooms, args.client_procs):
            spec = {
                "url": server.url,
                "secret": server.secret,
                "rooms": rooms,
                "rooms_total": args.rooms,
                "warmup": args.warmup,
                "seconds": args.seconds,
                "drain": args.drain,
                "drain_max": args.drain_max,
                "compression": args.compression,
                "speech": kind == "speech",
            }
            worker = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=common.subprocess_env(),
                cwd=common.ROOT,
            )
            assert worker.stdin is not None
            worker.stdin.write((json.dumps(spec) + "\n").encode())
            worker.stdin.flush()
            workers.append(worker)
        join_s = 0.0
        for worker in workers:
            assert worker.stdout is not None
            line = worker.stdout.readline()
            if not line:
                raise RuntimeError(f"client worker failed to join (exit {worker.wait()})")
            join_s = max(join_s, json.loads(line)["join_s"])
        joined_rss = proc_status(pid, "VmRSS")
        print(
            f"  {args.rooms * 4} connections joined {args.rooms} rooms in {join_s:.1f} s; "
            f"server RSS idle {idle_rss / 2**20:.0f} MB, after joins {joined_rss / 2**20:.0f} MB",
            flush=True,
        )
        t0 = time.perf_counter() + 1.0
        window = float(args.warmup + args.seconds)
        # (server CPU incl. children, whole machine busy CPU) at t0 and at t0 + window
        cpu_marks: list[tuple[float, float]] = []

        snapshots: list[common.ProcessSnapshot] = []

        def mark_cpu() -> None:
            cpu_marks.append((common.tree_cpu_seconds(pid), common.system_busy_seconds()))
            snapshots.append(common.all_process_cpu())

        timers = [
            threading.Timer(max(0.0, at - time.perf_counter()), mark_cpu)
            for at in (t0, t0 + window)
        ]
        for timer in timers:
            timer.start()
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write((json.dumps({"t0": t0}) + "\n").encode())
            worker.stdin.flush()
        print(
            f"  load: 1 transcript/s per room ({args.rooms}/s total), {args.warmup} s warm-up "
            f"+ {args.seconds} s measured ...",
            flush=True,
        )
        results = []
        for worker in workers:
            assert worker.stdout is not None
            line = worker.stdout.readline()
            if not line:
                raise RuntimeError(f"client worker died (exit {worker.wait()})")
            results.append(json.loads(line)["result"])
            worker.wait()
        for timer in timers:
            timer.join()
        load_s = window
        server_cpu = machine_cpu = float("nan")
        others: list[tuple[str, float]] = []
        if len(cpu_marks) == 2:
            # this process's family as each snapshot saw it: the server, its espeak-ng and
            # Apertium children (even those that exited since), the client workers
            others = common.top_others(snapshots[0], snapshots[1], {os.getpid()})
            server_cpu = cpu_marks[1][0] - cpu_marks[0][0]
            machine_cpu = cpu_marks[1][1] - cpu_marks[0][1]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        sampler.stop()
    hwm = proc_status(pid, "VmHWM")
    children = descendants(pid)
    children_pss = sum(proc_pss(child) for child in children)
    stop_s, code = server.stop()
    warnings = (
        server.log_lines("WARNING") + server.log_lines("ERROR") + server.log_lines("Traceback")
    )
    return report_run(
        kind,
        args,
        results,
        {
            "idle_rss": idle_rss,
            "joined_rss": joined_rss,
            "peak_rss": sampler.peak_rss,
            "peak_tree": sampler.peak_tree,
            "hwm": hwm,
            "children_pss": children_pss,
            "children": len(children),
            "server_cpu_s": server_cpu,
            "machine_cpu_s": machine_cpu,
            "top_others": others,
            "load_s": load_s,
            "stop_s": stop_s,
            "exit": code,
            "warnings": warnings,
            "problems": (["server did not stop on SIGTERM within 30 s"] if code is None else [])
            + [f"server log has a traceback: {server.log_path}"]
            * bool(server.log_lines("Traceback")),
            "log": str(server.log_path),
        },
    )


def report_run(
    kind: str, args: argparse.Namespace, results: list[dict[str, Any]], server: dict[str, Any]
) -> dict[str, Any]:
    """Print one run's figures; return them with the run's problems (what makes it invalid)."""
    by_lang: dict[str, list[float]] = defaultdict(list)
    for result in results:
        for lang, values in result["latencies"].items():
            by_lang[lang].extend(values)
    everything = [value for values in by_lang.values() for value in values]
    same = by_lang.get(SPEAKER_LANG, [])
    translated = [v for lang, values in by_lang.items() if lang != SPEAKER_LANG for v in values]
    totals = {
        key: sum(r[key] for r in results)
        for key in (
            "sent",
            "sent_measured",
            "expected",
            "lost",
            "duplicated",
            "unknown",
            "misrouted",
            "recognized_lost",
            "recognized_dup",
            "closed_early",
            "audio_bytes",
            "audio_frames",
        )
    }
    errors: dict[str, int] = defaultdict(int)
    speech: dict[str, int] = defaultdict(int)
    speech_codes: dict[str, int] = defaultdict(int)
    for result in results:
        for code, count in result["errors"].items():
            errors[code] += count
        for key, count in result["speech"].items():
            speech[key] += count
        for code, count in result["speech_codes"].items():
            speech_codes[code] += count
    audio = [value for r in results for value in r["audio_latencies"]]
    client_cpu = sum(r["client_cpu_s"] for r in results)
    client_hwm = max(r["client_hwm"] for r in results)
    send_lag_p99 = max(r["send_lag_p99_ms"] for r in results)
    load_s = server["load_s"]
    stats = summary_ms(everything)
    print("  delivery overhead (send -> translated-message at each listener, after warm-up):")
    print(f"    all listeners   {fmt_summary(stats)}")
    for lang in sorted(by_lang):
        route = "from TranscriptRecognized" if lang == SPEAKER_LANG else "via TranslationProduced"
        print(f"    listener {lang}     {fmt_summary(summary_ms(by_lang[lang]))}  [{route}]")
    print(
        f"  messages: {totals['sent']} transcripts sent ({totals['sent_measured']} measured), "
        f"{totals['expected']} deliveries expected; lost {totals['lost']}, "
        f"duplicated {totals['duplicated']}, misrouted {totals['misrouted']}, "
        f"unmatched {totals['unknown']}"
    )
    last_send = max(r["last_send"] for r in results)
    last_arrival = max(r["last_arrival"] for r in results)
    deliveries = sum(r["deliveries"] for r in results)
    # Sends span the load window; deliveries span it plus the tail after the last send.
    offered = totals["expected"] / load_s
    achieved = deliveries / (load_s + max(0.0, last_arrival - last_send))
    print(
        f"  throughput: {achieved:,.0f} deliveries/s achieved for {offered:,.0f}/s offered; "
        f"the last one arrived {(last_arrival - last_send) * 1000:,.0f} ms after the last send"
    )
    print(
        f"  speaker echo (recognized-speech): lost {totals['recognized_lost']}, "
        f"duplicated {totals['recognized_dup']}"
    )
    audio_stats = summary_ms(audio)
    if kind == "speech":
        shed = sum(speech_codes.values())
        print(
            f"  speech (es and fr listeners): {speech['due']} translations to speak; spoken "
            f"{speech['spoken']}, ended with an errorCode (shed or failed) {shed} "
            f"{dict(speech_codes) or ''}, ended without audio or errorCode {speech['silent']}, "
            f"no synthesized-speech-end at all {speech['missing']}; "
            f"{totals['audio_bytes'] / 2**20:.1f} MB of audio in {totals['audio_frames']:,} "
            f"binary frames (counted, not kept)"
        )
        print(f"  send -> first synthesized audio byte: {fmt_summary(audio_stats)}")
    if errors:
        print(f"  error frames received: {dict(errors)}")
    if totals["closed_early"]:
        samples = [s for r in results for s in r["closed_samples"]][:3]
        print(f"  readers that died during the run: {totals['closed_early']} {samples}")
    lost_samples = [s for r in results for s in r["lost_samples"]][:3]
    if lost_samples:
        print(f"  lost, e.g.: {lost_samples}")
    mb = 2**20
    other_cpu = max(0.0, server["machine_cpu_s"] - server["server_cpu_s"] - client_cpu)
    busy = ""
    if server["top_others"]:
        busy = " [top: " + ", ".join(f"{n} {s:.1f}" for n, s in server["top_others"]) + "]"
    if other_cpu / load_s > 0.1:
        busy += " [WARNING: machine busy with other work]"
    print(
        f"  server memory: VmHWM {server['hwm'] / mb:.0f} MB (peak sampled VmRSS "
        f"{server['peak_rss'] / mb:.0f} MB; idle {server['idle_rss'] / mb:.0f} MB; after joins "
        f"{server['joined_rss'] / mb:.0f} MB); server + {server['children']} child "
        f"processes (PSS) peak {server['peak_tree'] / mb:.0f} MB; client process VmHWM "
        f"{client_hwm / mb:.0f} MB"
    )
    print(
        f"  CPU over the {load_s:.0f} s of load ({os.cpu_count()} cores): server (+children) "
        f"{server['server_cpu_s']:.2f} core-s ({server['server_cpu_s'] / load_s:.0%} of a core), "
        f"clients {client_cpu:.2f} core-s ({client_cpu / load_s:.0%} of a core), other "
        f"processes {other_cpu:.2f} core-s ({other_cpu / load_s:.0%} of a core){busy}; "
        f"client send lag p99 {send_lag_p99:.1f} ms"
    )
    exit_note = "killed after 30 s" if server["exit"] is None else f"exit {server['exit']}"
    print(
        f"  server stop (SIGTERM): {server['stop_s']:.1f} s, {exit_note}; "
        f"log {server['log']} (kept with --keep)"
    )
    if server["warnings"]:
        print(
            f"  server log: {len(server['warnings'])} warning/error line(s), first: "
            f"{server['warnings'][0][:200]}"
        )
    problems = run_problems(kind, args, totals, dict(errors), speech, stats, audio_stats)
    problems += [f"{kind}: {reason}" for reason in server.get("problems", [])]
    if send_lag_p99 > args.max_send_lag_ms:
        problems.append(
            f"{kind}: generator fell behind (send lag p99 {send_lag_p99:.0f} ms > "
            f"{args.max_send_lag_ms:.0f} ms): not a system figure"
        )
    for problem in problems:
        print(f"  FAIL: {problem}")
    return {
        "kind": kind,
        "stats": stats,
        "same": summary_ms(same),
        "translated": summary_ms(translated),
        "audio": audio_stats,
        "by_lang": {k: summary_ms(v) for k, v in by_lang.items()},
        "totals": totals,
        "speech": dict(speech),
        "speech_codes": dict(speech_codes),
        "errors": dict(errors),
        "server": server,
        "client_cpu_s": client_cpu,
        "client_hwm": client_hwm,
        "send_lag_p99_ms": send_lag_p99,
        "achieved": achieved,
        "offered": offered,
        "tail_s": last_arrival - last_send,
        "problems": problems,
    }


def run_problems(
    kind: str,
    args: argparse.Namespace,
    totals: dict[str, int],
    errors: dict[str, int],
    speech: dict[str, int],
    stats: dict[str, float],
    audio_stats: dict[str, float],
) -> list[str]:
    """What makes a run's figures invalid: anything lost, duplicated or dead, or no figure."""
    problems = [
        f"{kind}: {totals[key]} {what}"
        for key, what in (
            ("lost", "deliveries lost"),
            ("duplicated", "deliveries duplicated"),
            ("misrouted", "deliveries misrouted"),
            ("unknown", "deliveries of texts never sent"),
            ("recognized_lost", "speaker echoes lost"),
            ("recognized_dup", "speaker echoes duplicated"),
            ("closed_early", "readers died (connection closed or frame not understood)"),
        )
        if totals[key]
    ]
    if errors:
        problems.append(f"{kind}: error frames received {errors}")
    if not totals["sent_measured"] or not math.isfinite(stats["p99"]):
        problems.append(f"{kind}: no delivery measured after the warm-up (p99 would be nan)")
    if kind == "speech":
        if speech["missing"]:
            problems.append(
                f"{kind}: {speech['missing']} translations never got a synthesized-speech-end "
                f"(speech lost, neither spoken nor shed)"
            )
        if speech["silent"]:
            problems.append(f"{kind}: {speech['silent']} speeches ended without audio or errorCode")
        if not math.isfinite(audio_stats["p50"]):
            problems.append(f"{kind}: no synthesized audio measured (first-byte figure is nan)")
    elif totals["audio_frames"]:
        problems.append(f"{kind}: {totals['audio_frames']} binary frames with speech off")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=30, help="measured seconds")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up seconds (not timed)")
    parser.add_argument(
        "--runs", default=",".join(RUN_NAMES), help=f"comma-separated, of {', '.join(RUN_NAMES)}"
    )
    parser.add_argument(
        "--client-procs", type=int, default=1, help="client processes generating the load"
    )
    parser.add_argument(
        "--drain",
        type=float,
        default=10.0,
        help="after the load, stop waiting for missing deliveries once none arrived for "
        "this many seconds (they are then counted as lost)",
    )
    parser.add_argument(
        "--drain-max",
        type=float,
        default=300.0,
        help="upper bound of the wait for a backlog after the load",
    )
    parser.add_argument(
        "--max-send-lag-ms",
        type=float,
        default=50.0,
        help="a run whose load generator sent later than this (p99) is refused: the "
        "generator fell behind, so its figures are not the system's",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the work dir (it is kept anyway when something was lost or logged)",
    )
    parser.add_argument(
        "--compression",
        choices=("deflate", "none"),
        default="deflate",
        help="client permessage-deflate offer (browsers offer deflate)",
    )
    common.add_smoke_flag(parser, f"{SMOKE['rooms']} rooms, {SMOKE['seconds']} s per run")
    parser.add_argument("--results", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-relay", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return run_worker()
    if args.serve_relay is not None:
        return run_relay(args.serve_relay)
    if args.smoke:
        for name, value in SMOKE.items():
            setattr(args, name, value)

    runs = [name.strip() for name in args.runs.split(",") if name.strip()]
    unknown = [name for name in runs if name not in RUN_NAMES]
    if unknown:
        parser.error(f"unknown run(s): {unknown}")
    with contextlib.suppress(ValueError, OSError):
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    heading("bench/delivery.py: delivery overhead over real WebSockets" + " (smoke)" * args.smoke)
    print(machine_note())
    print(
        f"Load: {args.rooms} rooms x 4 connections (speaker {SPEAKER_LANG}; listeners "
        f"{', '.join(lang for _, lang in LISTENERS)}), 1 speech-transcript per room per second, "
        f"staggered; {args.client_procs} client process(es); compression {args.compression}."
    )
    load = common.OtherLoad()
    verdicts = common.Verdicts("delivery")
    workdir = Path(tempfile.mkdtemp(prefix="voicemode-bench-delivery-"))
    print(f"Work dir (fresh SQLite store per run, server logs): {workdir}")
    outcomes: dict[str, dict[str, Any]] = {}
    for name in runs:
        try:
            outcomes[name] = run_one(name, args, workdir)
        except Exception as error:  # a run that could not even run is a failure, not a crash
            verdicts.fail(f"{name}: the run broke: {error!r}")
    for outcome in outcomes.values():
        for problem in outcome["problems"]:
            verdicts.fail(problem, quiet=True)  # already printed in its run
    troubled = bool(verdicts.failures) or any(o["server"]["warnings"] for o in outcomes.values())
    if args.keep or troubled:
        print(f"Kept the work dir (stores and server logs): {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)

    heading("Summary", "-")
    rows = summary_rows(outcomes, args)
    print(common.markdown_table(rows))
    judge(outcomes, args, verdicts)
    machine_load = load.report()
    print(machine_load)
    common.write_results(
        args.results,
        rows,
        {
            "machine_load": machine_load,
            "failures": verdicts.failures,
            "goals": verdicts.goals,
            "runs": {
                name: {"stats": o["stats"], "totals": o["totals"], "hwm": o["server"]["hwm"]}
                for name, o in outcomes.items()
            },
        },
    )
    return verdicts.finish()


def delivery_bound_ms(relay_p99_ms: float) -> float:
    """The delivery goal for a run whose bare relay had this p99 (see RELAY_FAST_MS)."""
    return GOAL_FLOOR_MS if relay_p99_ms < RELAY_FAST_MS else GOAL_RATIO * relay_p99_ms


def judge(
    outcomes: dict[str, dict[str, Any]], args: argparse.Namespace, verdicts: common.Verdicts
) -> None:
    """The goal verdicts: delivery p99 against the same run's relay, server memory."""
    size = f"{args.rooms} rooms x 4" + ("" if args.rooms == 200 else " (the goal is at 200)")
    relay = outcomes.get("relay")
    if relay is not None and math.isfinite(relay["stats"]["p99"]):
        relay_p99 = relay["stats"]["p99"]
        bound = delivery_bound_ms(relay_p99)
        rule = f"<= {bound:.1f} ms = " + (
            f"{GOAL_FLOOR_MS:.0f} ms (relay p99 {relay_p99:.2f} ms < {RELAY_FAST_MS:.0f} ms)"
            if relay_p99 < RELAY_FAST_MS
            else f"{GOAL_RATIO:.0f} x relay p99 {relay_p99:.2f} ms"
        )
        checks = [("identity", "stats", "delivery p99, identity engine, speech off")]
        checks += [
            (
                "speech",
                "same",
                f"delivery p99 with speech on, {SPEAKER_LANG} listeners (no speech)",
            ),
            ("speech", "translated", "delivery p99 with speech on, es/fr listeners (text)"),
        ]
        for name, key, label in checks:
            if name not in outcomes:
                continue
            p99 = outcomes[name][key]["p99"]
            if not verdicts.finite(f"{label} ({size})", p99):
                continue
            verdicts.goal(
                f"{label} ({size})",
                p99 <= bound,
                f"{p99:.2f} ms = {p99 / relay_p99:.1f}x the bare relay's p99 ({rule})",
            )
    elif {"identity", "speech"} & outcomes.keys():
        print("GOAL not judged: delivery p99 needs the relay run (--runs relay,...)")
    for name in ("identity", "apertium", "speech"):
        if name in outcomes:
            hwm_mb = outcomes[name]["server"]["hwm"] / 2**20
            verdicts.goal(
                f"server peak RSS (VmHWM), {name} ({size})",
                hwm_mb <= RSS_GOAL_MB,
                f"{hwm_mb:.0f} MB (goal <= {RSS_GOAL_MB} MB)",
            )


def summary_rows(outcomes: dict[str, dict[str, Any]], args: argparse.Namespace) -> list[Row]:
    def p(name: str, key: str = "p99", which: str = "stats") -> str:
        if name not in outcomes:
            return "not run"
        return common.num(outcomes[name][which][key], ".2f", " ms")

    def loss(name: str) -> str:
        totals = outcomes[name]["totals"]
        return f"{totals['lost']} lost / {totals['duplicated']} dup of {totals['expected']}"

    def ratio(name: str, which: str = "stats") -> str:
        if "relay" not in outcomes or name not in outcomes:
            return ""
        relay = outcomes["relay"]["stats"]["p99"]
        value = outcomes[name][which]["p99"]
        return f" = {common.num(value / relay, '.1f', 'x')} relay" if relay else ""

    size = f"{args.rooms} rooms x 4, {args.seconds} s"
    relay_base = (
        f"{p('relay')} p99 / {p('relay', 'p50')} p50 (bare websockets relay)"
        if "relay" in outcomes
        else "not run"
    )
    goal = (
        f"<= {GOAL_RATIO:.0f}x relay p99 (<= {GOAL_FLOOR_MS:.0f} ms if relay < "
        f"{RELAY_FAST_MS:.0f} ms)"
    )
    rows: list[Row] = []
    if "identity" in outcomes:
        rows.append(
            Row(
                "delivery",
                f"delivery overhead p99, identity engine, speech off ({size})",
                goal,
                f"{p('identity')}{ratio('identity')} (p50 {p('identity', 'p50')}, "
                f"p95 {p('identity', 'p95')}, max {p('identity', 'max')})",
                relay_base,
            )
        )
    if "apertium" in outcomes:
        base = f"{p('identity')} p99 (identity engine)" if "identity" in outcomes else relay_base
        rows.append(
            Row(
                "delivery",
                f"delivery overhead p99, Apertium, speech off ({size})",
                "-",
                f"{p('apertium')} (p50 {p('apertium', 'p50')}, "
                f"p95 {p('apertium', 'p95')}, max {p('apertium', 'max')}; "
                f"{outcomes['apertium']['achieved']:,.0f} of "
                f"{outcomes['apertium']['offered']:,.0f} deliveries/s)",
                base,
            )
        )
    if "speech" in outcomes:
        o = outcomes["speech"]
        for which, who in (("same", f"{SPEAKER_LANG} listeners"), ("translated", "es/fr")):
            rows.append(
                Row(
                    "delivery",
                    f"delivery overhead p99 with speech on, {who} ({size})",
                    goal,
                    f"{p('speech', which=which)}{ratio('speech', which)} "
                    f"(p50 {p('speech', 'p50', which)}, max {p('speech', 'max', which)})",
                    relay_base,
                )
            )
        shed = sum(o["speech_codes"].values())
        rows.append(
            Row(
                "delivery",
                f"send -> first synthesized audio byte, es/fr ({size})",
                "-",
                f"p50 {p('speech', 'p50', 'audio')}, p99 {p('speech', 'p99', 'audio')}; spoken "
                f"{o['speech']['spoken']} / shed {shed} of {o['speech']['due']}",
                "-",
            )
        )
    for name in ("identity", "apertium", "speech"):
        if name in outcomes:
            base = loss("relay") + " (relay)" if "relay" in outcomes else "-"
            rows.append(
                Row("delivery", f"lost / duplicated deliveries, {name}", "0 / 0", loss(name), base)
            )
    for name in ("identity", "apertium", "speech"):
        if name in outcomes:
            server = outcomes[name]["server"]
            rows.append(
                Row(
                    "delivery",
                    f"server peak RSS (VmHWM), {name}",
                    f"<= {RSS_GOAL_MB} MB",
                    f"{server['hwm'] / 2**20:.0f} MB (with {server['children']} child "
                    f"processes, PSS: {server['peak_tree'] / 2**20:.0f} MB; client process "
                    f"{outcomes[name]['client_hwm'] / 2**20:.0f} MB)",
                    f"{server['idle_rss'] / 2**20:.0f} MB idle after start",
                )
            )
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
