"""The default blob store: a local directory, written atomically.

Each blob is a file under the root at its key's path. A write goes to a
temporary file beside its target and is renamed over it, so a reader (or a
crash) never sees half a clip; a full disk or a directory that cannot be
written leaves no partial file and raises :class:`BlobStoreError`.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Final

from adapters.blobs.base import BlobNotFoundError, BlobStoreError

KEY: Final = re.compile(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*")
"""Keys are relative names of safe characters: none can leave the root."""


class LocalDirectoryBlobStore:
    """:class:`~adapters.blobs.base.BlobStore` on a directory (created on first write)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, key: str, data: bytes) -> None:
        """Write to a temporary file beside the target, then rename it into place."""
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
        except OSError as error:
            raise BlobStoreError(f"cannot write under {path.parent}: {error.strerror}") from error
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except OSError as error:
            Path(temporary).unlink(missing_ok=True)
            raise BlobStoreError(f"cannot write {path}: {error.strerror}") from error

    def get(self, key: str) -> bytes:
        """Read the whole file."""
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError as error:
            raise BlobNotFoundError(f"no blob {key}") from error
        except OSError as error:
            raise BlobStoreError(f"cannot read {path}: {error.strerror}") from error

    def delete(self, key: str) -> None:
        """Remove the file if it is there."""
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except OSError as error:
            raise BlobStoreError(f"cannot delete {path}: {error.strerror}") from error

    def exists(self, key: str) -> bool:
        """Whether the file is there."""
        return self._path(key).is_file()

    def _path(self, key: str) -> Path:
        if not KEY.fullmatch(key) or any(part in {".", ".."} for part in key.split("/")):
            raise ValueError(f"invalid blob key {key!r}")
        return self.root / key
