"""The blob store interface: named bytes, written whole, read whole.

Recorded clips are small (a 30 s utterance is about 60 KB of Opus), so the
interface moves whole objects. Keys are ``/``-separated relative names
(``rooms/<room>/<clip>.ogg``); a local directory maps them to paths, an
S3-compatible store would map them to object keys in one bucket, which is
why there is no listing, renaming or partial write here.
"""

from __future__ import annotations

from typing import Protocol


class BlobStoreError(Exception):
    """The store could not do what was asked (not writable, full, unreachable)."""


class BlobNotFoundError(BlobStoreError):
    """No blob under that key (deleted by retention, or never stored)."""


class BlobStore(Protocol):
    """Named immutable bytes. Blocking: call it from worker threads, never the loop."""

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` whole or not at all (replacing any blob there).

        Raises:
            BlobStoreError: the store refused it; nothing is left under ``key``.
        """

    def get(self, key: str) -> bytes:
        """The bytes stored under ``key``.

        Raises:
            BlobNotFoundError: nothing is stored under ``key``.
            BlobStoreError: the store could not be read.
        """

    def delete(self, key: str) -> None:
        """Remove the blob under ``key``; a missing one is not an error.

        Raises:
            BlobStoreError: the store refused.
        """

    def exists(self, key: str) -> bool:
        """Whether a blob is stored under ``key``."""
