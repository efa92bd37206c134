"""voicemode's LiveKit agent: the media plane's side of a room.

A worker (:func:`run_worker`) is dispatched by the LiveKit server into a room;
its :class:`VoiceAgent` transcribes each person's microphone with the
room's speech pipeline, reports to voicemode through a
:class:`~actors.agent_messages.ControlPlane`,
and speaks the translations voicemode sends back on ``tts-<lang>`` tracks.

Import from the modules themselves: ``wire`` (the channel's codec) is light
(the serve process uses it for the agent channel; the messages themselves are
the core's, :mod:`actors.agent_messages`), while ``agent``, ``worker`` and
``speaking`` load LiveKit's rtc and agents SDKs.
"""
