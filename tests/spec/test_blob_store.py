"""The local blob store and the Ogg Opus clips it holds (no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import numpy as np
import pytest

from actors.recording.export import MAX_SILENCE_S, mix
from adapters.blobs import BlobNotFoundError, BlobStoreError
from adapters.blobs.local import LocalDirectoryBlobStore
from adapters.engines.audio.ogg_opus import decode_ogg_opus, encode_ogg_opus, opus_rate
from events.recording import AudioRecorded


def test_a_blob_is_written_whole_read_back_and_deleted(tmp_path: Path) -> None:
    store = LocalDirectoryBlobStore(tmp_path / "blobs")
    store.put("rooms/a/2026-01-01/clip.ogg", b"opus bytes")
    assert store.exists("rooms/a/2026-01-01/clip.ogg")
    assert store.get("rooms/a/2026-01-01/clip.ogg") == b"opus bytes"
    store.delete("rooms/a/2026-01-01/clip.ogg")
    store.delete("rooms/a/2026-01-01/clip.ogg")  # twice: no error
    assert not store.exists("rooms/a/2026-01-01/clip.ogg")
    with pytest.raises(BlobNotFoundError):
        store.get("rooms/a/2026-01-01/clip.ogg")


def test_a_store_that_cannot_write_says_so_and_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "blobs").write_text("a file where the directory should be")
    store = LocalDirectoryBlobStore(tmp_path / "blobs")
    with pytest.raises(BlobStoreError):
        store.put("rooms/a/clip.ogg", b"x")
    blocked = LocalDirectoryBlobStore(tmp_path / "ok")
    blocked.put("rooms/a/clip.ogg", b"first")
    (tmp_path / "ok" / "rooms" / "b").write_text("file")
    with pytest.raises(BlobStoreError):
        blocked.put("rooms/b/clip.ogg", b"x")
    assert blocked.get("rooms/a/clip.ogg") == b"first"
    assert [p.name for p in (tmp_path / "ok").rglob("*") if p.name.endswith(".part")] == []


@pytest.mark.parametrize("key", ["../escape.ogg", "/abs.ogg", "a//b", "a/../b", "a b", ""])
def test_keys_cannot_leave_the_root(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="invalid blob key"):
        LocalDirectoryBlobStore(tmp_path).put(key, b"x")


@pytest.mark.parametrize("rate", [16000, 22050, 24000, 48000])
def test_a_clip_decodes_back_to_its_length(rate: int) -> None:
    seconds = 1.7
    time = np.arange(int(rate * seconds)) / rate
    samples = (np.sin(2 * np.pi * 220 * time) * 8000).astype(np.int16)
    data = encode_ogg_opus(samples, rate)
    assert data.startswith(b"OggS")
    decoded = decode_ogg_opus(data, 16000)
    assert abs(len(decoded) / 16000 - seconds) < 0.01
    assert 0.2 < float(np.abs(decoded).max()) < 0.3
    assert opus_rate(rate) >= rate


def stored_tone(blobs: LocalDirectoryBlobStore, key: str, started_at: datetime) -> AudioRecorded:
    """A 1 s tone stored as a clip, and its event."""
    time = np.arange(16000) / 16000
    blobs.put(key, encode_ogg_opus((np.sin(2 * np.pi * 220 * time) * 8000).astype(np.int16), 16000))
    return AudioRecorded.recording(
        room_id=uuid4(),
        key=key,
        kind="utterance",
        transcript_id=uuid4(),
        speaker_id="alice",
        language="en",
        voice=None,
        engine=None,
        started_at=started_at,
        duration_ms=1000,
        sample_rate=16000,
        encoded_rate=16000,
        size_bytes=0,
    )


def test_a_rendering_keeps_short_pauses_and_shortens_a_week_of_silence(tmp_path: Path) -> None:
    blobs = LocalDirectoryBlobStore(tmp_path)
    start = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    clips = [
        stored_tone(blobs, "a.ogg", start),
        stored_tone(blobs, "b.ogg", start + timedelta(seconds=2)),
        stored_tone(blobs, "c.ogg", start + timedelta(days=7)),
    ]
    mixed = mix(clips, blobs, 16000)
    assert abs(len(mixed) / 16000 - (3.0 + MAX_SILENCE_S + 1.0)) < 0.02
    second = mixed[32000 : 32000 + 16000]
    assert float(np.abs(mixed[17000:31000]).max()) < 0.01, "the 1 s pause is kept"
    assert float(np.abs(second).max()) > 0.2, "the second clip is at 2 s"
