"""An orjson transcoder for the event store that round-trips Python types exactly.

The library's :class:`~eventsourcing.persistence.JSONTranscoder` turns tuples into
lists and is slow on the replay hot path. :class:`OrjsonTranscoder` keeps the same
wire format for custom types (``{"_type_": name, "_data_": ...}``), so each reads
what the other wrote given the same transcodings (a JSONTranscoder needs
:class:`TupleAsList` registered to read tuples), but does the JSON work in orjson
and walks the object tree in a tight loop of its own:

* ``str``, ``int``, ``float``, ``bool``, ``None``, ``dict`` and ``list`` are JSON;
* tuples are stored as ``{"_type_": "tuple_as_list", "_data_": [...]}`` and come
  back as tuples, at any depth;
* anything else needs a registered :class:`~eventsourcing.persistence.Transcoding`
  (see :func:`build_transcoder` for the standard ones, and
  :meth:`OrjsonTranscoder.register_dataclass` for frozen dataclasses).

Datetimes are stored in ISO 8601 form, so an aware datetime comes back with an
equal fixed-offset ``tzinfo`` (a ``ZoneInfo`` zone name is not kept). What JSON
cannot hold exactly is refused rather than stored lossily: non-finite floats,
integers beyond 64 bits and non-string dict keys raise on encoding.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from math import isfinite
from typing import Any
from uuid import UUID, SafeUUID

import orjson
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    Transcoder,
    Transcoding,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)
from eventsourcing.utils import get_topic

_TYPE = "_type_"
_DATA = "_data_"
_TUPLE = "tuple_as_list"
# Floats are not here: orjson would silently write NaN and infinities as null.
_JSON_SCALARS = frozenset({str, int, bool, type(None)})


class TupleAsList(Transcoding):
    """Stores a tuple as a JSON list so that it decodes as a tuple again.

    The transcoder walks the items itself, so tuples nested in tuples (or holding
    custom types) round-trip too.
    """

    type = tuple
    name = _TUPLE

    def encode(self, obj: tuple[Any, ...]) -> list[Any]:
        """Return the items of the tuple as a list."""
        return list(obj)

    def decode(self, data: list[Any]) -> tuple[Any, ...]:
        """Return the (already decoded) items as a tuple."""
        return tuple(data)


class DataclassAsDict(Transcoding):
    """Stores an instance of one dataclass as a dict of its ``__init__`` fields.

    Decoding calls the class with those fields, so ``__post_init__`` runs and
    fields with ``init=False`` are derived again rather than stored.
    """

    def __init__(self, cls: type[Any], name: str | None = None) -> None:
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            msg = f"{cls!r} is not a dataclass"
            raise TypeError(msg)
        self.type = cls
        self.name = name or get_topic(cls)
        self._fields = tuple(f.name for f in dataclasses.fields(cls) if f.init)

    def encode(self, obj: Any) -> dict[str, Any]:
        """Return the ``__init__`` fields of the instance."""
        return {field: getattr(obj, field) for field in self._fields}

    def decode(self, data: dict[str, Any]) -> Any:
        """Construct an instance from its (already decoded) fields."""
        return self.type(**data)


class OrjsonTranscoder(Transcoder):
    """Encodes event state to JSON bytes with orjson, and back, without losing types.

    Register a :class:`~eventsourcing.persistence.Transcoding` for every type that
    is not plain JSON; tuples are always supported. Decoding transcodes inner
    objects first, so a transcoding's ``decode`` receives decoded data, as with the
    library's ``JSONTranscoder``.

    Each transcoding becomes one encoder and one decoder function. The library's
    standard transcodings get equivalent functions that skip a Python call (and
    let orjson write UTC datetimes), since they run several times per event.
    """

    def __init__(self) -> None:
        self.types: dict[type, Transcoding] = {}
        self.names: dict[str, Transcoding] = {}
        self._encoders: dict[type, Callable[[Any], dict[str, Any]]] = {}
        self._decoders: dict[str, Callable[[Any], Any]] = {}
        self._prepare = _json_preparer(self._encoders)
        self._restore = _json_restorer(self._decoders)
        self.register(TupleAsList())

    def register(self, transcoding: Transcoding) -> None:
        """Register a transcoding for its type (when encoding) and name (decoding)."""
        self.types[transcoding.type] = transcoding
        self.names[transcoding.name] = transcoding
        self._encoders[transcoding.type] = self._encoder_for(transcoding)
        self._decoders[transcoding.name] = _FAST_DECODERS.get(type(transcoding), transcoding.decode)

    def register_dataclass(self, cls: type[Any], name: str | None = None) -> None:
        """Register a dataclass, stored under ``name`` (by default its topic)."""
        self.register(DataclassAsDict(cls, name))

    def encode(self, obj: Any) -> bytes:
        """Return the JSON bytes of ``obj``."""
        return orjson.dumps(self._prepare(obj))

    def decode(self, data: bytes) -> Any:
        """Return the object whose JSON bytes are ``data``."""
        return self._restore(orjson.loads(data))

    def _encoder_for(self, transcoding: Transcoding) -> Callable[[Any], dict[str, Any]]:
        name = transcoding.name
        kind = type(transcoding)
        prepare = self._prepare
        if kind is TupleAsList:
            return lambda obj: {_TYPE: name, _DATA: [prepare(item) for item in obj]}
        if kind is UUIDAsHex:
            return lambda obj: {_TYPE: name, _DATA: obj.hex}
        if kind is DatetimeAsISO:
            # orjson writes naive and UTC datetimes exactly as isoformat() does.
            return lambda obj: {
                _TYPE: name,
                _DATA: obj if obj.tzinfo is None or obj.tzinfo is UTC else obj.isoformat(),
            }
        return lambda obj: {_TYPE: name, _DATA: prepare(transcoding.encode(obj))}


def _json_preparer(
    encoders: dict[type, Callable[[Any], dict[str, Any]]],
) -> Callable[[Any], Any]:
    """Return a function that turns an object into what orjson writes as our JSON."""

    def prepare(obj: Any) -> Any:
        cls = type(obj)
        if cls in _JSON_SCALARS:
            return obj
        if cls is float:
            if isfinite(obj):
                return obj
            msg = f"Cannot store the float {obj!r}: JSON has no non-finite numbers."
            raise ValueError(msg)
        if cls is dict:
            return {
                key: value if type(value) in _JSON_SCALARS else prepare(value)
                for key, value in obj.items()
            }
        if cls is list:
            return [prepare(item) for item in obj]
        encoder = encoders.get(cls)
        if encoder is not None:
            return encoder(obj)
        # Subclasses of JSON types are stored as their base type, as JSONTranscoder does.
        if isinstance(obj, str | int):
            return obj
        if isinstance(obj, float):
            return prepare(float(obj))
        if isinstance(obj, dict):
            return {key: prepare(value) for key, value in obj.items()}
        if isinstance(obj, list | tuple):
            return [prepare(item) for item in obj]
        msg = (
            f"Object of type {cls} is not serializable. Please define and "
            "register a custom transcoding for this type."
        )
        raise TranscodingNotRegisteredError(msg)

    return prepare


def _json_restorer(decoders: dict[str, Callable[[Any], Any]]) -> Callable[[Any], Any]:
    """Return a function that turns what orjson read back into the encoded object.

    The walk changes the parsed dicts and lists in place and tests a dict value for
    the tag before calling anything: this is the replay hot path.
    """

    def untag(tagged: dict[str, Any]) -> Any:
        name = tagged[_TYPE]
        data = tagged[_DATA]
        cls = type(data)
        if cls is list:
            data = restore_list(data)
        elif cls is dict:
            data = restore_dict(data)
        try:
            decoder = decoders[name]
        except (KeyError, TypeError):
            msg = (
                f"Data serialized with name '{name}' is not deserializable. "
                "Please register a custom transcoding for this type."
            )
            raise TranscodingNotRegisteredError(msg) from None
        return decoder(data)

    def restore_dict(obj: dict[str, Any]) -> Any:
        if len(obj) == 2 and _TYPE in obj and _DATA in obj:
            return untag(obj)
        for key, value in obj.items():
            cls = type(value)
            if cls is dict:
                if len(value) == 2 and _TYPE in value and _DATA in value:
                    obj[key] = untag(value)
                else:
                    obj[key] = restore_dict(value)
            elif cls is list:
                obj[key] = restore_list(value)
        return obj

    def restore_list(obj: list[Any]) -> list[Any]:
        for index, value in enumerate(obj):
            cls = type(value)
            if cls is dict:
                obj[index] = restore_dict(value)
            elif cls is list:
                obj[index] = restore_list(value)
        return obj

    def restore(obj: Any) -> Any:
        cls = type(obj)
        if cls is dict:
            return restore_dict(obj)
        if cls is list:
            return restore_list(obj)
        return obj

    return restore


def _uuid_from_hex(data: str) -> UUID:
    """Return ``UUID(data)``, building it directly when ``data`` is 32 hex digits.

    ``UUID.__init__`` is pure Python and the slowest step of decoding an event;
    this sets the same two slots that ``UUID.__setstate__`` sets.
    """
    if len(data) != 32 or not data.isalnum():
        return UUID(data)
    uuid = _new_object(UUID)
    _set_slot(uuid, "int", int(data, 16))
    _set_slot(uuid, "is_safe", _UNKNOWN_SAFETY)
    return uuid


_new_object = object.__new__
_set_slot = object.__setattr__
_UNKNOWN_SAFETY = SafeUUID.unknown

_FAST_DECODERS: dict[type[Transcoding], Callable[[Any], Any]] = {
    TupleAsList: tuple,
    UUIDAsHex: _uuid_from_hex,
    DatetimeAsISO: datetime.fromisoformat,
    DecimalAsStr: Decimal,
}


def build_transcoder(*dataclass_types: type[Any]) -> OrjsonTranscoder:
    """Return a transcoder for UUIDs, datetimes, Decimals, tuples and ``dataclass_types``.

    This is the one place that decides the standard stored forms, so the
    application and the replay CLI always read what the other wrote.
    """
    transcoder = OrjsonTranscoder()
    transcoder.register(UUIDAsHex())
    transcoder.register(DatetimeAsISO())
    transcoder.register(DecimalAsStr())
    for cls in dataclass_types:
        transcoder.register_dataclass(cls)
    return transcoder


def decode_plain(data: bytes) -> dict[str, Any]:
    """Decode a stored event state into JSON-native values, without restoring types.

    Tagged values (``{"_type_": ..., "_data_": ...}``) at the top level become
    their wire data: a UUID its hex string, a datetime its ISO string, a tuple
    a list. The replay debugger only prints these, so it skips the cost of
    rebuilding Python objects.
    """
    state: dict[str, Any] = orjson.loads(data)
    for key, value in state.items():
        if type(value) is dict and _TYPE in value:
            state[key] = value[_DATA]
    return state
