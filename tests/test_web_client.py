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

import pytest
from playwright.async_api import Page

from tests.support.browser import Chromium, chromium, sentences
from tests.support.web_page import PROBES, eventually, probes

__all__ = ["chromium"]  # the fixture, imported to be found by pytest

pytestmark = pytest.mark.slow

WEATHER = "The weather today is sunny with a light breeze from the west."
REPORT = "Please send me the report before the meeting on Friday."

RECORDER_PAGE = """<!doctype html><title>microphone</title><script>
window.recorded = (async () => {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const recorder = new MediaRecorder(stream, { mimeType: 'audio/webm;codecs=opus' });
  const sizes = [];
  recorder.ondataavailable = (chunk) => sizes.push(chunk.data.size);
  recorder.start(250);
  await new Promise((done) => setTimeout(done, 9500));
  recorder.stop();
  await new Promise((done) => (recorder.onstop = done));
  return { mimeType: recorder.mimeType, sizes };
})();
</script>"""


def test_the_fake_microphone_speaks_the_sentences_to_getusermedia_and_mediarecorder(
    chromium: Chromium,
) -> None:
    """The fixture's premise: a page's microphone says the WAV, once, with its pauses."""
    speech = sentences(WEATHER, REPORT)

    async def scenario() -> None:
        page: Page = await chromium.page(speech)
        await page.add_init_script(PROBES)
        await page.route(
            "http://localhost/microphone",
            lambda route: route.fulfill(body=RECORDER_PAGE, content_type="text/html"),
        )
        await page.goto("http://localhost/microphone")  # a secure context: localhost
        recorded = await page.evaluate("window.recorded")
        assert recorded["mimeType"].startswith("audio/webm"), recorded
        loud = await eventually(lambda: probes(page), what="the probe")
        ends = loud.speech_ends()
        assert len(ends) == 2, f"two sentences heard, not {len(ends)}: {loud.loud[:3]}"
        spoken_ms = ends[-1] - loud.loud[0]  # two sentences of about 3 s, 1.5 s apart
        assert 6500 < spoken_ms < 8500, spoken_ms
        # Opus pages of speech are far larger than those of silence, which ends the recording.
        sizes = recorded["sizes"]
        assert max(sizes) > 10 * sizes[-1], sizes
        await page.context.close()

    chromium.run(scenario())
