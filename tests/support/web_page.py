"""The web client's pages as a person uses them: found by role and accessible name.

The names are the ones ``notes/web_contract.md`` fixes for the page (the join
form, the conversation page, the timeline). Besides the helpers that click and
read, :data:`PROBES` is a script installed in every page before it loads
(``add_init_script``) that notes, in wall-clock milliseconds
(``performance.timeOrigin + performance.now()``, comparable across pages and
with Python's ``time.time()``):

- ``frames``: when the first WebSocket frame of each event arrived;
  ``messages``: every ``translated-message`` (its id, when it arrived);
  ``partials``: the first ``partial-speech`` frame of each utterance id;
- ``loud``: the end of each 256-sample block of the microphone that was loud
  (the page's own ``getUserMedia`` stream, tapped), so the end of each spoken
  sentence is known as the page's microphone heard it;
- ``seen``: when each item of the "Messages" list (by ``data-id``) first
  appeared, and ``captions``: when each caption (by ``data-id``, an utterance)
  first appeared in the "Live captions" region (its placeholder has none).

The tests and ``bench/web_client.py`` read them with :func:`probes`.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from playwright.async_api import Locator, Page, expect

PROBES = r"""
(() => {
  const now = () => performance.timeOrigin + performance.now();
  const probe = { frames: {}, messages: [], partials: {}, loud: [], seen: {}, captions: {} };
  window.__probe = probe;
  const Native = window.WebSocket;
  class Probed extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (message) => {
        if (typeof message.data !== 'string') return;
        let frame;
        try { frame = JSON.parse(message.data); } catch { return; }
        const t = now();
        if (!(frame.event in probe.frames)) probe.frames[frame.event] = t;
        if (frame.event === 'translated-message' && frame.data) {
          probe.messages.push({ id: frame.data.id, t });
        }
        if (frame.event === 'partial-speech' && frame.data && !(frame.data.id in probe.partials)) {
          probe.partials[frame.data.id] = t;
        }
      });
    }
  }
  window.WebSocket = Probed;
  const devices = navigator.mediaDevices;
  if (devices && devices.getUserMedia) {
    const getUserMedia = devices.getUserMedia.bind(devices);
    devices.getUserMedia = async (constraints) => {
      const stream = await getUserMedia(constraints);
      if (stream.getAudioTracks().length) {
        const context = new AudioContext();
        const source = context.createMediaStreamSource(stream);
        const tap = context.createScriptProcessor(256, 1, 1);
        tap.onaudioprocess = (block) => {
          const samples = block.inputBuffer.getChannelData(0);
          let peak = 0;
          for (const sample of samples) peak = Math.max(peak, Math.abs(sample));
          if (peak > 0.01) probe.loud.push(now());
        };
        source.connect(tap);
        tap.connect(context.destination);
        probe.tap = tap;
      }
      return stream;
    };
  }
  const watch = () => {
    new MutationObserver(() => {
      for (const element of document.querySelectorAll('[aria-label="Messages"] [data-id]')) {
        const id = element.getAttribute('data-id');
        if (!(id in probe.seen)) probe.seen[id] = now();
      }
      for (const caption of document.querySelectorAll('[aria-label="Live captions"] [data-id]')) {
        const id = caption.getAttribute('data-id');
        if (!(id in probe.captions) && caption.textContent.trim()) probe.captions[id] = now();
      }
    }).observe(document.documentElement, { subtree: true, childList: true, characterData: true });
  };
  if (document.documentElement) watch();
  else document.addEventListener('DOMContentLoaded', watch);
})();
"""


@dataclass(frozen=True)
class Probes:
    """What :data:`PROBES` noted in one page (wall-clock milliseconds)."""

    frames: dict[str, float]
    messages: list[dict[str, Any]]
    partials: dict[str, float]
    loud: list[float]
    seen: dict[str, float]
    captions: dict[str, float]

    def speech_starts(self, gap_ms: float = 700) -> list[float]:
        """The start of each stretch of loud microphone audio after ``gap_ms`` of quiet."""
        return [
            following
            for previous, following in zip([-math.inf, *self.loud], self.loud, strict=False)
            if following - previous > gap_ms
        ]

    def speech_ends(self, gap_ms: float = 700) -> list[float]:
        """The end of each stretch of loud microphone audio followed by ``gap_ms`` of quiet."""
        return [
            previous
            for previous, following in zip(self.loud, [*self.loud[1:], math.inf], strict=False)
            if following - previous > gap_ms
        ]


async def probes(page: Page) -> Probes:
    """Read :data:`PROBES`' notes from ``page``."""
    raw: dict[str, Any] = await page.evaluate("window.__probe")
    return Probes(
        raw["frames"], raw["messages"], raw["partials"], raw["loud"], raw["seen"], raw["captions"]
    )


def wall_ms() -> float:
    """Now, on the clock :data:`PROBES` uses."""
    return time.time() * 1000


# --- the join page ---------------------------------------------------------------------


async def join(page: Page, base_url: str, room: str, name: str, language: str) -> None:
    """Open the room's link, sign in with ``name`` hearing ``language`` and wait to be in."""
    await page.goto(f"{base_url}/room/{room}")
    await page.get_by_role("textbox", name="Your name").fill(name)
    await page.get_by_role("combobox", name="I hear").first.select_option(language)
    code = page.get_by_role("textbox", name="Room code")
    if await code.count() and not await code.input_value():
        await code.fill(room)
    await page.get_by_role("button", name="Join").click()
    await expect(page.get_by_role("heading", level=1, name=room)).to_be_visible(timeout=15_000)
    await expect(status(page)).to_have_attribute("data-state", "connected", timeout=15_000)


# --- the conversation page -------------------------------------------------------------


def status(page: Page) -> Locator:
    """The connection status: ``data-state`` connected, reconnecting or offline."""
    return page.get_by_role("status").and_(page.locator("[data-state]"))


def messages(page: Page) -> Locator:
    """Every message in the "Messages" list."""
    return page.get_by_role("list", name="Messages").get_by_role("listitem")


def captions(page: Page) -> Locator:
    return page.get_by_role("region", name="Live captions")


def assistant(page: Page) -> Locator:
    return page.get_by_role("region", name="Assistant")


async def message_ids(page: Page) -> list[str]:
    """The ``data-id`` of every message shown, in the order shown (repeats kept)."""
    ids: list[str] = await messages(page).evaluate_all(
        "items => items.map(item => item.getAttribute('data-id'))"
    )
    return ids


async def audio_energy(page: Page, key: str = "audioEnergy") -> float:
    """``window.__voicemode[key]``: the speech the page played (0 when it played none)."""
    value = await page.evaluate(f"window.__voicemode && window.__voicemode.{key}")
    return float(value or 0)


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = 30, what: str = "it"
) -> Any:
    """Poll ``check`` until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def words(text: str) -> set[str]:
    """Lower-case words of ``text``."""
    return set(re.findall(r"[a-záéíóúñü]+", text.lower()))
