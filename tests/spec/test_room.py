"""The rules of a room (``events.domain.Room``), stated on the aggregate itself.

Who hears what is decided when a transcript is recorded: its translation
targets and its audience. These tests build rooms directly, call their
commands and read the facts they record; no actor, store or server.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import uuid4

import pytest

from events.domain import LanguagePair, Preferences, Room, TranscriptMode

GRACE = timedelta(minutes=15)


def room_of(*members: tuple[str, str]) -> Room:
    """A room with these (user id, language) members present, its facts so far collected."""
    room = Room(code="r1")
    for user_id, language in members:
        room.join(user_id, user_id.capitalize(), language)
    room.collect_events()
    return room


def recorded(room: Room) -> list[tuple[str, ...]]:
    """The facts the room recorded since last asked: event name and the user it is about."""
    return [
        (type(event).__name__, getattr(event, "user_id", "")) for event in room.collect_events()
    ]


def say(
    room: Room, speaker: str, language: str = "en", mode: TranscriptMode | None = None
) -> Room.TranscriptRecognized:
    """Record a final transcript of ``speaker`` and return it (earlier facts are dropped)."""
    room.recognize(uuid4(), speaker, "The house is big.", language, "typed", 900, GRACE, mode=mode)
    event = room.collect_events()[-1]
    assert isinstance(event, Room.TranscriptRecognized)
    return event


def dropped(room: Room, user_id: str, ago: timedelta) -> None:
    """Record that ``user_id``'s connection dropped ``ago`` (as a replayed log holds it)."""
    room.trigger_event(
        Room.ParticipantLeft,
        user_id=user_id,
        reason="disconnected",
        timestamp=Room.Event.create_timestamp() - ago,
    )
    room.collect_events()


# ------------------------------------------------------------------ who hears what


def test_a_transcript_is_translated_once_per_other_language_heard() -> None:
    """Four listeners in two other languages: two translations, not four; none into the source."""
    room = room_of(("alice", "en"), ("bob", "es"), ("carol", "es"), ("dave", "fr"), ("erin", "en"))
    said = say(room, "alice")
    assert said.targets == ("es", "fr")
    assert said.solo_target is None


def test_the_audience_is_everyone_else_with_the_language_they_hear() -> None:
    """The speaker is not in it; a listener of the source language is, hearing the original."""
    room = room_of(("alice", "en"), ("bob", "es"), ("erin", "en"))
    said = say(room, "alice")
    assert said.audience == (("bob", "es"), ("erin", "en"))


def test_the_speakers_own_language_does_not_make_a_target() -> None:
    """Alice hears fr but speaks en to Bob, who hears en: nothing to translate."""
    room = room_of(("alice", "fr"), ("bob", "en"))
    said = say(room, "alice", language="en")
    assert said.targets == ()
    assert said.audience == (("bob", "en"),)


def test_alone_in_a_room_nothing_is_translated() -> None:
    room = room_of(("alice", "en"))
    said = say(room, "alice")
    assert (said.targets, said.audience) == ((), ())


def test_a_language_change_decides_what_the_next_utterance_is_translated_into() -> None:
    room = room_of(("alice", "en"), ("bob", "es"))
    room.change_language("bob", "fr")
    assert recorded(room) == [("LanguageChanged", "bob")]
    said = say(room, "alice")
    assert said.targets == ("fr",)
    assert said.audience == (("bob", "fr"),)


def test_choosing_the_language_one_already_hears_records_nothing() -> None:
    room = room_of(("alice", "en"))
    room.change_language("alice", "en")
    assert recorded(room) == []


def test_the_speakers_translation_preference_goes_with_the_transcript() -> None:
    """The fan-out asks the speaker's preferred engine first for every target."""
    room = room_of(("alice", "en"), ("bob", "es"))
    room.set_preferences("alice", Preferences(translation_engine="google"))
    assert recorded(room) == [("PreferencesChanged", "alice")]
    assert say(room, "alice").translation_preference == ("google",)
    room.set_preferences("alice", Preferences(translation_engine="google"))
    assert recorded(room) == [], "the same preferences again record nothing"


# ------------------------------------------------------------------ solo mode


def test_solo_speech_is_translated_into_its_target_only_and_heard_by_nobody_else() -> None:
    room = room_of(("alice", "en"), ("bob", "es"), ("dave", "fr"))
    room.start_speech("alice", "en", "de", "LINEAR16", 16000)
    said = say(room, "alice")
    assert said.solo_target == "de"
    assert said.targets == ("de",)
    assert said.audience == ()


def test_solo_into_the_language_spoken_needs_no_translation() -> None:
    room = room_of(("alice", "en"), ("bob", "es"))
    room.start_speech("alice", "en", "en", "LINEAR16", 16000)
    said = say(room, "alice")
    assert (said.solo_target, said.targets, said.audience) == ("en", (), ())


def test_solo_mode_ends_with_the_speech_session() -> None:
    """After stop-speech the speaker's messages reach the room again."""
    room = room_of(("alice", "en"), ("bob", "es"))
    room.start_speech("alice", "en", "de", "LINEAR16", 16000)
    room.end_speech("alice")
    assert recorded(room) == [("SpeechStarted", "alice"), ("SpeechEnded", "alice")]
    said = say(room, "alice")
    assert (said.solo_target, said.targets) == (None, ("es",))


def test_a_transcript_may_ask_for_its_own_mode() -> None:
    """A typed transcript's own mode wins over the speaker's, both ways."""
    room = room_of(("alice", "en"), ("bob", "es"))
    private = say(room, "alice", mode=TranscriptMode("fr"))
    assert (private.solo_target, private.targets, private.audience) == ("fr", ("fr",), ())
    room.start_speech("alice", "en", "de", "LINEAR16", 16000)
    public = say(room, "alice", mode=TranscriptMode(None))
    assert (public.solo_target, public.targets) == (None, ("es",))
    assert say(room, "alice").solo_target == "de", "without a mode: the speaker's"


# ------------------------------------------------------------------ away members


def test_a_disconnected_member_stays_a_target_within_the_grace() -> None:
    """Transcripts spoken meanwhile are still translated for them, so resume can deliver them."""
    room = room_of(("alice", "en"), ("bob", "es"), ("carol", "de"))
    room.leave("carol", "disconnected")
    assert recorded(room) == [("ParticipantLeft", "carol")]
    assert not room.present("carol")
    said = say(room, "alice")
    assert said.targets == ("de", "es")
    assert said.audience == (("bob", "es"), ("carol", "de"))


def test_a_member_away_longer_than_the_grace_is_no_longer_a_target() -> None:
    room = room_of(("alice", "en"), ("bob", "es"), ("carol", "de"))
    dropped(room, "carol", GRACE + timedelta(seconds=1))
    said = say(room, "alice")
    assert said.targets == ("es",), "nobody is left to hear de"
    assert said.audience == (("bob", "es"),), "de is not made, so nobody hears it"


def test_the_grace_counts_from_the_disconnection() -> None:
    room = room_of(("alice", "en"), ("carol", "de"))
    dropped(room, "carol", GRACE - timedelta(minutes=1))
    assert say(room, "alice").targets == ("de",)


def test_members_away_too_long_are_not_prepared_for_either() -> None:
    """Translation pairs warmed ahead follow the same grace as targets."""
    room = room_of(("alice", "en"), ("bob", "es"), ("carol", "de"))
    assert LanguagePair("en", "de") in room.translation_pairs(GRACE)
    dropped(room, "carol", GRACE + timedelta(seconds=1))
    pairs = room.translation_pairs(GRACE)
    assert pairs == {LanguagePair("en", "es"), LanguagePair("es", "en")}


def test_leaving_on_purpose_ends_membership() -> None:
    room = room_of(("alice", "en"), ("bob", "es"))
    room.leave("bob", "left")
    assert recorded(room) == [("ParticipantLeft", "bob")]
    assert "bob" not in room.members
    assert say(room, "alice").targets == ()


def test_an_away_member_who_leaves_on_purpose_is_removed() -> None:
    room = room_of(("alice", "en"), ("bob", "es"))
    room.leave("bob", "disconnected")
    room.leave("bob", "left")
    assert recorded(room) == [("ParticipantLeft", "bob"), ("ParticipantLeft", "bob")]
    assert "bob" not in room.members


def test_a_second_disconnection_records_nothing() -> None:
    room = room_of(("alice", "en"))
    room.leave("alice", "disconnected")
    room.leave("alice", "slow_consumer")
    assert recorded(room) == [("ParticipantLeft", "alice")]


def test_a_disconnection_ends_the_speech_session_and_its_solo_mode() -> None:
    room = room_of(("alice", "en"), ("bob", "es"))
    room.start_speech("alice", "en", "de", "LINEAR16", 16000)
    room.leave("alice", "disconnected")
    member = room.members["alice"]
    assert (member.speaking, member.solo_target) == (False, None)


def test_coming_back_keeps_the_language_then_records_the_switch() -> None:
    """A replay shows what an away member heard until they came back, then the new one."""
    room = room_of(("alice", "en"), ("bob", "es"))
    room.leave("bob", "disconnected")
    room.collect_events()
    room.join("bob", "Bob", "fr")
    events = room.collect_events()
    assert [type(e).__name__ for e in events] == ["ParticipantJoined", "LanguageChanged"]
    assert isinstance(events[0], Room.ParticipantJoined) and events[0].language == "es"
    assert room.present("bob") and room.members["bob"].language == "fr"


def test_joining_while_present_records_only_a_language_change() -> None:
    room = room_of(("alice", "en"))
    room.join("alice", "Alice", "en")
    assert recorded(room) == []
    room.join("alice", "Alice", "es")
    assert recorded(room) == [("LanguageChanged", "alice")]


# ------------------------------------------------------------------ voice sessions


def test_a_voice_session_is_recorded_once() -> None:
    room = room_of(("alice", "en"))
    room.start_voice("alice", "en", None, "lk-r1")
    room.start_voice("alice", "en", None, "lk-r1")
    assert recorded(room) == [("VoiceSessionStarted", "alice")]
    room.start_voice("alice", "es", None, "lk-r1")
    assert recorded(room) == [("VoiceSessionStarted", "alice")], "a change is a new session"


def test_a_solo_voice_session_keeps_its_mode_until_it_stops() -> None:
    room = room_of(("alice", "en"), ("bob", "es"))
    room.start_voice("alice", "en", "de", "lk-r1")
    assert say(room, "alice").targets == ("de",)
    room.end_voice("alice", "stopped")
    assert recorded(room) == [("VoiceSessionEnded", "alice")]
    assert say(room, "alice").targets == ("es",)


def test_a_speech_session_inside_a_voice_session_returns_to_its_mode() -> None:
    room = room_of(("alice", "en"), ("bob", "es"))
    room.start_voice("alice", "en", "de", "lk-r1")
    room.start_speech("alice", "en", None, "LINEAR16", 16000)
    assert say(room, "alice").solo_target is None, "the speech session's own mode"
    room.end_speech("alice")
    assert say(room, "alice").solo_target == "de", "back to the voice session's"


def test_stopping_a_voice_session_while_speaking_keeps_the_speech_sessions_mode() -> None:
    room = room_of(("alice", "en"), ("bob", "es"))
    room.start_voice("alice", "en", None, "lk-r1")
    room.start_speech("alice", "en", "fr", "LINEAR16", 16000)
    room.end_voice("alice", "stopped")
    assert say(room, "alice").solo_target == "fr"


def test_leaving_ends_the_voice_session_with_the_reason() -> None:
    room = room_of(("alice", "en"))
    room.start_voice("alice", "en", None, "lk-r1")
    room.collect_events()
    room.leave("alice", "disconnected")
    ended, left = room.collect_events()
    assert isinstance(ended, Room.VoiceSessionEnded) and ended.reason == "disconnected"
    assert isinstance(left, Room.ParticipantLeft)
    assert room.members["alice"].voice is None


def test_a_voice_sessions_language_is_prepared_as_a_source() -> None:
    """Someone who speaks de over LiveKit but hears en: de→es is warmed for Bob."""
    room = room_of(("alice", "en"), ("bob", "es"))
    room.start_voice("alice", "de", None, "lk-r1")
    assert LanguagePair("de", "es") in room.translation_pairs(GRACE)


# ------------------------------------------------------------------ no-ops and refusals


def test_commands_with_nothing_to_change_record_nothing() -> None:
    """The actor answers these from the state they read: stop-speech unstarted is not_speaking."""
    room = room_of(("alice", "en"))
    room.end_speech("alice")
    room.end_voice("alice", "stopped")
    room.set_preferences("alice", Preferences())
    assert recorded(room) == []
    assert not room.members["alice"].speaking
    assert room.members["alice"].voice is None


@pytest.mark.parametrize(
    "command",
    [
        lambda room: room.change_language("mallory", "es"),
        lambda room: room.start_speech("mallory", "en", None, "LINEAR16", 16000),
        lambda room: room.end_speech("mallory"),
        lambda room: room.start_voice("mallory", "en", None, "lk-r1"),
        lambda room: room.end_voice("mallory", "stopped"),
        lambda room: room.set_preferences("mallory", Preferences(speech=False)),
        lambda room: room.recognize(uuid4(), "mallory", "hi", "en", "typed", 0, GRACE),
    ],
    ids=[
        "language",
        "start-speech",
        "stop-speech",
        "start-voice",
        "stop-voice",
        "preferences",
        "transcript",
    ],
)
def test_a_stranger_cannot_act_in_the_room(command: Callable[[Room], None]) -> None:
    """A command for someone who is not a member raises and records nothing."""
    room = room_of(("alice", "en"))
    with pytest.raises(KeyError):
        command(room)
    assert recorded(room) == []


def test_leaving_a_room_one_is_not_in_records_nothing() -> None:
    room = room_of(("alice", "en"))
    room.leave("mallory", "left")
    room.leave("mallory", "disconnected")
    assert recorded(room) == []
