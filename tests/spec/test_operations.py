"""What an operator's metrics derive from events, and the media summary: no store, no server."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest
from eventsourcing.domain import DomainEvent

from actors.agent_messages import INBOUND, OUTBOUND, MediaQuality, TrackQuality
from actors.media_quality import MediaQualityBoard, MediaReading
from actors.projections.operations import OperationsTally, end_of_speech_of
from adapters.shells.http_media import livekit_metrics_body, quality_score
from adapters.shells.livekit_agent.wire import decode_client, encode_client
from adapters.shells.protocol import ProtocolError
from events.domain import Room, SpeechSynthesized, TranslationProduced
from events.store import Recorded

GRACE = timedelta(minutes=15)


class Stages:
    """Telemetry that remembers the stages it was told."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, float]] = []

    def stage(self, stage: str, seconds: float) -> None:
        self.seen.append((stage, seconds))

    def committed(self, seconds: float, events: int) -> None:
        """Not told by the tally."""

    def delivered(self, event: DomainEvent) -> None:
        """Not told by the tally."""


def tally_of(room: Room, *more: DomainEvent) -> tuple[OperationsTally, Stages]:
    stages = Stages()
    tally = OperationsTally(stages)
    for position, event in enumerate([*room.collect_events(), *more], start=1):
        tally.apply(Recorded(position, event))  # type: ignore[arg-type]
    return tally, stages


def test_members_are_present_away_or_gone_and_rooms_open_while_someone_is_present() -> None:
    room = Room(code="r1")
    for user in ("alice", "bob", "carol"):
        room.join(user, user, "en")
    room.start_voice("alice", "en", None, "r1")
    room.leave("bob", "disconnected")
    room.leave("carol", "left")
    tally, _ = tally_of(room)
    heads = tally.headcount()
    assert (heads.rooms_open, heads.present, heads.away, heads.voice_sessions) == (1, 1, 1, 1)
    assert tally.snapshot().dropped == {"disconnected": 1}
    room.leave("alice", "left")
    tally, _ = tally_of(room)
    assert tally.headcount().rooms_open == 0


def test_a_removed_member_and_a_closed_rooms_members_are_no_longer_counted() -> None:
    room = Room(code="r1")
    for user in ("alice", "bob", "carol"):
        room.join(user, user, "en")
    room.start_voice("bob", "en", None, "r1")
    room.leave("carol", "disconnected")
    room.remove("bob", "alice", None)
    tally, _ = tally_of(room)
    heads = tally.headcount()
    assert (heads.rooms_open, heads.present, heads.away, heads.voice_sessions) == (1, 1, 1, 0)
    room.close("alice")
    tally, _ = tally_of(room)
    heads = tally.headcount()
    assert (heads.rooms_open, heads.present, heads.away, heads.voice_sessions) == (0, 0, 0, 0)


def test_transcripts_translations_and_syntheses_are_counted_with_their_durations() -> None:
    room = Room(code="r1")
    room.join("alice", "Alice", "en")
    room.join("bob", "Bob", "es")
    spoken, typed = uuid4(), uuid4()
    room.recognize(spoken, "alice", "hello", "en", "whisper", 1500, GRACE, 400, ("google:timeout",))
    room.recognize(typed, "alice", "typed", "en", "typed", 0, GRACE)
    translation = TranslationProduced(
        originator_id=uuid4(),
        originator_version=1,
        timestamp=TranslationProduced.create_timestamp(),
        room_id=room.id,
        transcript_id=spoken,
        speaker_id="alice",
        speaker_name="Alice",
        original_text="hello",
        translated_text="hola",
        source_language="en",
        target_language="es",
        solo=False,
        engine="apertium",
        latency_ms=120,
        fallbacks=(),
        error_code=None,
    )
    synthesis = SpeechSynthesized.recording(
        room_id=room.id,
        transcript_id=spoken,
        language="es",
        voice=None,
        engine="espeak",
        sample_rate=22050,
        audio_ms=900,
        first_chunk_ms=0,
        fallbacks=(),
        error_code="synthesis_failed",
        channel="livekit",
    )
    tally, stages = tally_of(room, translation, synthesis)
    counts = tally.snapshot()
    assert counts.transcripts == 2
    assert counts.translations == {("apertium", "en", "es"): 1}
    assert counts.syntheses == {("espeak", "livekit"): 1}
    assert counts.fallbacks == {("google", "timeout"): 1}
    assert counts.errors == {"synthesis_failed": 1}
    assert stages.seen == [("stt_decode", 0.4), ("translation", 0.12)]  # typed: no decode
    ended = end_of_speech_of(translation, tally)
    assert ended is not None and translation.timestamp - ended < timedelta(seconds=1)


def test_a_media_report_round_trips_the_agent_channel_and_bad_ones_are_refused() -> None:
    report = MediaQuality(
        "r1",
        2,
        64000.0,
        0.05,
        (
            TrackQuality("alice", "TR_a", INBOUND, 500, 5, 40000, 0.004, 0.02, 0.3),
            TrackQuality("agent-1", "TR_b", OUTBOUND, 400, 0, 30000, 0.002, None, None),
        ),
    )
    assert decode_client(encode_client(report).decode()).message == report
    bad = encode_client(report).decode().replace('"inbound"', '"sideways"')
    with pytest.raises(ProtocolError) as refused:
        decode_client(bad)
    assert refused.value.code == "invalid_field"


def test_the_livekit_metrics_body_has_seed_000s_shape_and_sensible_scores() -> None:
    track = TrackQuality("alice", "TR_a", INBOUND, 990, 10, 40000, 0.004, 0.02, 0.3)
    body = livekit_metrics_body(MediaReading(MediaQuality("r1", 1, 64000.0, 0.1, (track,)), 0))
    assert body["roomMetrics"] == {"participantCount": 1, "trackCount": 1, "dataRate": 64000}
    assert body["qualityMetrics"] == pytest.approx({"packetLoss": 0.01, "jitter": 4, "rtt": 20})
    assert body["audioMetrics"]["level"] == 0.3
    assert body["participants"][0]["identity"] == "alice"
    assert quality_score(0, 1, 10) > 4.3 > quality_score(0.05, 30, 400) > 1


def test_stale_media_reports_are_not_the_rooms_quality() -> None:
    now = [100.0]
    board = MediaQualityBoard(max_age_s=30, clock=lambda: now[0])
    board.put(MediaQuality("r1", 0, 0.0, 0.0, ()))
    assert board.get("r1") is not None
    now[0] += 31
    assert board.get("r1") is None
