"""The rules of managing rooms, without servers: who may, what is recorded, what clients see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import cast

import jwt
import pytest
from eventsourcing.domain import DomainEvent

from actors.listener import Listener, ends_membership
from actors.usecases.management import may_manage_room, may_see_room, room_view
from adapters.shells.auth import TokenError, issue_token, verify_user_token
from adapters.shells.frames import frames_for
from adapters.shells.protocol import (
    CloseRoomFrame,
    MuteParticipantFrame,
    ProtocolError,
    RemoveParticipantFrame,
    parse_frame,
)
from events.domain import Room
from events.store import Recorded

SECRET = "a-test-secret-that-is-long-enough-0123456789"


@dataclass(frozen=True)
class Who:
    user_id: str
    role: str = "user"


def room_with_members() -> Room:
    room = Room(code="studio", owner="alice")
    room.join("alice", "Alice", "en")
    room.join("bob", "Bob", "es")
    room.start_voice("bob", "es", None, "studio")
    return room


def recorded(room: Room) -> list[Recorded]:
    events = room.collect_events()
    assert all(isinstance(event, DomainEvent) for event in events)
    return [Recorded(n, cast(DomainEvent, event)) for n, event in enumerate(events, 1)]


def test_the_owner_and_operators_manage_a_room_and_nobody_else() -> None:
    room = room_with_members()
    assert may_manage_room(room, Who("alice"))
    assert not may_manage_room(room, Who("bob")), "a member is not an owner"
    assert not may_manage_room(room, Who("mallory"))
    assert may_manage_room(room, Who("root", "admin"))
    ownerless = Room(code="old")
    assert not may_manage_room(ownerless, Who("alice")), "rooms from before owners: operators"
    assert may_manage_room(ownerless, Who("root", "admin"))
    assert may_see_room(room, Who("bob")) and not may_see_room(room, Who("mallory"))


def test_closing_ends_voice_sessions_then_empties_the_room_once() -> None:
    room = room_with_members()
    room.collect_events()
    room.close("alice")
    room.close("alice")
    names = [type(event).__name__ for event in room.collect_events()]
    assert names == ["VoiceSessionEnded", "RoomClosed"]
    assert room.closed and room.closed_by == "alice" and room.members == {}


def test_closing_a_recording_room_stops_its_recording_first() -> None:
    room = room_with_members()
    room.set_recording("alice", True)
    room.collect_events()
    room.close("alice")
    events = room.collect_events()
    assert [type(event).__name__ for event in events] == [
        "VoiceSessionEnded",
        "RecordingStopped",
        "RoomClosed",
    ]
    stopped = events[1]
    assert isinstance(stopped, Room.RecordingStopped) and stopped.reason == "room_closed"
    assert not room.recording


def test_a_removed_participant_is_barred_until_the_time_recorded() -> None:
    room = room_with_members()
    now = Room.Event.create_timestamp()
    room.remove("bob", "alice", now + timedelta(minutes=5))
    assert "bob" not in room.members
    assert room.barred_until("bob", now) == now + timedelta(minutes=5)
    assert room.barred_until("bob", now + timedelta(minutes=6)) is None
    assert room.barred_until("alice", now) is None


def test_a_room_view_shows_each_participants_mode_and_voice_session() -> None:
    room = room_with_members()
    room.start_speech("alice", "en", "fr", "LINEAR16", 16000)
    view = room_view(room, agent_attached=True)
    assert (view.owner, view.agent_attached) == ("alice", True)
    alice, bob = view.participants
    assert (alice.mode, alice.voice, bob.mode) == ("solo", None, "group")
    assert bob.voice is not None and bob.voice.livekit_room == "studio"


def test_clients_are_told_who_closed_removed_and_muted() -> None:
    room = room_with_members()
    room.collect_events()
    room.change_mute("bob", "alice", "TR_1", muted=True)
    room.remove("bob", "alice", None)
    room.close("alice")
    log = recorded(room)
    bob = Listener("bob", "es", room_code="studio")
    carol = Listener("carol", "en", room_code="studio")
    seen = {
        name: [frame for entry in log for frame in frames_for(listener, entry)]
        for name, listener in (("bob", bob), ("carol", carol))
    }
    assert [f["event"] for f in seen["carol"]] == [
        "track-muted",
        "user-stopped-voice",
        "user-left",
        "room-closed",
    ]
    assert seen["carol"][0]["data"] == {
        "roomId": "studio",
        "userId": "bob",
        "trackSid": "TR_1",
        "muted": True,
        "by": "alice",
    }
    assert seen["carol"][2]["data"] == {"userId": "bob", "reason": "removed", "by": "alice"}
    removed = next(f for f in seen["bob"] if f["event"] == "removed")
    assert removed["data"] == {"roomId": "studio", "by": "alice", "until": None}
    assert [ends_membership(bob, entry.event) for entry in log] == [False, False, True, True]
    assert [ends_membership(carol, entry.event) for entry in log] == [False, False, False, True]


def test_management_frames_are_parsed_and_checked() -> None:
    close = parse_frame('{"event": "close-room", "data": {}}').command
    assert close == CloseRoomFrame(None)
    remove = parse_frame(
        '{"event": "remove-participant", "data": {"userId": "bob", "barSeconds": 60}}'
    ).command
    assert remove == RemoveParticipantFrame("bob", None, 60)
    mute = parse_frame(
        '{"event": "mute-participant", "data": {"userId": "bob", "muted": true, "roomId": "r"}}'
    ).command
    assert mute == MuteParticipantFrame("bob", True, "r")
    for bad, code in (
        ('{"event": "mute-participant", "data": {"userId": "bob"}}', "missing_field"),
        ('{"event": "remove-participant", "data": {"userId": "b o b"}}', "invalid_field"),
        (
            '{"event": "remove-participant", "data": {"userId": "bob", "barSeconds": -1}}',
            "invalid_field",
        ),
        ('{"event": "close-room", "data": {"roomId": "no room"}}', "invalid_room_code"),
    ):
        with pytest.raises(ProtocolError) as refused:
            parse_frame(bad)
        assert refused.value.code == code, bad


def test_an_operator_token_carries_its_role_and_a_users_does_not() -> None:
    admin = verify_user_token(SECRET, issue_token(SECRET, "root", "Root", "en", 60, role="admin"))
    user = verify_user_token(SECRET, issue_token(SECRET, "ann", "Ann", "en", 60))
    assert (admin.role, user.role) == ("admin", "user")
    with pytest.raises(ValueError, match="role"):
        issue_token(SECRET, "x", "X", "en", 60, role="god")


def test_a_token_with_an_unknown_role_is_refused() -> None:
    forged = jwt.encode(
        {"sub": "x", "kind": "user", "role": "god", "iat": 1, "exp": 2**40},
        SECRET,
        algorithm="HS256",
    )
    with pytest.raises(TokenError) as refused:
        verify_user_token(SECRET, forged)
    assert refused.value.code == "invalid_token"
