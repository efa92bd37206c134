"""Shared fixtures: a served instance per test on a fresh SQLite store."""

from __future__ import annotations

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


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say where the browser tests' screenshots are (only when a browser test ran)."""
    browser = sys.modules.get("tests.support.browser")
    folders = sorted({str(shots.folder) for shots in getattr(browser, "TAKEN", [])})
    if folders:
        terminalreporter.write_sep("-", "screenshots")
        for folder in folders:
            terminalreporter.write_line(folder)
