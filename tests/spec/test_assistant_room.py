"""Who hears the assistant, stated on the room and the client wire: no actor, store or server.

A private question (assistant mode in a room whose assistant is off) is heard
by nobody else, and its answer only by its asker; in a room with the
assistant on, an utterance is for it when it starts with the wake word, and
the answer reaches every member in their own language, their speaker's
language included (spoken too, since nobody heard it otherwise).
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

from actors.assistant.commands import wake_word, without_wake_word
from actors.projections.fanout import translation_events
from adapters.engines.translation.base import Translation
from adapters.shells.frames import Listener, frames_for
from adapters.shells.frames import spoken_on_websocket as spoken
from events.domain import ASSISTANT_ID, Room, TranscriptMode
from events.store import Recorded

GRACE = timedelta(minutes=15)


def room_of(*members: tuple[str, str], assistant: bool = False) -> Room:
    room = Room(code="r1")
    for user_id, language in members:
        room.join(user_id, user_id.capitalize(), language)
    room.set_assistant("alice", assistant)
    room.collect_events()
    return room


def say(room: Room, speaker: str, text: str, language: str = "en") -> Room.TranscriptRecognized:
    room.recognize(uuid4(), speaker, text, language, "typed", 900, GRACE, wake_word=wake_word(text))
    event = room.collect_events()[-1]
    assert isinstance(event, Room.TranscriptRecognized)
    return event


def answer(room: Room, text: str, language: str, owner: str | None) -> Room.TranscriptRecognized:
    room.answer(uuid4(), uuid4(), text, language, "fake", owner)
    event = room.collect_events()[-1]
    assert isinstance(event, Room.TranscriptRecognized)
    return event


def translated(sentence: Room.TranscriptRecognized) -> list[Recorded]:
    """The fan-out's translations of an answer's sentence, each target "translated" as-is."""
    translations = [Translation(f"[{t}] {sentence.text}", "fake", 1) for t in sentence.targets]
    events = translation_events(sentence, translations)
    return [Recorded(10 + n, event) for n, event in enumerate(events)]


def test_a_private_question_has_no_listeners_and_is_for_the_assistant() -> None:
    room = room_of(("alice", "en"), ("bob", "es"))
    room.start_speech("alice", "en", None, "LINEAR16", 16000, assistant=True)
    question = say(room, "alice", "What is the capital of France?")
    assert question.to_assistant and question.private
    assert question.targets == () and question.audience == ()
    bob = Listener("bob", "es")
    assert frames_for(bob, Recorded(5, question)) == []


def test_assistant_mode_ends_with_the_speech_session() -> None:
    room = room_of(("alice", "en"), ("bob", "es"))
    room.start_speech("alice", "en", None, "LINEAR16", 16000, assistant=True)
    room.end_speech("alice")
    room.collect_events()
    after = say(room, "alice", "Hello Bob.")
    assert not after.to_assistant and after.targets == ("es",)


def test_a_typed_question_asks_for_the_assistant_itself() -> None:
    room = room_of(("alice", "en"))
    room.recognize(
        uuid4(), "alice", "Why?", "en", "client", 0, GRACE, mode=TranscriptMode(None, True)
    )
    event = room.collect_events()[-1]
    assert isinstance(event, Room.TranscriptRecognized)
    assert event.to_assistant and event.private


def test_in_an_assistant_room_the_wake_word_addresses_it_and_everyone_hears_the_question() -> None:
    room = room_of(("alice", "en"), ("bob", "es"), assistant=True)
    addressed = say(room, "alice", "Assistant, what time is it?")
    chat = say(room, "alice", "Bob, the assistant is slow today.")
    assert addressed.to_assistant and not addressed.private
    assert addressed.targets == ("es",)
    assert not chat.to_assistant
    assert without_wake_word("Hey assistant, what time is it?") == "what time is it?"


def test_a_shared_answer_reaches_every_member_in_their_language_its_own_included() -> None:
    room = room_of(("alice", "en"), ("bob", "es"), ("carol", "en"), assistant=True)
    sentence = answer(room, "It is noon.", "en", owner=None)
    assert sentence.speaker_id == ASSISTANT_ID
    assert sentence.targets == ("en", "es")
    assert sentence.audience == (("alice", "en"), ("bob", "es"), ("carol", "en"))
    translations = translated(sentence)
    for user, language in sentence.audience:
        listener = Listener(user, language)
        got = [f for r in translations for f in frames_for(listener, r)]
        assert [f["data"]["targetLang"] for f in got] == [language]
        assert got[0]["data"]["fromUserId"] == ASSISTANT_ID
        assert UUID(got[0]["data"]["answerId"]) == sentence.answer_id
        assert spoken(listener, got[0]), "an answer is spoken in the listener's own language too"
        # the sentence itself shows nobody anything: each gets it once, as a translation
        assert frames_for(listener, Recorded(9, sentence)) == []


def test_a_private_answer_reaches_its_asker_only() -> None:
    room = room_of(("alice", "en"), ("bob", "en"))
    sentence = answer(room, "Paris.", "en", owner="alice")
    assert sentence.audience == (("alice", "en"),)
    translations = translated(sentence)
    alice = [f for r in translations for f in frames_for(Listener("alice", "en"), r)]
    bob = [f for r in translations for f in frames_for(Listener("bob", "en"), r)]
    assert [f["data"]["translatedText"] for f in alice] == ["[en] Paris."]
    assert bob == []


def test_a_listener_in_a_voice_session_hears_the_answer_on_livekit_not_twice() -> None:
    room = room_of(("alice", "en"))
    sentence = answer(room, "Paris.", "en", owner="alice")
    listener = Listener("alice", "en", in_voice_session=True)
    got = [f for r in translated(sentence) for f in frames_for(listener, r)]
    assert got and not spoken(listener, got[0])
