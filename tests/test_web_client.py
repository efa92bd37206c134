"""The web client in a real Chromium whose microphone speaks espeak-ng English.

Debian's Chromium, driven by Playwright (``tests/support/browser.py``), opens
the pages ``voicemode serve --dev`` serves and uses them as a person would:
through the controls' roles and accessible names (``tests/support/web_page.py``).
One speech-enabled serve (Silero VAD, faster-whisper tiny.en, Apertium,
espeak-ng; the assistant on :class:`~tests.support.vendor_fakes.FakeOpenAI`)
and one Playwright are shared by the module; each test has its own room.
Screenshots of every page at desktop and phone size are saved under
``tests/artifacts/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.async_api import Page, expect

from tests.support.browser import (
    MIC_RATE,
    SILENT,
    Chromium,
    Screenshots,
    Speech,
    chromium,
    screenshots,
    sentences,
)
from tests.support.service import ServedInstance
from tests.support.vendor_fakes import FakeOpenAI, Paced
from tests.support.web_page import (
    PROBES,
    assistant,
    audio_energy,
    captions,
    eventually,
    join,
    message_ids,
    messages,
    probes,
    status,
)
from tests.test_assistant_ws import (
    ANSWERS,
    FRANCE,
    FRANCE_ANSWER,
    MODEL,
    OPENAI_KEY,
    AnswerBook,
    llm_env,
)
from tests.test_voice import close_all, encoded, say, start_speech, stop_speech, stream
from tests.test_voice import member as ws_member
from tests.test_voice_sessions import events_named

__all__ = ["chromium", "screenshots"]  # fixtures, imported to be found by pytest

pytestmark = pytest.mark.slow

WEATHER = "The weather today is sunny with a light breeze from the west."
REPORT = "Please send me the report before the meeting on Friday."
SPANISH_WEATHER = {"tiempo", "soleado", "hoy", "oeste", "brisa"}
"""Words Apertium's Spanish for WEATHER contains (any two will do: tiny.en may mishear one,
as it hears "weather" as "whether" at times)."""

RECORDER_PAGE = """<!doctype html><title>microphone</title><script>
window.recorded = (async () => {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const recorder = new MediaRecorder(stream, { mimeType: 'audio/webm;codecs=opus' });
  const sizes = [];
  recorder.ondataavailable = (chunk) => sizes.push(chunk.data.size);
  recorder.start(250);
  await new Promise((done) => setTimeout(done, RECORD_MS));
  recorder.stop();
  await new Promise((done) => (recorder.onstop = done));
  return { mimeType: recorder.mimeType, sizes };
})();
</script>"""


def test_the_fake_microphone_speaks_the_sentences_to_getusermedia_and_mediarecorder(
    chromium: Chromium,
) -> None:
    """The fixture's premise: a page's microphone says the WAV, once, with its pauses."""
    speech = Speech(("Good morning.", "Thank you."), lead_s=0.5, tail_s=1.0)
    seconds = len(speech.pcm()) / 2 / MIC_RATE
    spoken_s = seconds - speech.lead_s - speech.tail_s  # and espeak-ng's own edge silence
    recorder = RECORDER_PAGE.replace("RECORD_MS", str(round((seconds - 0.3) * 1000)))

    async def scenario() -> None:
        page: Page = await chromium.page(speech)
        await page.add_init_script(PROBES)
        await page.route(
            "http://localhost/microphone",
            lambda route: route.fulfill(body=recorder, content_type="text/html"),
        )
        await page.goto("http://localhost/microphone")  # a secure context: localhost
        recorded = await page.evaluate("window.recorded")
        assert recorded["mimeType"].startswith("audio/webm"), recorded
        loud = await eventually(lambda: probes(page), what="the probe")
        ends = loud.speech_ends()
        assert len(ends) == 2, f"two sentences heard, not {len(ends)}: {loud.loud[:3]}"
        spoken_ms = ends[-1] - loud.loud[0]
        assert spoken_s * 1000 - 500 < spoken_ms < spoken_s * 1000, (spoken_ms, spoken_s)
        # Opus pages of speech are far larger than those of silence, which ends the recording.
        sizes = recorded["sizes"]
        assert max(sizes) > 10 * sizes[-1], sizes
        await page.context.close()

    chromium.run(scenario())


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[FakeOpenAI]:
    """The assistant's language model: answers by a word of the question."""
    with FakeOpenAI(OPENAI_KEY, models={MODEL}) as vendor:
        vendor.chat_replies = AnswerBook(ANSWERS)
        yield vendor


@pytest.fixture(scope="module")
def served(
    fake_openai: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServedInstance]:
    """``voicemode serve --dev`` with speech and the assistant, serving the built page."""
    instance = ServedInstance(
        db=str(tmp_path_factory.mktemp("web") / "voicemode.db"),
        env={"VOICEMODE_SPEECH": "on", **llm_env(fake_openai)},
        args=("--dev",),
    )
    instance.start()
    yield instance
    instance.stop()


def base_url(served: ServedInstance) -> str:
    return f"http://127.0.0.1:{served.http_port}"


async def opened(chromium: Chromium, speech: Speech = SILENT, size: str = "desktop") -> Page:
    """A fresh page (its own session) with the probes installed."""
    page = await chromium.page(speech, size)
    await page.add_init_script(PROBES)
    return page


def spanish(text: str) -> bool:
    return len(SPANISH_WEATHER & set(re.findall(r"[a-záéíóúñ]+", text.lower()))) >= 2


def test_english_speech_over_the_websocket_is_captioned_translated_and_heard_in_spanish(
    chromium: Chromium, served: ServedInstance, screenshots: Screenshots
) -> None:
    room = "web-speech"
    base = base_url(served)

    async def scenario() -> None:
        listener = await opened(chromium)
        speaker = await opened(chromium, sentences(WEATHER))
        await speaker.goto(f"{base}/room/{room}")
        await screenshots.both_sizes(speaker, "join")
        await join(listener, base, room, "Lucía", "es")
        await join(speaker, base, room, "Sam", "en")
        await expect(listener.get_by_role("list", name="Participants")).to_contain_text("Sam")

        await speaker.get_by_role("button", name="Start speaking").click()
        await expect(captions(listener).locator("[data-id]")).not_to_have_count(0, timeout=30_000)
        await screenshots.take(listener, "conversation-captions-listener")
        await expect(messages(listener)).to_have_count(1, timeout=30_000)
        text = await messages(listener).first.inner_text()
        assert spanish(text), text
        english = set(re.findall(r"[a-z]+", text.lower()))
        assert len(english & {"today", "sunny", "light", "breeze", "west"}) >= 2, (
            f"the original is shown too: {text}"
        )
        await eventually(lambda: audio_energy(listener), 30, "the Spanish speech to be played")
        await speaker.get_by_role("button", name="Stop speaking").click()
        await expect(speaker.get_by_role("button", name="Start speaking")).to_be_enabled()

        for page in (speaker, listener):
            seen = await probes(page)
            assert seen.captions, "a caption was rendered while speaking"
        await expect(messages(speaker)).to_have_count(1)
        await screenshots.both_sizes(speaker, "conversation-speaker")
        await screenshots.both_sizes(listener, "conversation-listener")
        for page in (speaker, listener):
            await page.context.close()

    chromium.run(scenario())


def test_assistant_buttons_send_commands_and_an_answer_streams_into_the_assistant_region(
    chromium: Chromium,
    served: ServedInstance,
    fake_openai: FakeOpenAI,
    screenshots: Screenshots,
) -> None:
    room = "web-assistant"
    fake_openai.script(Paced(first_text_s=0.3, interval_s=0.15))

    async def scenario() -> None:
        page = await opened(chromium)
        await join(page, base_url(served), room, "Ada", "en")
        await page.get_by_role("checkbox", name="Assistant mode").check()
        await page.get_by_role("button", name="Help").click()
        await expect(assistant(page)).to_contain_text("clear: forget the conversation")
        helped = await assistant(page).locator("[data-answer-id]").get_attribute("data-answer-id")
        await page.get_by_role("button", name="Clear context").click()
        await expect(assistant(page)).to_contain_text("context was cleared")
        await page.get_by_role("textbox", name="Ask the assistant").fill(FRANCE)
        await page.get_by_role("button", name="Ask").click()
        # The question's own answer: the first one the region shows after Help's.
        answer = assistant(page).locator(f"[data-answer-id]:not([data-answer-id='{helped}'])")
        shown: list[str] = []
        while await answer.get_attribute("data-done") != "true":
            shown.append(await answer.locator(".answer-text").inner_text())
            await page.wait_for_timeout(50)
        await expect(assistant(page)).to_contain_text(FRANCE_ANSWER)
        partial = [text for text in shown if text and len(text) < len(FRANCE_ANSWER)]
        assert partial, f"the answer streamed in pieces: {shown[-3:]}"
        assert all(FRANCE_ANSWER.startswith(text.rstrip()) for text in partial), partial
        await screenshots.both_sizes(page, "conversation-assistant")
        await page.context.close()

    chromium.run(scenario())
    intents = [event["intent"] for event in events_named(served, room, "CommandRecognized")]
    assert intents == ["help", "clear_context"], intents


def test_a_page_that_goes_offline_reconnects_and_shows_every_message_once(
    chromium: Chromium, served: ServedInstance, screenshots: Screenshots
) -> None:
    room = "web-reconnect"
    base = base_url(served)

    async def scenario() -> None:
        writer = await opened(chromium)
        reader = await opened(chromium, size="phone")
        await join(writer, base, room, "Wes", "en")
        await join(reader, base, room, "Rita", "es")

        async def type_message(text: str) -> None:
            box = writer.get_by_role("textbox", name="Type a message")
            await box.fill(text)
            await box.press("Enter")
            await expect(box).to_have_value("")  # sent: the page cleared it

        await type_message("Good morning to everyone.")
        await expect(messages(reader)).to_have_count(1, timeout=15_000)
        await reader.context.set_offline(True)
        await expect(status(reader)).to_have_attribute(
            "data-state", re.compile("reconnecting|offline"), timeout=15_000
        )
        await expect(status(reader)).to_have_text(re.compile("Reconnecting|Offline"))
        await screenshots.take(reader, "conversation-reconnecting-phone")
        for text in ("The train is late.", "We start at ten.", "Bring the slides."):
            await type_message(text)
        await expect(messages(writer)).to_have_count(4, timeout=15_000)
        await reader.wait_for_timeout(500)
        assert await messages(reader).count() == 1, "nothing reaches a page that is offline"
        await reader.context.set_offline(False)
        await expect(status(reader)).to_have_attribute("data-state", "connected", timeout=30_000)
        await type_message("Welcome back.")
        await expect(messages(reader)).to_have_count(5, timeout=15_000)
        await reader.wait_for_timeout(1500)  # a late duplicate would show by now
        ids = await message_ids(reader)
        assert len(ids) == len(set(ids)) == 5, ids
        assert ids == await message_ids(writer), "the same messages in the same order"
        await screenshots.take(reader, "conversation-reconnected-phone")
        for page in (writer, reader):
            await page.context.close()

    chromium.run(scenario())


def test_the_timeline_shows_a_recorded_room_with_its_waterfall_and_state_at_a_position(
    chromium: Chromium, served: ServedInstance, screenshots: Screenshots
) -> None:
    room = "web-timeline"
    speech = say([WEATHER], 16000)

    async def scenario() -> None:
        page = await opened(chromium)
        await join(page, base_url(served), room, "Tom", "es")
        speaker = await ws_member(served, "sam", "en", room)
        try:
            await start_speech(speaker)
            await stream(speaker, encoded(speech, "LINEAR16", 20), 0.02)
            await stop_speech(speaker)
            await expect(messages(page)).to_have_count(1, timeout=30_000)
        finally:
            await close_all(speaker)

        await page.get_by_role("link", name="Timeline").click()
        events = page.get_by_role("table", name="Events")
        await expect(events.get_by_role("row")).not_to_have_count(0, timeout=15_000)
        waterfall = page.get_by_role("list", name="Utterances").get_by_role(
            "figure", name="Latency waterfall"
        )
        await expect(waterfall).to_have_count(1, timeout=15_000)
        bars = await waterfall.locator("[aria-label]").evaluate_all(
            "bars => bars.map(bar => bar.getAttribute('aria-label'))"
        )
        # "decode 552 ms", "translation es 6 ms", "delivery es websocket 19 ms"...
        steps = {label.split()[0] for label in bars if re.fullmatch(r"\w+( \w+)* \d+ ms", label)}
        assert {"decode", "translation", "synthesis", "delivery"} <= steps, bars
        await screenshots.both_sizes(page, "timeline")

        state = page.get_by_role("region", name="State at position")
        latest = await state.inner_text()
        slider = page.get_by_role("slider", name="Position")
        await slider.focus()
        await slider.press("Home")
        await expect(state).not_to_have_text(latest, timeout=10_000)
        await screenshots.take(page, "timeline-at-start-desktop")
        await page.context.close()

    chromium.run(scenario())
