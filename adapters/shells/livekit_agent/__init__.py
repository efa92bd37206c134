"""voicemode's LiveKit agent: the media plane's side of a room.

A worker (:func:`run_worker`) is dispatched by the LiveKit server into a room;
its :class:`VoiceAgent` transcribes each person's microphone with the
room's speech pipeline, reports to voicemode through a :class:`ControlPlane`,
and speaks the translations voicemode sends back on ``tts-<lang>`` tracks.

Import from the modules themselves: ``control`` and ``wire`` are light (the
serve process uses them for the agent channel), while ``agent``, ``worker``
and ``speaking`` load LiveKit's rtc and agents SDKs.
"""
