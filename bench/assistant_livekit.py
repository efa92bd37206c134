"""bench/assistant.py over LiveKit: a spoken question in a voice session -> the answer on tts-en.

Not a benchmark of its own (``bench/assistant.py`` runs it). One LiveKit server and
the agent process of ``bench/agent_child.py`` (voicemode with the embedded speech
engines, the agent worker, the in-process control plane), given the assistant: its
language model is the fake that ``bench/assistant.py`` runs in this process, and the
asker is seated in a voice session with ``assistant: true``. The asker is one rtc
client (``tests.support.rtc_people.Speaker``) that speaks each question on its
microphone, 20 ms frames in real time, and hears its answers on the agent's ``tts-en``
track (auto-subscribed, as a client does). End of speech: the frame holding the
question's last non-silent sample was pushed. Heard: the first loud 10 ms of audio on
the track after it (``rtc_load.Ear``). The next question comes once the answer
has had time to be heard: a quiet second on the track, and at least the answer's
length at the server's speaking rate since its first sound (else the server would
count the question as the asker speaking over the answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Sequence
from pathlib import Path

from agent_child import AGENT_NAME, AgentConfig, AgentProcess
from assistant import (
    ANSWER_LIMIT_S,
    LANGUAGE,
    RATE,
    SETTLE_S,
    WARMUP,
    Asked,
    Mouth,
    PathOutcome,
    ms,
)
from livekit import api
from livekit_rooms import BenchLiveKitServer, read_rooms
from rtc_load import ROOM_SETUP_TIMEOUT_S, Ear, frame

from actors.assistant.speaking_clock import DEFAULT_CHARS_PER_S, DEFAULT_DELAY_S
from adapters.shells.livekit_agent.speaking import track_name
from tests.support.rtc_people import FRAME_MS, Speaker
from tests.support.speech import silence

QUIET_S = 1.0
"""Quiet on the track after the answer's last sound before it counts as over."""
ROOM = "assistant-livekit"
ASKER = "asker"


def answer_over(ear: Ear, eos: float, answer: str) -> bool:
    """Whether the answer to a question that ended at ``eos`` has been heard to its end."""
    heard = [moment for moment in ear.loud_at if moment > eos]
    if not heard:
        return False
    now = time.monotonic()
    speaking_s = len(answer) / DEFAULT_CHARS_PER_S + DEFAULT_DELAY_S
    return now - heard[-1] >= QUIET_S and now - heard[0] >= speaking_s


def run_livekit(
    model_env: dict[str, str],
    questions: Sequence[tuple[str, str]],
    audio: dict[str, bytes],
    workdir: Path,
    seed: int,
) -> PathOutcome:
    """Ask every question over LiveKit; the figures of the ``livekit`` path."""
    outcome = PathOutcome("livekit")
    server = BenchLiveKitServer(workdir)
    server.start()
    try:
        asyncio.run(ask_over_livekit(server, model_env, questions, audio, workdir, seed, outcome))
    finally:
        server.stop()
    return outcome


async def ask_over_livekit(
    server: BenchLiveKitServer,
    model_env: dict[str, str],
    questions: Sequence[tuple[str, str]],
    audio: dict[str, bytes],
    workdir: Path,
    seed: int,
    outcome: PathOutcome,
) -> None:
    """Start the agent with the assistant, seat the asker, ask the warm-up and every question."""
    config = AgentConfig(
        server.url,
        server.api_key,
        server.api_secret,
        str(workdir / "livekit.db"),
        [(ROOM, ASKER, LANGUAGE)],
        assistant=model_env,
    )
    agent = await AgentProcess.start(config, workdir / "livekit-agent.log")
    outcome.notes.append(
        f"agent process ready after {agent.started_s:.1f} s (engines loaded in "
        f"{agent.ready.get('load_s', 0):.1f} s)"
    )
    speaker: Speaker | None = None
    spoken: list[tuple[Asked, float, float]] = []
    try:
        speaker = await Speaker.join(server, ROOM, ASKER)
        ear = Ear.on_room(speaker.room, track_name(LANGUAGE))
        async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as lkapi:
            await lkapi.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(agent_name=AGENT_NAME, room=ROOM)
            )
        try:
            await asyncio.wait_for(speaker.subscribed.wait(), ROOM_SETUP_TIMEOUT_S)
        except TimeoutError:
            outcome.notes.append("the agent did not listen to the asker's microphone")
            return
        source = speaker.source

        async def push(chunk: bytes) -> None:
            await source.capture_frame(frame(chunk))

        mouth = Mouth(push, (FRAME_MS, FRAME_MS), time.monotonic, seed)
        await mouth.send(silence(0.5, RATE))
        for index, (question, expected) in enumerate([WARMUP, *questions]):
            began = time.monotonic()
            eos = await mouth.send(audio[question])
            over = await mouth.quiet_until(
                functools.partial(answer_over, ear, eos, expected), ANSWER_LIMIT_S
            )
            await mouth.send(silence(SETTLE_S, RATE))
            asked = Asked(question, expected, timed_out=not over)
            heard = [moment for moment in ear.loud_at if moment > eos]
            if heard:
                asked.audio_ms = (heard[0] - eos) * 1000
            if index == 0:
                outcome.notes.append(
                    f"warm-up question: first loud audio after {ms(asked.audio_ms)}"
                    + ("" if ear.subscribed.is_set() else "; no tts-en track was published")
                )
                mouth.lag.clear()
                if asked.audio_ms is None:
                    outcome.notes.append(
                        "no answer heard: the questions were not asked (does the agent speak "
                        "the assistant's answers on tts-<lang> tracks yet?)"
                    )
                    break
                continue
            outcome.asked.append(asked)
            spoken.append((asked, began, eos))
            print(f"    {question!r}: first loud audio {ms(asked.audio_ms)}", flush=True)
        outcome.lag_ms = [lag * 1000 for lag in mouth.lag]
    finally:
        if speaker is not None:
            with contextlib.suppress(Exception):
                await speaker.room.disconnect()
        await agent.stop()
        outcome.log_problems = [
            line for line in agent.log().splitlines() if " WARNING " in line or " ERROR " in line
        ]
    add_recorded_steps(Path(config.db), spoken)
    outcome.notes.append(
        "final and sentence: when the agent's store recorded the question's transcript and the "
        "answer's first sentence; audio: its first loud sound on tts-en"
    )


def add_recorded_steps(db: Path, spoken: Sequence[tuple[Asked, float, float]]) -> None:
    """From the store: when the question's final and the answer's first sentence were recorded.

    Each spoken question (with when it began and ended) gets the last transcript
    recorded after it began that is none of its answer's sentences, before the
    first that is one.
    """
    recorded = read_rooms(db, [ROOM])[ROOM].finals
    for asked, began, eos in spoken:
        after = [(moment, text) for moment, _, text in recorded if moment >= began]
        sentence = next((moment for moment, text in after if text in asked.expected), None)
        finals = [
            moment
            for moment, text in after
            if text not in asked.expected and (sentence is None or moment <= sentence)
        ]
        if finals:
            asked.final_ms = (finals[-1] - eos) * 1000
        if sentence is not None:
            asked.sentence_ms = (sentence - eos) * 1000
