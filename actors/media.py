"""The media plane (LiveKit), as the core sees it: an interface ``serve`` hands it.

Kept free of imports so the LiveKit adapters can implement it cheaply.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class MediaUnavailableError(RuntimeError):
    """The media plane (LiveKit) is unreachable or refused; ``str()`` says why."""


class MediaToken(Protocol):
    """A credential for a user's media client."""

    @property
    def token(self) -> str:
        """The signed token."""

    @property
    def expires_at(self) -> datetime:
        """When it stops being accepted (UTC)."""


class MediaPlane(Protocol):
    """Rooms, tokens and agents of the media plane, for voice sessions (on the serve loop)."""

    @property
    def url(self) -> str:
        """Where users' media clients connect."""

    async def prepare(self, room: str) -> None:
        """Make sure the media room exists, before anything is recorded.

        Raises:
            MediaUnavailableError: the media plane is unreachable or refused.
        """

    def voice_started(self, room: str) -> None:
        """A voice session started in ``room``: see that it has an agent."""

    def token(self, room: str, user_id: str, name: str, language: str) -> MediaToken:
        """A token to talk and listen in ``room`` in ``language``."""

    async def remove(self, room: str, user_id: str) -> None:
        """Disconnect a user's media client (best effort)."""
