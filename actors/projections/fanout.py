"""The translation fan-out: a tracked projection of transcripts.

For every TranscriptRecognized it translates the text once per distinct
target language the room decided (never once per listener) and records one
TranslationProduced per language in the transcript's own stream, in the same
transaction as the projection's tracking position. Translations run in
parallel on a small pool, but are committed in log order, so the tracking
position always means "everything up to here is done": after a crash the
projection resumes exactly where it stopped, and optimistic concurrency on the
translation streams refuses a second copy should two nodes ever race.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from actors.projections.following import LogReader
from adapters.engines.translation.base import Translation
from adapters.engines.translation.registry import TranslationRegistry
from events.domain import Room, TranslationProduced, translations_id_for
from events.store import EventStore, Recorded
from events.writer import GroupCommitWriter

log = logging.getLogger(__name__)

PROJECTION_NAME = "translation-fanout"
MAX_IN_FLIGHT = 512
IDENTITY = "identity"
"""The engine name of a sentence "translated" into its own language."""


@dataclass(frozen=True)
class _Pending:
    """A transcript whose translations are being computed."""

    position: int
    transcript: Room.TranscriptRecognized
    translations: tuple[Future[Translation], ...]


class TranslationFanout:
    """Runs the fan-out projection on two threads: one reads, one commits."""

    def __init__(
        self,
        store: EventStore,
        writer: GroupCommitWriter,
        registry: TranslationRegistry,
        workers: int = 4,
    ) -> None:
        self.store = store
        self.writer = writer
        self.registry = registry
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="translate")
        self._pending: queue.Queue[_Pending | None] = queue.Queue(maxsize=MAX_IN_FLIGHT)
        self._read_position = store.tracked(PROJECTION_NAME)
        self._reader = LogReader(
            store,
            "fanout-read",
            lambda: self._read_position,
            self._read,
            topics=[get_topic(Room.TranscriptRecognized)],
        )
        self._committer = threading.Thread(target=self._commit, name="fanout-commit", daemon=True)
        self._committer.start()
        self._reader.start()

    def stop(self) -> None:
        """Stop reading, finish what is in flight, and shut the pool down."""
        self._reader.stop()
        self._pending.put(None)
        self._committer.join(timeout=30)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _read(self, recorded: Recorded) -> None:
        self._pending.put(self._start(recorded))
        self._read_position = recorded.position

    def _start(self, recorded: Recorded) -> _Pending:
        """Submit one translation per target language."""
        transcript = recorded.event
        assert isinstance(transcript, Room.TranscriptRecognized)
        futures = tuple(
            _as_is(transcript.text)
            if target == transcript.source_language
            else self._pool.submit(
                self.registry.translate,
                transcript.text,
                transcript.source_language,
                target,
                transcript.translation_preference,
            )
            for target in transcript.targets
        )
        return _Pending(recorded.position, transcript, futures)

    def _commit(self) -> None:
        while (pending := self._pending.get()) is not None:
            translations = [future.result() for future in pending.translations]
            events = translation_events(pending.transcript, translations)
            tracking = Tracking(PROJECTION_NAME, pending.position)
            self.writer.submit(events, _log_refusal, tracking)


def translation_events(
    transcript: Room.TranscriptRecognized, translations: Sequence[Translation]
) -> list[DomainEvent]:
    """One TranslationProduced per target language, in the transcript's stream."""
    stream = translations_id_for(transcript.transcript_id)
    return [
        TranslationProduced(
            originator_id=stream,
            originator_version=version,
            timestamp=TranslationProduced.create_timestamp(),
            room_id=transcript.originator_id,
            transcript_id=transcript.transcript_id,
            speaker_id=transcript.speaker_id,
            speaker_name=transcript.speaker_name,
            original_text=transcript.text,
            translated_text=translation.text,
            source_language=transcript.source_language,
            target_language=target,
            solo=transcript.solo_target is not None,
            engine=translation.engine,
            latency_ms=translation.latency_ms,
            fallbacks=translation.fallbacks,
            error_code=translation.error_code,
            audience=_hearing(transcript, target),
            answer_id=transcript.answer_id,
        )
        for version, (target, translation) in enumerate(
            zip(transcript.targets, translations, strict=True), start=1
        )
    ]


def _as_is(text: str) -> Future[Translation]:
    """The "translation" of an answer's sentence into its own language: the text itself.

    Only the assistant's answers have their source language among their
    targets (its listeners in that language hear it through the fan-out too).
    """
    future: Future[Translation] = Future()
    future.set_result(Translation(text=text, engine=IDENTITY, latency_ms=0))
    return future


def _hearing(transcript: Room.TranscriptRecognized, target: str) -> tuple[str, ...] | None:
    """The members who heard ``target`` when the transcript was recorded (None: unknown)."""
    if transcript.audience is None:
        return None
    return tuple(user for user, language in transcript.audience if language == target)


def _log_refusal(result: Sequence[int] | BaseException) -> None:
    """A refused fan-out batch means another node already recorded it."""
    if isinstance(result, BaseException):
        log.warning("translation batch not recorded: %s", result)
