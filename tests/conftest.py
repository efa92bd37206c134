"""Shared fixtures: a served instance per test on a fresh SQLite store."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.service import ServedInstance


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedInstance]:
    """A running ``voicemode serve`` on loopback (Apertium translation)."""
    instance = ServedInstance(db=str(tmp_path / "voicemode.db"))
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture(autouse=True)
def _no_livekit_settings_left_behind() -> Iterator[None]:
    """An in-process agent worker exports LIVEKIT_* (livekit-agents does): take them back.

    Left behind, they reached the ``serve`` that later tests and benches
    start, which then wanted an agent secret it had no use for.
    """
    before = {key: value for key, value in os.environ.items() if key.startswith("LIVEKIT_")}
    yield
    for key in [key for key in os.environ if key.startswith("LIVEKIT_")]:
        if key not in before:
            del os.environ[key]
    os.environ.update(before)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say where the browser tests' screenshots are (only when a browser test ran)."""
    browser = sys.modules.get("tests.support.browser")
    folders = sorted({str(shots.folder) for shots in getattr(browser, "TAKEN", [])})
    if folders:
        terminalreporter.write_sep("-", "screenshots")
        for folder in folders:
            terminalreporter.write_line(folder)
