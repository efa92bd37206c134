"""What each listener receives for each stored event, live and on resume (``frames_for``).

Who hears a translation: the language each listener heard when the utterance
was recorded, exactly once. Then which frame each event makes, for whom, and
which translations a listener hears spoken on the WebSocket.

Pure tests of ``frames_for`` on hand-made logs: the room's decisions come from
the real ``Room`` aggregate and the translations from the fan-out's own
``translation_events``, so the order of events (the race) is set by the test.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import DomainEvent

from actors.projections.fanout import translation_events
from adapters.engines.translation.base import Translation
from adapters.shells.frames import FRAMED_EVENTS, Frame, Listener, frames_for
from adapters.shells.frames import spoken_on_websocket as spoken
from events.domain import Preferences, Room, TranslationProduced
from events.store import Recorded

GRACE = timedelta(minutes=15)


class Log:
    """A room and the log its events (and their translations) would make, in order."""

    def __init__(self) -> None:
        self.room = Room(code="r1")
        self.recorded: list[Recorded] = []
        self.transcripts: dict[UUID, Room.TranscriptRecognized] = {}

    def commit(self) -> int:
        """Record what the room decided; return the last position."""
        return self.append(self.room.collect_events())

    def append(self, events: Iterable[object]) -> int:
        for event in events:
            assert isinstance(event, DomainEvent)
            self.recorded.append(Recorded(len(self.recorded) + 1, event))
            if isinstance(event, Room.TranscriptRecognized):
                self.transcripts[event.transcript_id] = event
        return len(self.recorded)

    def say(self, speaker: str, text: str, language: str = "en") -> UUID:
        transcript_id = uuid4()
        self.room.recognize(transcript_id, speaker, text, language, "typed", 0, GRACE)
        self.commit()
        return transcript_id

    def translate(self, transcript_id: UUID, *only: str) -> int:
        """Record the fan-out's translations of a transcript (``only`` some targets)."""
        transcript = self.transcripts[transcript_id]
        texts = [f"[{target}] {transcript.text}" for target in transcript.targets]
        events = translation_events(transcript, [Translation(t, "fake", 1) for t in texts])
        return self.append(
            e
            for e in events
            if isinstance(e, TranslationProduced) and (not only or e.target_language in only)
        )

    def language_at(self, user_id: str, position: int) -> str:
        """What ``user_id`` heard right after ``position`` (as resume's listener starts)."""
        language = ""
        for recorded in self.recorded[:position]:
            event = recorded.event
            joined_or_changed = isinstance(event, Room.ParticipantJoined | Room.LanguageChanged)
            if joined_or_changed and event.user_id == user_id:  # type: ignore[attr-defined]
                language = event.language  # type: ignore[attr-defined]
        return language


def frames(listener: Listener, recorded: Sequence[Recorded]) -> list[Frame]:
    return [frame for r in recorded for frame in frames_for(listener, r)]


def heard(frames: Iterable[Frame], transcript_id: UUID) -> list[tuple[str, Any]]:
    """The (event, targetLang) of every frame about one transcript."""
    return [
        (frame["event"], frame["data"].get("targetLang"))
        for frame in frames
        if frame["data"].get("id") == str(transcript_id)
    ]


def joined(log: Log, *members: tuple[str, str]) -> None:
    for user, language in members:
        log.room.join(user, user.capitalize(), language)
    log.commit()


def test_a_switch_before_the_translation_arrives_loses_nothing() -> None:
    """The issue's race: Bob hears fr when Alice speaks, es again when fr arrives.

    He gets it once, in fr: the language he heard when it was said.
    """
    log = Log()
    joined(log, ("alice", "en"), ("bob", "es"), ("carol", "es"))
    log.room.change_language("bob", "fr")
    log.commit()
    said = log.say("alice", "The house is big.")
    log.translate(said, "es")  # the fast one
    log.room.change_language("bob", "es")
    log.commit()
    log.translate(said, "fr")  # the slow one, after Bob switched back

    bob = Listener("bob", "es")
    carol = Listener("carol", "es")
    assert heard(frames(bob, log.recorded), said) == [("translated-message", "fr")]
    assert heard(frames(carol, log.recorded), said) == [("translated-message", "es")]
    assert bob.language == "es", "the listener still follows its own language"


def test_switching_to_the_speakers_language_meanwhile_changes_nothing() -> None:
    """Heard fr when recorded: the fr translation, not the original (and not both)."""
    log = Log()
    joined(log, ("alice", "en"), ("bob", "fr"))
    said = log.say("alice", "The house is big.")
    log.room.change_language("bob", "en")
    log.commit()
    log.translate(said)
    assert heard(frames(Listener("bob", "fr"), log.recorded), said) == [
        ("translated-message", "fr")
    ]


def test_a_listener_of_the_source_language_who_switches_gets_the_original_only() -> None:
    log = Log()
    joined(log, ("alice", "en"), ("bob", "en"), ("carol", "es"))
    said = log.say("alice", "The house is big.")
    log.room.change_language("bob", "es")
    log.commit()
    log.translate(said)
    got = frames(Listener("bob", "en"), log.recorded)
    assert heard(got, said) == [("translated-message", "en")]
    assert got[-1]["data"]["translatedText"] == "The house is big."


def test_resume_from_any_position_delivers_each_utterance_exactly_once() -> None:
    """Live up to ``since``, then a fresh resume listener: the same frames as staying."""
    log = Log()
    joined(log, ("alice", "en"), ("bob", "es"), ("carol", "es"), ("dave", "fr"))
    log.room.change_language("bob", "fr")
    log.commit()
    first = log.say("alice", "The house is big.")
    log.room.change_language("bob", "es")
    log.commit()
    second = log.say("alice", "The dog is black.")
    log.translate(second)  # out of order across transcripts is fine too
    log.translate(first)
    log.room.change_language("bob", "fr")
    log.commit()
    third = log.say("alice", "The cat is small.")
    log.translate(third)
    expected = {first: "fr", second: "es", third: "fr"}

    stayed = frames(Listener("bob", "es"), log.recorded)
    for said, language in expected.items():
        assert heard(stayed, said) == [("translated-message", language)]
    for since in range(len(log.recorded) + 1):
        before = frames(Listener("bob", "es"), log.recorded[:since])
        resumed = Listener("bob", log.language_at("bob", since))
        after = frames(resumed, log.recorded[since:])
        assert before + after == stayed, f"resume from {since}"


def test_someone_who_joins_after_an_utterance_does_not_get_its_translation() -> None:
    log = Log()
    joined(log, ("alice", "en"), ("bob", "fr"))
    said = log.say("alice", "The house is big.")
    joined(log, ("dave", "fr"))
    log.translate(said)
    assert heard(frames(Listener("dave", "fr"), log.recorded), said) == []
    assert heard(frames(Listener("bob", "fr"), log.recorded), said) == [
        ("translated-message", "fr")
    ]


def test_an_away_member_is_in_the_audience_and_the_speaker_is_not() -> None:
    log = Log()
    joined(log, ("alice", "en"), ("bob", "es"), ("carol", "de"), ("dave", "en"))
    log.room.leave("carol", "disconnected")
    log.commit()
    said = log.say("alice", "The house is big.")
    transcript = log.transcripts[said]
    assert transcript.targets == ("de", "es")
    assert transcript.audience == (("bob", "es"), ("carol", "de"), ("dave", "en"))
    log.translate(said)
    audiences = {
        event.target_language: event.audience
        for event in (r.event for r in log.recorded)
        if isinstance(event, TranslationProduced)
    }
    assert audiences == {"de": ("carol",), "es": ("bob",)}


def test_solo_transcripts_go_to_the_speaker_only_whatever_the_languages() -> None:
    log = Log()
    joined(log, ("alice", "en"), ("bob", "fr"))
    log.room.start_speech("alice", "en", "fr", "LINEAR16", 16000)
    log.commit()
    said = log.say("alice", "The house is big.")
    assert log.transcripts[said].audience == ()
    log.translate(said)
    assert heard(frames(Listener("alice", "en"), log.recorded), said) == [("solo-translated", "fr")]
    assert heard(frames(Listener("bob", "fr"), log.recorded), said) == []


def test_events_recorded_before_the_audience_keep_the_old_rule() -> None:
    """Older logs have no audience: the translation goes by the language heard on arrival."""
    log = Log()
    joined(log, ("alice", "en"), ("bob", "es"))
    transcript_id = uuid4()
    log.room.recognize(transcript_id, "alice", "The house is big.", "en", "typed", 0, GRACE)
    (event,) = log.room.collect_events()
    assert isinstance(event, Room.TranscriptRecognized)
    log.append([replace(event, audience=None)])
    log.translate(transcript_id)
    produced = log.recorded[-1].event
    assert isinstance(produced, TranslationProduced) and produced.audience is None
    assert heard(frames(Listener("bob", "es"), log.recorded), transcript_id) == [
        ("translated-message", "es")
    ]


# ------------------------------------------------------------------ which frame for which event


def live(listener: Listener, log: Log, since: int) -> list[Frame]:
    """The frames ``listener`` gets for what was recorded after position ``since``."""
    return frames(listener, log.recorded[since:])


def test_others_coming_going_and_talking_over_livekit_are_announced_with_their_position() -> None:
    log = Log()
    joined(log, ("alice", "en"))
    alice = Listener("alice", "en")
    frames(alice, log.recorded)
    since = len(log.recorded)
    joined(log, ("bob", "es"))
    log.room.start_voice("bob", "es", None, "lk-r1")
    log.room.end_voice("bob", "stopped")
    log.room.leave("bob", "disconnected")
    log.commit()
    got = live(alice, log, since)
    assert [(f["event"], f["data"], f["pos"]) for f in got] == [
        ("user-joined", {"userId": "bob", "name": "Bob", "language": "es"}, since + 1),
        ("user-started-voice", {"userId": "bob", "language": "es"}, since + 2),
        ("user-stopped-voice", {"userId": "bob", "reason": "stopped"}, since + 3),
        ("user-left", {"userId": "bob", "reason": "disconnected"}, since + 4),
    ]


def test_a_listener_is_not_told_about_themselves_but_follows_their_own_state() -> None:
    """Own joins, language, preference and voice changes make no frame; they change delivery."""
    log = Log()
    joined(log, ("alice", "en"), ("bob", "es"))
    log.room.change_language("bob", "fr")
    log.room.set_preferences("bob", Preferences(speech=False, voice="fr"))
    log.room.start_voice("bob", "fr", None, "lk-r1")
    log.commit()
    bob = Listener("bob", "es")
    got = frames(bob, log.recorded)
    assert [f["event"] for f in got] == ["user-joined"], "only Alice's join"
    assert bob.language == "fr"
    assert bob.preferences == Preferences(speech=False, voice="fr")
    assert bob.in_voice_session
    log.room.end_voice("bob", "stopped")
    log.commit()
    assert live(bob, log, len(log.recorded) - 1) == []
    assert not bob.in_voice_session


def test_facts_that_mean_nothing_to_a_listener_make_no_frame() -> None:
    """Speech starts and ends, client errors and language changes of others are not sent."""
    log = Log()
    joined(log, ("alice", "en"), ("bob", "es"))
    since = len(log.recorded)
    log.room.start_speech("alice", "en", None, "LINEAR16", 16000)
    log.room.end_speech("alice")
    log.room.change_language("alice", "de")
    log.room.report_client_error("alice", "mic", "denied", None)
    log.commit()
    assert live(Listener("bob", "es"), log, since) == []
    unframed = {type(r.event) for r in log.recorded[since:]} - set(FRAMED_EVENTS)
    assert unframed == {Room.SpeechStarted, Room.SpeechEnded, Room.ClientErrorReported}


def test_speaker_gets_the_transcript_same_language_listeners_the_original_at_once() -> None:
    """No engine is needed for a listener of the speaker's language: the original comes with it."""
    log = Log()
    joined(log, ("alice", "en"), ("bob", "es"), ("erin", "en"))
    said = log.say("alice", "The house is big.")
    position = len(log.recorded)
    (mine,) = frames(Listener("alice", "en"), log.recorded[-1:])
    assert mine == {
        "event": "recognized-speech",
        "data": {
            "id": str(said),
            "text": "The house is big.",
            "sourceLang": "en",
            "speakerName": "Alice",
        },
        "pos": position,
    }
    (original,) = frames(Listener("erin", "en"), log.recorded[-1:])
    assert original["event"] == "translated-message"
    assert original["data"]["translatedText"] == original["data"]["originalText"]
    assert (original["data"]["fromUserId"], original["data"]["toUserId"]) == ("alice", "erin")
    assert frames(Listener("bob", "es"), log.recorded[-1:]) == [], "Bob waits for es"


def test_a_translation_goes_to_its_listeners_and_says_why_it_failed() -> None:
    """If no engine could translate, the listener still gets the original with the reason."""
    log = Log()
    joined(log, ("alice", "en"), ("bob", "es"))
    said = log.say("alice", "The house is big.")
    (event,) = translation_events(
        log.transcripts[said],
        [Translation("The house is big.", "none", 3, error_code="unsupported_language_pair")],
    )
    log.append([event])
    (got,) = frames(Listener("bob", "es"), log.recorded[-1:])
    assert got["event"] == "translated-message"
    assert got["data"]["translatedText"] == "The house is big."
    assert got["data"]["errorCode"] == "unsupported_language_pair"
    assert got["pos"] == len(log.recorded)
    assert frames(Listener("alice", "en"), log.recorded[-1:]) == [], "not back to the speaker"


def test_solo_into_the_language_spoken_answers_the_speaker_at_once() -> None:
    log = Log()
    joined(log, ("alice", "en"), ("bob", "en"))
    log.room.start_speech("alice", "en", "en", "LINEAR16", 16000)
    log.commit()
    said = log.say("alice", "The house is big.")
    assert heard(frames(Listener("alice", "en"), log.recorded[-1:]), said) == [
        ("solo-translated", "en")
    ]
    assert frames(Listener("bob", "en"), log.recorded[-1:]) == []


# ------------------------------------------------------------------ spoken or only shown


def test_who_hears_a_translation_spoken_on_the_websocket() -> None:
    log = Log()
    joined(log, ("alice", "en"), ("bob", "es"), ("erin", "en"))
    said = log.say("alice", "The house is big.")
    log.translate(said)
    (to_bob,) = frames(Listener("bob", "es"), log.recorded[-1:])
    (to_erin,) = frames(Listener("erin", "en"), log.recorded[-2:-1])
    assert spoken(Listener("bob", "es"), to_bob)
    assert not spoken(Listener("erin", "en"), to_erin), "the original is not spoken"
    assert not spoken(Listener("bob", "es", Preferences(speech=False)), to_bob)
    assert not spoken(Listener("bob", "es", in_voice_session=True), to_bob), "the agent speaks it"
    failed = {**to_bob, "data": {**to_bob["data"], "errorCode": "translation_failed"}}
    assert not spoken(Listener("bob", "es"), failed), "an untranslated text is not spoken"


def test_solo_translations_stay_spoken_on_the_websocket_in_a_voice_session() -> None:
    log = Log()
    joined(log, ("alice", "en"))
    log.room.start_speech("alice", "en", "fr", "LINEAR16", 16000)
    log.commit()
    said = log.say("alice", "The house is big.")
    log.translate(said)
    alice = Listener("alice", "en", in_voice_session=True)
    (solo,) = frames(alice, log.recorded[-1:])
    assert solo["event"] == "solo-translated"
    assert spoken(alice, solo)
