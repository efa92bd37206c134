"""The media plane (LiveKit), as the core sees it: an interface ``serve`` hands it.

Kept free of imports so the LiveKit adapters can implement it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
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


class RoomModerator(Protocol):
    """What managing a room asks of the media plane (on the serve loop).

    Every method raises :class:`MediaUnavailableError` when the media plane
    is unreachable or refused, so the caller records nothing.
    """

    async def delete_room(self, room: str) -> None:
        """Close the media room, disconnecting everyone in it (a room it does not know is fine)."""

    async def remove_participant(self, room: str, identity: str) -> bool:
        """Disconnect ``identity`` from the media room; False if they were not there."""

    async def mute_microphone(self, room: str, identity: str, muted: bool) -> tuple[str, ...]:
        """Mute or unmute ``identity``'s microphone tracks; their ids (empty: they have none)."""


@dataclass(frozen=True)
class LiveKitWebhook:
    """A verified webhook from the LiveKit server, as the fact to record (the shell verifies it).

    Mirrors the fields of the ``LiveKitWebhookReceived`` domain event.
    ``webhook_id`` is LiveKit's id for the notification: a redelivered webhook
    carries the same id, which is what makes recording it idempotent.
    """

    webhook_id: str
    event: str
    room_name: str
    room_sid: str
    participant_identity: str | None
    participant_sid: str | None
    track_sid: str | None
    created_at: int
    """LiveKit's timestamp of the event, Unix seconds."""
