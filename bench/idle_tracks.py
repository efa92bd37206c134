"""What an idle LiveKit audio track costs a process: the floor under an idle room's CPU.

The ten-rooms issue asks for an idle room (everyone connected, nobody
speaking) at 3 % of a core or less. The agent of a room holds one published
``tts-<lang>`` track per language heard there and one subscribed microphone per
speaker. This bench measures what LiveKit's Rust SDK charges for each of them
while nothing is said, in a process doing nothing else:

* ``connected``: a livekit.rtc client in the room, no tracks (the baseline the
  others are counted against);
* ``queued``: ``--tracks`` published tracks on AudioSources with LiveKit's queue
  at the agent's ``tts-<lang>`` rate (the default, and what the agent uses):
  the SDK then hands WebRTC a 10 ms frame of silence every 10 ms, which is
  encoded (the webrtc-sys source:
  "Always provide a 10ms frame to avoid playout underruns");
* ``queue-less``: the same tracks with ``queue_size_ms=0``: nothing captured,
  nothing encoded; the agent does not use it because the track's RTP clock then
  stops and the listener plays the next speech later (README, issue 13);
* ``hearing``: ``--tracks`` subscribed microphones of another participant
  (queued, idle, as a connected person's is), each read as the agent's
  listeners read them: an ``AudioStream`` of 50 ms frames at 16 kHz woken only
  by its own track's frames (``livekit_agent.streams``).

Each case runs in a child process of its own (``--child``), measured from
/proc over ``--window`` seconds after it settled; the cases alternate over
``--rounds`` rounds, and the figure per track is the case's CPU minus the
``connected`` baseline of the same round, divided by the tracks.

    .venv/bin/python bench/idle_tracks.py
    .venv/bin/python bench/idle_tracks.py --tracks 6 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common
from livekit import rtc
from livekit_rooms import BenchLiveKitServer

from adapters.engines.audio import SAMPLE_RATE
from adapters.shells.livekit_agent.agent import AgentSettings
from adapters.shells.livekit_agent.listening import FRAME_MS
from adapters.shells.livekit_agent.streams import own_audio_stream
from tests.support.rtc_people import token

CASES = ("connected", "queued", "queue-less", "hearing")
TTS_RATE = AgentSettings().tts_sample_rate
ROOM = "idle-tracks"
ROOM_GOAL = 0.03
"""The ten-rooms issue's goal for a whole idle room, as a share of a core."""
TTS_TRACKS = 3
"""tts tracks of a bench room: its English speaker and its Spanish and Catalan listeners."""


async def publish_idle(room: rtc.Room, tracks: int, queue_size_ms: int) -> list[rtc.AudioSource]:
    """Publish ``tracks`` audio tracks nobody captures anything into."""
    sources = []
    for index in range(tracks):
        source = rtc.AudioSource(TTS_RATE, 1, queue_size_ms=queue_size_ms)
        track = rtc.LocalAudioTrack.create_audio_track(f"idle-{index}", source)
        await room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
        sources.append(source)
    return sources


async def hear_all(room: rtc.Room, tracks: int) -> None:
    """Subscribe to ``tracks`` remote tracks and read each through an AudioStream, forever."""
    streams: list[asyncio.Task[None]] = []
    heard = asyncio.Event()

    async def read(track: rtc.Track) -> None:
        async for _ in own_audio_stream(track, SAMPLE_RATE, FRAME_MS):
            pass

    def subscribed(track: rtc.Track, *_: object) -> None:
        streams.append(asyncio.create_task(read(track)))
        if len(streams) == tracks:
            heard.set()

    room.on("track_subscribed", subscribed)
    await asyncio.wait_for(heard.wait(), 30)


async def child(case: str, url: str, access_token: str, tracks: int) -> None:
    """One case: connect, set up, say ``ready``, then idle until stdin closes."""
    room = rtc.Room()
    await room.connect(url, access_token, rtc.RoomOptions(auto_subscribe=case == "hearing"))
    kept: object = None
    if case == "queued":
        kept = await publish_idle(room, tracks, queue_size_ms=1000)
    elif case == "queue-less":
        kept = await publish_idle(room, tracks, queue_size_ms=0)
    elif case == "hearing":
        await hear_all(room, tracks)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    del kept
    await room.disconnect()


def spawn(case: str, url: str, access_token: str, tracks: int) -> subprocess.Popen[str]:
    """Start a child running ``case`` and wait until it is set up."""
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", case, url, access_token, str(tracks)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if line != "ready":
        process.kill()
        raise SystemExit(f"{case}: the child did not get ready (said {line!r})")
    return process


def stop(process: subprocess.Popen[str]) -> None:
    """Close the child's stdin and wait for it to leave the room."""
    assert process.stdin is not None
    process.stdin.close()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def measure(process: subprocess.Popen[str], settle_s: float, window_s: float) -> float:
    """The child's CPU over ``window_s`` after ``settle_s``, as a share of one core."""
    time.sleep(settle_s)
    before, started = common.tree_cpu_seconds(process.pid), time.monotonic()
    time.sleep(window_s)
    return (common.tree_cpu_seconds(process.pid) - before) / (time.monotonic() - started)


def run_case(server: BenchLiveKitServer, case: str, round_: int, args: argparse.Namespace) -> float:
    """One case in one round; ``hearing`` also starts the idle speaker it hears."""
    identity = f"{case}-{round_}"
    speaker = None
    if case == "hearing":
        speaker = spawn("queued", server.url, token(server, f"speaker-{round_}", ROOM), args.tracks)
    process = spawn(case, server.url, token(server, identity, ROOM), args.tracks)
    try:
        return measure(process, args.settle, args.window)
    finally:
        stop(process)
        if speaker is not None:
            stop(speaker)


def percent(share: float) -> str:
    """A share of a core as a percentage for the results table."""
    return common.num(100 * share, ".2f", " %")


def report(cpu: dict[str, list[float]], tracks: int, verdicts: common.Verdicts) -> list[common.Row]:
    """Print each case's CPU, the cost per track over ``connected``, and the idle-room floor."""
    mean = {case: statistics.mean(values) for case, values in cpu.items()}
    per_track = {case: (mean[case] - mean["connected"]) / tracks for case in CASES}
    print(f"{'case':<12} {'process CPU, % of a core (rounds)':<36} per track over connected")
    for case in CASES:
        rounds = " ".join(common.num(100 * value, ".1f") for value in cpu[case])
        extra = "" if case == "connected" else common.num(100 * per_track[case], ".2f", " %")
        print(f"{case:<12} {common.num(100 * mean[case], '.1f'):>6} ({rounds}){'':<10} {extra}")
    published = TTS_TRACKS * per_track["queued"] + per_track["hearing"]
    asleep = per_track["hearing"]
    print(
        f"an idle room's floor in the agent: {percent(published)} of a core with its "
        f"{TTS_TRACKS} tts tracks published, {percent(asleep)} with them asleep (its 1 heard "
        f"microphone); goal for the whole room {percent(ROOM_GOAL)}"
    )
    for case in CASES:
        verdicts.finite(f"{case} CPU", mean[case])
    verdicts.goal(
        "an idle room's floor in the agent, tracks asleep (1 heard microphone)",
        asleep <= ROOM_GOAL,
        f"{percent(asleep)} of a core (goal for the whole room <= {percent(ROOM_GOAL)}; "
        f"with its {TTS_TRACKS} tracks published: {percent(published)})",
    )
    return [
        common.Row(
            "idle_tracks",
            f"CPU per idle published track with LiveKit's queue ({tracks} tracks)",
            "-",
            percent(per_track["queued"]),
            f"queue-less: {percent(per_track['queue-less'])}",
        ),
        common.Row(
            "idle_tracks",
            "CPU per idle heard microphone (the agent's 50 ms, 16 kHz stream)",
            "-",
            percent(per_track["hearing"]),
            f"connected, no tracks: {percent(mean['connected'])} for the process",
        ),
    ]


def main() -> int:
    """Run every case ``--rounds`` times, alternating, and print the cost per idle track."""
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        case, url, access_token, tracks = sys.argv[2:6]
        asyncio.run(child(case, url, access_token, int(tracks)))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, default=4, help="tracks per case")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over every case")
    parser.add_argument("--window", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds before measuring")
    common.add_smoke_flag(parser, "1 track, 1 round, 2 s windows")
    parser.add_argument("--results", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smoke:
        args.tracks, args.rounds, args.window, args.settle = 1, 1, 2.0, 1.0
    common.heading("Idle LiveKit audio tracks: CPU per track while nothing is said")
    print(common.machine_note("each case runs alone in its own process"))
    with tempfile.TemporaryDirectory(prefix="idle-tracks-") as workdir:
        server = BenchLiveKitServer(Path(workdir))
        server.start()
        try:
            cpu: dict[str, list[float]] = {case: [] for case in CASES}
            for round_ in range(args.rounds):
                for case in CASES if round_ % 2 == 0 else reversed(CASES):
                    cpu[case].append(run_case(server, case, round_, args))
        finally:
            server.stop()
    verdicts = common.Verdicts("idle_tracks")
    rows = report(cpu, args.tracks, verdicts)
    common.write_results(
        args.results, rows, {"goals": verdicts.goals, "failures": verdicts.failures}
    )
    return verdicts.finish()


if __name__ == "__main__":
    raise SystemExit(main())
