"""Projections: threads that follow the event log and act on what they read.

Unlike the actors they keep no conversation with a caller: the translation
fan-out records a translation for each transcript (``fanout``), delivery hands
each event to the sessions of its room (``delivery``), ``following`` is the
reader they share, ``voice_rooms`` tracks which rooms have voice sessions, and
``room_follower`` feeds one room's events to its LiveKit agent.
"""
