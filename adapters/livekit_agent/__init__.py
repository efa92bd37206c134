"""voicemode's LiveKit agent: the media plane's side of a room.

A worker (:func:`run_worker`) is dispatched by the LiveKit server into a room;
its :class:`VoiceAgent` transcribes each person's microphone with the
room's speech pipeline, reports to voicemode through a :class:`ControlPlane`,
and speaks the translations voicemode sends back on ``tts-<lang>`` tracks.
"""

from adapters.livekit_agent.agent import AgentSettings, VoiceAgent
from adapters.livekit_agent.control import (
    ControlPlane,
    ControlPlaneError,
    FinalTranscript,
    PartialTranscript,
    RoomMembers,
    RoomUpdate,
    SynthesisReport,
    Translation,
)
from adapters.livekit_agent.direct import DirectControlPlane
from adapters.livekit_agent.speaking import track_name
from adapters.livekit_agent.worker import (
    ControlPlaneFactory,
    build_agent_server,
    room_code_of,
    run_job,
    run_worker,
)

__all__ = [
    "AgentSettings",
    "ControlPlane",
    "ControlPlaneError",
    "ControlPlaneFactory",
    "DirectControlPlane",
    "FinalTranscript",
    "PartialTranscript",
    "RoomMembers",
    "RoomUpdate",
    "SynthesisReport",
    "Translation",
    "VoiceAgent",
    "build_agent_server",
    "room_code_of",
    "run_job",
    "run_worker",
    "track_name",
]
