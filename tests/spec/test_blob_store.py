"""The local blob store and the Ogg Opus clips it holds (no server)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adapters.blobs import BlobNotFoundError, BlobStoreError
from adapters.blobs.local import LocalDirectoryBlobStore
from adapters.engines.audio.ogg_opus import decode_ogg_opus, encode_ogg_opus, opus_rate


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
