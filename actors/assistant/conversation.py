"""ConversationActor: one conversation with the assistant, and the only writer of its stream.

Questions are answered one at a time, in the order they came: a question
that arrives while an answer is being generated or spoken waits (at most
:attr:`AssistantSettings.max_waiting` of them; more are refused
``assistant_busy``). An answer streams from the language model on the
assistant's pool: each piece goes to the conversation's clients at once
(``assistant-text``), and each sentence, once whole, is recorded in the room
as the assistant's, so the room's translation fan-out gives it to every
listener in their language and their speech starts after the first sentence.

When someone who hears the answer starts speaking, the answer stops: no more
sentences are released, generation stops, clients are told to stop playing
it, and it is recorded with the character where it was cut (estimated by
:class:`~actors.assistant.speaking_clock.SpeakingClock`), so the context of the
next question holds only what was heard.

Commands are recorded here too, with what they do (see
``events.domain.Conversation``); the assistant's language and mute state are
read back from those records on a restart, like its context.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import pykka

from actors.assistant.commands import (
    LANGUAGE_NAMES,
    Intent,
    RecognizedCommand,
    help_lines,
)
from actors.assistant.context import (
    ContextBudget,
    ConversationContext,
    Prompt,
    QuestionOverBudgetError,
)
from actors.assistant.notices import AnswerStopped, AnswerText, AssistantNotice, AssistantProblem
from actors.assistant.sentences import Sentence, SentenceSplitter
from actors.assistant.speaking_clock import DEFAULT_CHARS_PER_S, DEFAULT_DELAY_S, SpeakingClock
from actors.messages import Accepted, Refused, Reply, RoomCommand, SpeakAnswer, ToAudience
from adapters.engines.llm.base import Conversation as Chat
from adapters.engines.llm.base import Reply as ModelReply
from adapters.engines.llm.base import Turn as ChatTurn
from adapters.engines.llm.registry import ChatRegistry
from events.domain import Answer, Conversation, conversation_id_for
from events.store import EventStore
from events.writer import GroupCommitWriter

log = logging.getLogger(__name__)

APOLOGY = "Sorry, the assistant cannot answer right now."
"""What a user hears when no language model answered (the error is ``assistant_unavailable``)."""
COMMANDS_ENGINE = "commands"
"""The engine named on sentences the assistant speaks for a command (help, repeat)."""
ANSWER_LANGUAGE = {code: name.capitalize() for name, code in reversed(list(LANGUAGE_NAMES.items()))}
"""A language's English name (the first one listed), to tell the model what to answer in."""


@dataclass(frozen=True)
class AssistantSettings:
    """How the assistant answers (``VOICEMODE_ASSISTANT_*`` and ``VOICEMODE_LLM_*``).

    ``stream_speech`` False waits for the whole answer before speaking any of
    it (the benchmark's baseline).
    """

    budget: ContextBudget = field(default_factory=ContextBudget)
    max_answer_tokens: int = 300
    max_waiting: int = 3
    workers: int = 4
    chars_per_s: float = DEFAULT_CHARS_PER_S
    speech_delay_s: float = DEFAULT_DELAY_S
    stream_speech: bool = True


@dataclass(frozen=True)
class ConversationPorts:
    """What a conversation actor works with: the log, the model, its room and its clients."""

    store: EventStore
    writer: GroupCommitWriter
    chat: ChatRegistry
    pool: Executor
    tell_room: Callable[[str, RoomCommand], None]
    notify: Callable[[UUID, ToAudience], None]
    settings: AssistantSettings


@dataclass(frozen=True)
class ConversationKey:
    """Which conversation: a room's shared one (owner None) or one member's own."""

    room_code: str
    room_id: UUID
    owner: str | None

    @property
    def stream_id(self) -> UUID:
        """The conversation's stream."""
        return conversation_id_for(self.room_id, self.owner)

    @property
    def audience(self) -> frozenset[str] | None:
        """Who hears its answers: the owner, or everyone in the room (None)."""
        return None if self.owner is None else frozenset({self.owner})

    def hears(self, user_id: str) -> bool:
        """Whether ``user_id`` hears this conversation's answers."""
        return self.owner is None or self.owner == user_id


@dataclass(frozen=True)
class Question:
    """A question for the assistant: who asked, in which language, and the transcript it was."""

    user_id: str
    text: str
    language: str
    question_id: UUID | None


@dataclass(frozen=True)
class Ask:
    """Answer ``question`` after the questions already waiting."""

    question: Question


@dataclass(frozen=True)
class Command:
    """Record a command and do what it says; ``reply`` once it is recorded."""

    user_id: str
    language: str
    command: RecognizedCommand
    reply: Reply


@dataclass(frozen=True)
class SpeechBegan:
    """``user_id`` started speaking (``time.monotonic()`` when it was detected)."""

    user_id: str
    at: float


@dataclass
class _Answering:
    """The answer in progress, shared by the actor and the thread generating it."""

    answer_id: UUID
    question: Question
    language: str
    clock: SpeakingClock
    muted: bool
    cancelled: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    reply: ModelReply | None = None
    interrupted_at: int | None = None


@dataclass(frozen=True)
class _Generated:
    answering: _Answering
    reply: ModelReply


@dataclass(frozen=True)
class _Heard:
    answering: _Answering


@dataclass(frozen=True)
class _Committed:
    error: BaseException | None


class ConversationActor(pykka.ThreadingActor):
    """One conversation with the assistant (see the module docstring)."""

    def __init__(self, key: ConversationKey, ports: ConversationPorts) -> None:
        super().__init__()
        self.key = key
        self.ports = ports
        self.settings = ports.settings
        self.conversation: Conversation | None = None
        self.context = ConversationContext(key.stream_id, self.settings.budget)
        self.language: str | None = None
        self.muted = False
        self.last_heard = ""
        self.current: _Answering | None = None
        self.waiting: deque[Question] = deque()
        self._timer: threading.Timer | None = None

    def on_start(self) -> None:
        """Read the conversation back from its stream: context, language, mute, last answer."""
        self._load()

    def on_stop(self) -> None:
        """Stop generating; an unfinished answer is not recorded."""
        if self.current is not None:
            self.current.cancelled.set()
        if self._timer is not None:
            self._timer.cancel()

    def on_receive(self, message: Any) -> None:
        """Dispatch by message type."""
        if isinstance(message, Ask):
            self._ask(message.question)
        elif isinstance(message, Command):
            self._command(message)
        elif isinstance(message, SpeechBegan):
            self._speech_began(message)
        elif isinstance(message, _Generated):
            self._generated(message)
        elif isinstance(message, _Heard):
            if message.answering is self.current:
                self._finish(message.answering)
        elif isinstance(message, _Committed):
            if message.error is not None:
                log.warning("assistant conversation not recorded: %s", message.error)
                self._load()
        else:
            raise TypeError(f"ConversationActor cannot handle {type(message).__name__}")

    # questions ----------------------------------------------------------------

    def _ask(self, question: Question) -> None:
        if self.current is None:
            self._answer(question)
        elif len(self.waiting) < self.settings.max_waiting:
            self.waiting.append(question)
        else:
            self._tell_asker(
                question.user_id,
                "assistant_busy",
                f"{len(self.waiting)} questions are already waiting; ask again later",
            )

    def _answer(self, question: Question) -> None:
        """Start answering: the model streams on the assistant's pool."""
        try:
            prompt = self.context.prompt(question.text)
        except QuestionOverBudgetError as error:
            self._tell_asker(question.user_id, error.code, str(error))
            self._next()
            return
        language = self.language or question.language
        answering = _Answering(
            uuid4(),
            question,
            language,
            SpeakingClock(self.settings.chars_per_s, self.settings.speech_delay_s),
            self.muted,
        )
        self.current = answering
        self.ports.pool.submit(self._generate, answering, self._chat(prompt, language))

    def _chat(self, prompt: Prompt, language: str) -> Chat:
        """What the model is asked: the context's prompt, told the language to answer in."""
        turns: list[ChatTurn] = [ChatTurn(m.role, m.content) for m in prompt.messages()]
        name = ANSWER_LANGUAGE.get(language, language)
        system = f"{prompt.system} Answer in {name}."
        return Chat(system, tuple(turns), self.settings.max_answer_tokens)

    def _generate(self, answering: _Answering, chat: Chat) -> None:
        """On a pool thread: stream the answer, release its sentences, report the end."""
        try:
            reply = self._stream(answering, chat)
        except Exception:
            log.exception("the assistant failed while answering")
            reply = ModelReply("", "none", "", 0, 0, None, None, (), "assistant_failed", False)
        with suppress(pykka.ActorDeadError):
            self.actor_ref.tell(_Generated(answering, reply))

    def _stream(self, answering: _Answering, chat: Chat) -> ModelReply:
        stream = self.ports.chat.reply(chat)
        splitter = SentenceSplitter()
        held: list[Sentence] = []
        for piece in stream:
            if answering.cancelled.is_set():
                stream.close()
                break
            self._notify(
                AnswerText(
                    answering.answer_id, answering.question.user_id, piece, answering.language
                )
            )
            held += splitter.feed(piece)
            if self.settings.stream_speech:
                self._release_all(answering, held, stream.engine)
        if not answering.cancelled.is_set():
            held += splitter.flush()
            self._release_all(answering, held, stream.engine)
        reply = stream.reply()
        if not reply.text and reply.error_code is not None:
            self._speak(uuid4(), APOLOGY, "en", COMMANDS_ENGINE)
            self._tell_asker(
                answering.question.user_id,
                "assistant_unavailable",
                f"no language model answered ({reply.error_code})",
            )
        return reply

    def _release_all(self, answering: _Answering, held: list[Sentence], engine: str) -> None:
        """Record the sentences ``held`` in the room (unless muted or interrupted meanwhile)."""
        while held:
            sentence = held.pop(0)
            with answering.lock:
                if answering.cancelled.is_set():
                    return
                if answering.muted:
                    continue
                answering.clock.released(time.monotonic(), sentence.start, sentence.end)
            self._speak(answering.answer_id, sentence.text, answering.language, engine)

    def _generated(self, message: _Generated) -> None:
        answering = message.answering
        answering.reply = message.reply
        if answering is not self.current:
            return
        remaining = answering.clock.ends - time.monotonic()
        if answering.interrupted_at is not None or answering.muted or remaining <= 0:
            self._finish(answering)
            return
        ref = self.actor_ref
        self._timer = threading.Timer(remaining, _tell_quietly, (ref, _Heard(answering)))
        self._timer.daemon = True
        self._timer.start()

    def _finish(self, answering: _Answering) -> None:
        """Record the answer as the user got it, then answer the next question."""
        reply = answering.reply
        if reply is None:  # interrupted while generating: recorded once generation stops
            return
        interrupted_at = (
            None
            if answering.interrupted_at is None
            else min(answering.interrupted_at, len(reply.text))
        )
        answer = Answer(
            answer_id=answering.answer_id,
            user_id=answering.question.user_id,
            question_id=answering.question.question_id,
            question=answering.question.text,
            answer=reply.text,
            language=answering.language,
            engine=reply.engine,
            model=reply.model,
            first_token_ms=reply.first_token_ms,
            total_ms=reply.total_ms,
            tokens_in=reply.tokens_in or 0,
            tokens_out=reply.tokens_out or 0,
            fallbacks=reply.fallbacks,
            error_code=reply.error_code,
            interrupted_at=interrupted_at,
        )
        self._conversation().respond(answer)
        self._record()
        self.current = None
        self._next()

    def _next(self) -> None:
        if self.current is None and self.waiting:
            self._answer(self.waiting.popleft())

    # interruptions --------------------------------------------------------------

    def _speech_began(self, message: SpeechBegan) -> None:
        answering = self.current
        if answering is None or not self.key.hears(message.user_id):
            return
        if answering.reply is not None and not answering.clock.speaking(message.at):
            return
        self._interrupt(answering, message.at)

    def _interrupt(self, answering: _Answering, at: float) -> None:
        """Stop the answer where the listener is, and tell its clients to stop playing it."""
        with answering.lock:
            if answering.interrupted_at is not None:
                return
            answering.cancelled.set()
            heard = answering.clock.heard(at)
            answering.interrupted_at = heard
        self._notify(AnswerStopped(answering.answer_id, heard))
        if answering.reply is not None:
            self._finish(answering)

    # commands -------------------------------------------------------------------

    def _command(self, message: Command) -> None:
        command = message.command
        self._conversation().recognize_command(
            message.user_id,
            command.intent.value,
            command.entities,
            command.confidence,
            command.source.value,
            command.text,
        )
        self._record(message.reply)
        intent = command.intent
        if intent is Intent.HELP:
            self._speak(
                uuid4(), "You can say: " + "; ".join(help_lines()) + ".", "en", COMMANDS_ENGINE
            )
        elif intent is Intent.STOP:
            self.waiting.clear()
            if self.current is not None:
                self._interrupt(self.current, time.monotonic())
        elif intent is Intent.REPEAT and self.last_heard:
            self._speak(
                uuid4(), self.last_heard, self.language or message.language, COMMANDS_ENGINE
            )

    def _follow(self, events: Sequence[object]) -> None:
        """Keep the context, language, mute state and last answer up to date with ``events``."""
        for event in events:
            self.context.apply(event)
            if isinstance(event, Conversation.CommandRecognized):
                if event.intent == Intent.SET_LANGUAGE:
                    self.language = event.entities.get("language", self.language)
                elif event.intent in (Intent.MUTE, Intent.UNMUTE):
                    self.muted = event.intent == Intent.MUTE
            elif isinstance(event, Conversation.AssistantResponded) and event.delivered:
                self.last_heard = event.delivered

    # the log ----------------------------------------------------------------------

    def _load(self) -> None:
        """Rebuild everything from the conversation's stream (at start, or after a refusal)."""
        events = list(self.ports.store.stream(self.key.stream_id))
        aggregate: Any = None
        for event in events:
            aggregate = event.mutate(aggregate)  # type: ignore[attr-defined]
        self.conversation = aggregate
        self.context = ConversationContext(self.key.stream_id, self.settings.budget)
        self.language, self.muted, self.last_heard = None, False, ""
        self._follow(events)

    def _conversation(self) -> Conversation:
        if self.conversation is None:
            self.conversation = Conversation(self.key.room_id, self.key.owner)
        return self.conversation

    def _record(self, reply: Reply | None = None) -> None:
        """Hand what was decided to the writer; memory follows it at once."""
        events = self._conversation().collect_events()
        self._follow(events)
        ref = self.actor_ref

        def committed(result: Sequence[int] | BaseException) -> None:
            error = result if isinstance(result, BaseException) else None
            if reply is not None:
                if error is None:
                    assert not isinstance(result, BaseException)
                    reply(Accepted(result[-1] if result else 0, self.key.room_id))
                else:
                    reply(Refused("store_error", "the event store refused the command"))
            _tell_quietly(ref, _Committed(error))

        self.ports.writer.submit(events, committed)

    # output -------------------------------------------------------------------------

    def _speak(self, answer_id: UUID, text: str, language: str, engine: str) -> None:
        """Record one sentence as the assistant's in the room (its listeners hear it)."""
        key = self.key
        self.ports.tell_room(
            key.room_code,
            SpeakAnswer(
                uuid4(), answer_id, text.strip(), language, engine, key.owner, _log_refusal
            ),
        )

    def _notify(self, notice: AssistantNotice) -> None:
        self.ports.notify(self.key.room_id, ToAudience(notice, self.key.audience))

    def _tell_asker(self, user_id: str, code: str, message: str) -> None:
        self.ports.notify(
            self.key.room_id,
            ToAudience(AssistantProblem(user_id, code, message), frozenset({user_id})),
        )


def _log_refusal(outcome: Accepted | Refused) -> None:
    if isinstance(outcome, Refused):
        log.warning("an answer's sentence was not recorded: %s", outcome.message)


def _tell_quietly(ref: pykka.ActorRef[Any], message: object) -> None:
    with suppress(pykka.ActorDeadError):
        ref.tell(message)
