"""OrjsonTranscoder: the library's transcoder contract plus exact round-trips."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from unittest import skip
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    Transcoder,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)
from eventsourcing.tests import persistence as library_tests

from events.transcoder import DataclassAsDict, OrjsonTranscoder, TupleAsList, build_transcoder


class TestLibraryTranscoderCase(library_tests.TranscoderTestCase):
    """The library's shipped transcoder tests, set up as it sets up JSONTranscoder.

    Only the tests the library skips for its own JSONTranscoder are skipped;
    test_tuple and test_mixed run, since this transcoder keeps tuples.
    """

    def construct_transcoder(self) -> Transcoder:
        transcoder = OrjsonTranscoder()
        transcoder.register(library_tests.CustomType1AsDict())
        transcoder.register(library_tests.CustomType2AsDict())
        transcoder.register(UUIDAsHex())
        return transcoder

    @skip("test_dict_subclass(): like JSONTranscoder, dict subclasses become dict")
    def test_dict_subclass(self) -> None:
        pass

    @skip("test_list_subclass(): like JSONTranscoder, list subclasses become list")
    def test_list_subclass(self) -> None:
        pass

    @skip("test_str_subclass(): like JSONTranscoder, str subclasses become str")
    def test_str_subclass(self) -> None:
        pass

    @skip("test_int_subclass(): like JSONTranscoder, int subclasses become int")
    def test_int_subclass(self) -> None:
        pass


@dataclass(frozen=True)
class Cue:
    text: str
    start_ms: int
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Segment:
    id: UUID
    at: datetime
    cues: tuple[Cue, ...]
    price: Decimal
    extra: dict[str, Any] = field(default_factory=dict)
    label: str = field(init=False, default="")

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", f"{len(self.cues)} cues")


@pytest.fixture
def transcoder() -> OrjsonTranscoder:
    return build_transcoder(Cue, Segment)


def round_trip(transcoder: OrjsonTranscoder, obj: object) -> Any:
    return transcoder.decode(transcoder.encode(obj))


def typical_event() -> dict[str, Any]:
    return {
        "timestamp": datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        "transcript_id": UUID("3db3be2d-98d7-4e92-9d8d-bf60e04995fc"),
        "user_id": "user-1234",
        "speaker_name": "Zoë 🐈",
        "text": 'He said "hola" \\ and left',
        "source_lang": "en",
        "targets": ("es", "fr", "de"),
        "engine": "faster-whisper:tiny.en",
        "duration_ms": 1830,
        "latency_ms": -1,
        "confidence": 0.93,
        "final": True,
        "note": None,
    }


def test_typical_event_round_trips_exactly(transcoder: OrjsonTranscoder) -> None:
    event = typical_event()
    copy = round_trip(transcoder, event)
    assert copy == event
    assert [type(value) for value in copy.values()] == [type(value) for value in event.values()]


@pytest.mark.parametrize(
    "value",
    ["", "a", "🐈 哈哈", 0, -(2**63), 2**64 - 1, 1.5, -0.0, 1e300, True, False, None],
)
def test_json_scalars(transcoder: OrjsonTranscoder, value: object) -> None:
    copy = round_trip(transcoder, {"v": value})["v"]
    assert copy == value
    assert type(copy) is type(value)


def test_tuples_stay_tuples_at_any_depth(transcoder: OrjsonTranscoder) -> None:
    obj = {
        "empty": (),
        "nested": ((), ((1, "a"), [2, (3,)])),
        "in_list": [("x",), {"t": (None, True)}],
    }
    copy = round_trip(transcoder, obj)
    assert copy == obj
    assert type(copy["nested"][1][1]) is list
    assert type(copy["nested"][1][1][1]) is tuple
    assert round_trip(transcoder, (1, (2,))) == (1, (2,))
    assert round_trip(transcoder, [(1,)]) == [(1,)]


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2024, 1, 2, 3, 4, 5, 999999, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(2024, 1, 2, 3, 4, 5, 1, tzinfo=timezone(timedelta(hours=-3, seconds=15))),
        datetime(2024, 1, 2, 3, 4, 5, 10),
        datetime(1, 1, 1, tzinfo=UTC),
    ],
)
def test_datetimes(transcoder: OrjsonTranscoder, value: datetime) -> None:
    copy = round_trip(transcoder, {"at": value})["at"]
    assert copy == value
    assert copy.isoformat() == value.isoformat()
    assert copy.utcoffset() == value.utcoffset()


def test_datetime_format_matches_library(transcoder: OrjsonTranscoder) -> None:
    library = JSONTranscoder()
    library.register(DatetimeAsISO())
    for value in (
        datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2024, 1, 2, 3, 4, 5),
    ):
        assert transcoder.encode(value) == library.encode(value)


@pytest.mark.parametrize(
    "value",
    [uuid4(), UUID(int=0), UUID(int=2**128 - 1), UUID("00000000-0000-0000-0000-00000000000a")],
)
def test_uuids(transcoder: OrjsonTranscoder, value: UUID) -> None:
    copy = round_trip(transcoder, [value])[0]
    assert type(copy) is UUID
    assert copy == value
    assert hash(copy) == hash(value)
    assert str(copy) == str(value)
    assert copy.version == value.version
    assert copy.is_safe == value.is_safe
    assert pickle.loads(pickle.dumps(copy)) == value
    with pytest.raises(TypeError):
        copy.int = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "data",
    [str(uuid4()), f"{{{uuid4()}}}", f"urn:uuid:{uuid4()}", "+" + "f" * 31, "0_" + "0" * 30],
)
def test_uuid_data_decodes_as_uuid_would(transcoder: OrjsonTranscoder, data: str) -> None:
    tagged = {"_type_": "uuid_hex", "_data_": data}
    assert transcoder.decode(transcoder.encode(tagged)) == UUID(data)


@pytest.mark.parametrize("data", ["abc", "g" * 32, "0" * 33])
def test_bad_uuid_data_is_refused(transcoder: OrjsonTranscoder, data: str) -> None:
    with pytest.raises(ValueError):
        transcoder.decode(transcoder.encode({"_type_": "uuid_hex", "_data_": data}))


@pytest.mark.parametrize("text", ["0", "1.10", "-3.14159265358979323846264338", "1E+3", "NaN"])
def test_decimals(transcoder: OrjsonTranscoder, text: str) -> None:
    copy = round_trip(transcoder, {"d": Decimal(text)})["d"]
    assert type(copy) is Decimal
    assert str(copy) == text


def test_nested_frozen_dataclasses(transcoder: OrjsonTranscoder) -> None:
    segment = Segment(
        id=uuid4(),
        at=datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        cues=(Cue("hi", 0, ("a", "b")), Cue("there", 250)),
        price=Decimal("0.10"),
        extra={"pairs": ((1, 2),), "cue": Cue("x", 1)},
    )
    copy = round_trip(transcoder, {"segments": (segment,)})["segments"][0]
    assert copy == segment
    assert type(copy.cues) is tuple
    assert type(copy.cues[0]) is Cue
    assert type(copy.cues[0].tags) is tuple
    assert copy.extra["pairs"] == ((1, 2),)
    assert copy.label == "2 cues"


def test_dataclass_names_default_to_topic(transcoder: OrjsonTranscoder) -> None:
    assert b'"_type_":"tests.test_transcoder:Cue"' in transcoder.encode(Cue("a", 1))
    named = OrjsonTranscoder()
    named.register_dataclass(Cue, "cue")
    assert named.encode(Cue("a", 1)) == (
        b'{"_type_":"cue","_data_":{"text":"a","start_ms":1,'
        b'"tags":{"_type_":"tuple_as_list","_data_":[]}}}'
    )


def test_unregistered_types_are_refused(transcoder: OrjsonTranscoder) -> None:
    with pytest.raises(TranscodingNotRegisteredError):
        OrjsonTranscoder().encode({"c": Cue("a", 1)})
    with pytest.raises(TranscodingNotRegisteredError):
        OrjsonTranscoder().decode(transcoder.encode(Cue("a", 1)))
    with pytest.raises(TranscodingNotRegisteredError):
        transcoder.decode(b'{"_type_":[1],"_data_":2}')
    with pytest.raises(TypeError, match="not a dataclass"):
        DataclassAsDict(dict)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_floats_are_refused(transcoder: OrjsonTranscoder, value: float) -> None:
    with pytest.raises(ValueError, match="non-finite"):
        transcoder.encode({"x": [value]})


@pytest.mark.parametrize("value", [{1: "a"}, 2**64])
def test_what_json_cannot_hold_is_refused(transcoder: OrjsonTranscoder, value: object) -> None:
    with pytest.raises(TypeError):
        transcoder.encode(value)


def test_reads_and_writes_the_library_format(transcoder: OrjsonTranscoder) -> None:
    library = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DatetimeAsISO(), DecimalAsStr(), TupleAsList()):
        library.register(transcoding)
    event = typical_event()
    event["amount"] = Decimal("2.50")
    assert library.decode(transcoder.encode(event)) == event
    del event["targets"]  # JSONTranscoder writes tuples as plain lists
    assert transcoder.decode(library.encode(event)) == event


class Recording(Aggregate):
    """An aggregate whose event carries a tuple and a dataclass, for the mapper test."""

    class Noted(Aggregate.Event):
        cues: tuple[Cue, ...]
        languages: tuple[str, ...]

    def note(self, cues: tuple[Cue, ...], languages: tuple[str, ...]) -> None:
        self.trigger_event(self.Noted, cues=cues, languages=languages)


def test_domain_events_round_trip_through_a_mapper(transcoder: OrjsonTranscoder) -> None:
    mapper: Mapper[UUID] = Mapper(transcoder=transcoder)
    recording = Recording()
    recording.note((Cue("hi", 5, ("x",)),), ("es", "fr"))
    for event in recording.collect_events():
        copy = mapper.to_domain_event(mapper.to_stored_event(event))
        assert type(copy) is type(event)
        assert copy.__dict__ == event.__dict__
