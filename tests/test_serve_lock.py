"""One server per SQLite store: a second one refuses to start instead of fighting the first."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.service import ServedInstance


def test_second_server_on_the_same_store_refuses_to_start(tmp_path: Path) -> None:
    db = str(tmp_path / "shared.db")
    first = ServedInstance(db=db)
    first.start()
    try:
        second = ServedInstance(db=db)
        with pytest.raises(RuntimeError, match="another voicemode serve is using"):
            second.start()
    finally:
        first.stop()
    after_stop = ServedInstance(db=db)
    after_stop.start()
    after_stop.stop()


def test_a_killed_server_does_not_block_its_restart(tmp_path: Path) -> None:
    served = ServedInstance(db=str(tmp_path / "killed.db"))
    served.start()
    served.kill()
    served.start()
    served.stop()
