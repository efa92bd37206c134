"""Where recorded audio is kept: the blob store interface (stores are imported where built)."""

from adapters.blobs.base import BlobNotFoundError, BlobStore, BlobStoreError

__all__ = ["BlobNotFoundError", "BlobStore", "BlobStoreError"]
