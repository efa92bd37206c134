"""Shared fixtures: a served instance per test on a fresh SQLite store."""

from __future__ import annotations

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
