"""The web client's voice session over a real LiveKit server, in a real Chromium.

``voicemode serve --dev`` (speech on) with LiveKit configured, a
``voicemode agent`` worker process (faster-whisper, Apertium, espeak-ng), and
two pages in one Chromium: an English speaker whose microphone repeats an
espeak-ng sentence and a Spanish listener. Both start a voice session from the
page; livekit-client publishes the speaker's microphone, the agent transcribes
and translates it and speaks it on ``tts-es``, which the listener's page
plays: its ``getStats`` inbound-rtp ``totalAudioEnergy`` is exposed as
``window.__voicemode.livekitAudioEnergy``. Run it under
``flock /tmp/livekit.lock`` on a shared machine.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest
from livekit import rtc
from playwright.async_api import Page, expect

from tests.support.agent_worker import AgentWorker
from tests.support.browser import Chromium, Screenshots, Speech, chromium, screenshots
from tests.support.livekit_server import LiveKitServer, livekit_server
from tests.support.service import ServedInstance
from tests.support.web_page import PROBES, audio_energy, eventually, join, messages
from tests.test_voice_sessions import events_named, livekit_env, livekit_participants
from tests.test_web_client import WEATHER, base_url, spanish

__all__ = ["chromium", "livekit_server", "screenshots"]  # fixtures, imported to be found

pytestmark = pytest.mark.slow

T = TypeVar("T")

REPEATED = Speech((WEATHER,), lead_s=2.0, tail_s=2.5, loop=True)
"""The speaker says the sentence every few seconds: the agent hears it whenever it listens."""


@pytest.fixture(scope="module")
def served(
    livekit_server: LiveKitServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServedInstance]:
    """``serve --dev`` with speech and LiveKit, and an agent worker for its rooms."""
    folder = tmp_path_factory.mktemp("web-livekit")
    instance = ServedInstance(
        db=str(folder / "voicemode.db"),
        http_port=livekit_server.webhook_port,
        env={"VOICEMODE_SPEECH": "on", **livekit_env(livekit_server)},
        args=("--dev",),
    )
    instance.start()
    # Tracks sleep after 3 s of quiet here, so a test can see the page follow them.
    worker = AgentWorker(
        instance, livekit_server, Path(folder) / "agent.log", args=("--voice-sleep", "3")
    )
    try:
        worker.start()
        yield instance
    finally:
        instance.stop()  # first: without serve the agent leaves its rooms, and drains at once
        worker.stop()


async def agent_tracks(server: LiveKitServer, room: str) -> set[str]:
    """The names of the tracks the agents in a LiveKit room publish."""
    return {
        track.name
        for participant in await livekit_participants(server, room)
        if participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
        for track in participant.tracks
    }


async def holds(value: Awaitable[T], condition: Callable[[T], bool]) -> bool:
    """Whether ``condition`` holds of ``value`` once awaited (for polling)."""
    return condition(await value)


async def in_voice_session(page: Page) -> None:
    """Start the page's voice session and wait until LiveKit connected."""
    await page.get_by_role("button", name="Start voice session").click()
    await expect(page.get_by_role("button", name="End voice session")).to_be_visible(timeout=30_000)
    connected = page.get_by_text("LiveKit: connected").or_(page.get_by_text("microphone on"))
    await expect(connected).to_be_visible(timeout=30_000)


def test_a_voice_session_in_the_browser_is_heard_in_spanish_on_the_listeners_tts_track(
    chromium: Chromium,
    served: ServedInstance,
    livekit_server: LiveKitServer,
    screenshots: Screenshots,
) -> None:
    room = "web-livekit"
    base = base_url(served)

    async def scenario() -> None:
        listener = await chromium.page()
        speaker = await chromium.page(REPEATED)
        for page in (listener, speaker):
            await page.add_init_script(PROBES)
        await join(listener, base, room, "Lucía", "es")
        await join(speaker, base, room, "Sam", "en")
        await in_voice_session(listener)
        await in_voice_session(speaker)
        await expect(messages(listener).first).to_be_visible(timeout=60_000)
        text = await messages(listener).first.inner_text()
        assert spanish(text), text
        energy = await eventually(
            lambda: audio_energy(listener, "livekitAudioEnergy"), 60, "tts-es to be heard"
        )
        assert energy > 0
        await screenshots.both_sizes(speaker, "voice-session-speaker")
        await screenshots.both_sizes(listener, "voice-session-listener")

        # The speaker goes quiet: the agent gives tts-es up, and publishes it again
        # when they speak; the listener's page follows it and hears the next sentence.
        await speaker.get_by_role("button", name="End voice session").click()
        await expect(speaker.get_by_role("button", name="Start voice session")).to_be_visible()
        published = partial(agent_tracks, livekit_server, room)
        await eventually(
            lambda: holds(published(), lambda names: "tts-es" not in names), 30, "a nap"
        )
        before = await audio_energy(listener, "livekitAudioEnergy")
        await in_voice_session(speaker)
        await eventually(lambda: holds(published(), lambda names: "tts-es" in names), 60, "awake")
        await eventually(
            lambda: holds(audio_energy(listener, "livekitAudioEnergy"), lambda e: e > before),
            60,
            "the woken tts-es to be heard",
        )
        for page in (speaker, listener):
            await page.get_by_role("button", name="End voice session").click()
            await expect(page.get_by_role("button", name="Start voice session")).to_be_visible()
            await page.context.close()

    chromium.run(scenario(), timeout=240)


def test_the_owner_mutes_and_unmutes_someone_in_a_voice_session_from_the_page(
    chromium: Chromium, served: ServedInstance, screenshots: Screenshots
) -> None:
    room = "web-livekit-mute"
    base = base_url(served)

    async def scenario() -> None:
        owner = await chromium.page()
        speaker = await chromium.page(REPEATED)
        await join(owner, base, room, "Olga", "en")
        await join(speaker, base, room, "Sam", "en")
        await in_voice_session(speaker)
        await expect(speaker.get_by_text("microphone on")).to_be_visible(timeout=30_000)
        # Only someone in a voice session can be muted; the speaker manages nothing here.
        await expect(speaker.get_by_role("button", name="Mute Olga")).to_have_count(0)
        await owner.get_by_role("button", name="Mute Sam").click()
        people = speaker.get_by_role("list", name="Participants")
        await expect(people).to_contain_text("muted by Olga", timeout=15_000)
        await expect(speaker.get_by_text("microphone muted by Olga")).to_be_visible()
        await expect(owner.get_by_role("button", name="Unmute Sam")).to_be_visible()
        await expect(owner.get_by_role("list", name="Room activity")).to_contain_text(
            "You muted Sam"
        )
        await screenshots.both_sizes(owner, "owner-muted-someone")
        await screenshots.both_sizes(speaker, "muted-by-owner")
        await owner.get_by_role("button", name="Unmute Sam").click()
        await expect(people).not_to_contain_text("muted by", timeout=15_000)
        await expect(owner.get_by_role("button", name="Mute Sam")).to_be_visible()
        await speaker.get_by_role("button", name="End voice session").click()
        await expect(owner.get_by_role("button", name="Mute Sam")).to_have_count(0)
        for page in (owner, speaker):
            await page.context.close()

    chromium.run(scenario(), timeout=240)
    muted = [event["muted"] for event in events_named(served, room, "TrackMuteChanged")]
    assert muted == [True, False], muted
