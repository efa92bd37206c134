"""A real Chromium for the web client's tests, its microphone speaking espeak-ng sentences.

Debian's ``chromium`` is driven by Playwright for Python through
``executable_path`` (Playwright cannot download its own browsers here). Its
microphone is Chromium's fake capture device reading a WAV file
(``--use-file-for-fake-audio-capture``): English sentences from espeak-ng,
resampled to 48 kHz mono 16-bit, with silence before, between and after them,
so a page that records hears real speech with pauses the server's VAD can cut.
The file is fixed when the browser starts, so there is one browser per set of
sentences (:meth:`Chromium.browser`).

Playwright's async API runs on an event loop in a thread of its own
(:class:`Chromium`), shared by a test module: tests hand it coroutines with
:meth:`Chromium.run`, and the test's Python WebSocket clients run on the same
loop. Screenshots go to :data:`ARTIFACTS` (``tests/artifacts/<test>/``), kept
after the run so a person can look at them.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import wave
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright

from tests.support.service import ROOT
from tests.support.speech import ESPEAK_RATE, espeak, resample_int16

CHROMIUM = Path(os.environ.get("VOICEMODE_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "tests" / "artifacts"
MIC_RATE = 48000

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SIZES = {"desktop": DESKTOP, "phone": PHONE}

T = TypeVar("T")


@dataclass(frozen=True)
class Speech:
    """What the fake microphone says: sentences with silence around and between them."""

    sentences: tuple[str, ...]
    lead_s: float = 1.0
    gap_s: float = 1.5
    tail_s: float = 3.0
    voice: str = "en-us"
    loop: bool = False
    """Say it again and again (for a listener that may join late), not once."""

    def pcm(self) -> bytes:
        """The whole recording as 16-bit mono PCM at 48 kHz."""
        parts = [_silence(self.lead_s)]
        for index, sentence in enumerate(self.sentences):
            if index:
                parts.append(_silence(self.gap_s))
            parts.append(resample_int16(espeak(sentence, self.voice), ESPEAK_RATE, MIC_RATE))
        parts.append(_silence(self.tail_s))
        return b"".join(parts)

    def write(self, path: Path) -> Path:
        """Write the recording as a WAV file Chromium can capture from."""
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(MIC_RATE)
            out.writeframes(self.pcm())
        return path


SILENT = Speech((), lead_s=0.0, tail_s=1.0, loop=True)
"""A microphone that hears nothing (Chromium's own fake device would beep)."""


def _silence(seconds: float) -> bytes:
    return bytes(2 * round(seconds * MIC_RATE))


def launch_args(wav: Path, loop: bool = False) -> list[str]:
    """Chromium's flags: a fake microphone (reading ``wav``, once unless ``loop``), no prompts."""
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}{'' if loop else '%noloop'}",
        "--autoplay-policy=no-user-gesture-required",
    ]


class Chromium:
    """Playwright on an event loop thread of its own, with one browser per microphone recording.

    A test module shares it; :meth:`run` executes a test's coroutine on its
    loop and returns the result (or raises what it raised).
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._playwright: Playwright | None = None
        self._browsers: dict[Speech, Browser] = {}

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 180) -> T:
        """Run ``coroutine`` on the browser's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def browser(self, speech: Speech = SILENT) -> Browser:
        """A Chromium whose microphone says ``speech`` (silence by default)."""
        if self._playwright is None:
            self._playwright = await async_playwright().start()
        if speech not in self._browsers:
            wav = speech.write(self.workdir / f"mic-{len(self._browsers)}.wav")
            self._browsers[speech] = await self._playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=launch_args(wav, loop=speech.loop)
            )
        return self._browsers[speech]

    async def page(self, speech: Speech = SILENT, size: str = "desktop", **options: Any) -> Page:
        """A page in a fresh context (its own sessionStorage) at ``size`` (desktop or phone)."""
        browser = await self.browser(speech)
        context: BrowserContext = await browser.new_context(
            viewport=SIZES[size],  # type: ignore[arg-type]
            is_mobile=size == "phone",
            has_touch=size == "phone",
            **options,
        )
        return await context.new_page()

    async def _close(self) -> None:
        for browser in self._browsers.values():
            await browser.close()
        if self._playwright is not None:
            await self._playwright.stop()

    def close(self) -> None:
        """Close every browser and stop the loop."""
        try:
            self.run(self._close(), timeout=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)


@dataclass
class Screenshots:
    """Where a test's screenshots go: ``tests/artifacts/<test name>/<name>.png``."""

    folder: Path
    taken: list[Path] = field(default_factory=list)

    async def take(self, page: Page, name: str, full_page: bool = True) -> Path:
        """Save a screenshot of ``page``; the path is listed at the end of the session."""
        path = self.folder / f"{name}.png"
        await page.screenshot(path=str(path), full_page=full_page)
        self.taken.append(path)
        return path

    async def both_sizes(self, page: Page, name: str) -> list[Path]:
        """Screenshots of ``page`` at desktop and at phone size (same page, resized)."""
        paths = []
        original = page.viewport_size
        for size, viewport in SIZES.items():
            await page.set_viewport_size(viewport)  # type: ignore[arg-type]
            await page.wait_for_timeout(200)  # a layout pass at the new size
            paths.append(await self.take(page, f"{name}-{size}"))
        if original is not None:
            await page.set_viewport_size(original)
        return paths


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:120]


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    """A module's Chromium (browsers started on demand, one per recording)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium", pytrace=False)
    browser = Chromium(tmp_path_factory.mktemp("chromium"))
    yield browser
    browser.close()


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Screenshots:
    """A folder for this test's screenshots under ``tests/artifacts/``."""
    folder = ARTIFACTS / _safe(request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    shots = Screenshots(folder)
    TAKEN.append(shots)
    return shots


def sentences(*text: str) -> Speech:
    """The microphone recording of ``text``, one sentence after another."""
    return Speech(tuple(text))


TAKEN: list[Screenshots] = []
"""Every test's screenshots in this session, listed by the terminal summary (conftest)."""
