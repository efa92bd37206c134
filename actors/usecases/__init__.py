"""The application core's use cases, behind one facade every shell calls.

:class:`VoiceCore` holds the use cases that need no connection (captions,
transcripts and syntheses from any source, webhooks, known and offered engines,
a room's history for its members);
:class:`Participant` those of one connected user (join, leave, resume,
language and preferences, speech, voice sessions).
"""

from actors.usecases.core import EngineChoice, VoiceCore
from actors.usecases.history import RoomEvents, RoomState
from actors.usecases.offered import Offered
from actors.usecases.participant import (
    Joined,
    Left,
    Participant,
    ParticipantOutput,
    PreferenceChange,
    User,
    VoiceEnded,
    VoiceReady,
)

__all__ = [
    "EngineChoice",
    "Joined",
    "Left",
    "Offered",
    "Participant",
    "ParticipantOutput",
    "PreferenceChange",
    "RoomEvents",
    "RoomState",
    "User",
    "VoiceCore",
    "VoiceEnded",
    "VoiceReady",
]
