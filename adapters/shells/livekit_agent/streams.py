"""Narrowing livekit.rtc's event subscriptions to what each reader needs.

livekit.rtc hands every native event to every subscriber of its process-wide
queue whose filter accepts it, each through a ``call_soon_threadsafe`` onto
the subscriber's event loop (a self-pipe write and a thread switch). The
filters are broad: an ``AudioStream`` takes every audio frame of every track
in the process and throws away the ones that are not its own, and a ``Room``
takes every event but media frames, other rooms' events and the
acknowledgements of every ``AudioSource.capture_frame`` included. With a job
loop per room, an agent serving N rooms does N times the work per frame that
it needs, which grows with the square of the rooms a process serves.

These functions swap a subscriber's filter for a narrower one in place,
under the queue's lock: the subscriber keeps its queue (nothing queued is
lost or reordered) and from then on is woken only by its own events.
"""

from __future__ import annotations

from collections.abc import Callable

from livekit import rtc
from livekit.rtc._ffi_client import FfiClient
from livekit.rtc._proto.ffi_pb2 import FfiEvent

Accept = Callable[[FfiEvent], bool]

MEDIA_EVENTS = frozenset({"audio_stream_event", "video_stream_event", "capture_audio_frame"})
"""Events a room never reads: each stream and each capture call subscribes for its own."""


def own_audio_stream(track: rtc.Track, sample_rate: int, frame_size_ms: int) -> rtc.AudioStream:
    """A mono ``AudioStream`` of ``track`` whose loop is woken only by that track's frames."""
    stream = rtc.AudioStream.from_track(
        track=track, sample_rate=sample_rate, num_channels=1, frame_size_ms=frame_size_ms
    )
    handle = stream._ffi_handle.handle

    def its_own(event: FfiEvent) -> bool:
        return (
            event.WhichOneof("message") == "audio_stream_event"
            and event.audio_stream_event.stream_handle == handle
        )

    _refilter(stream._ffi_queue, its_own)
    return stream


def hear_own_room_only(room: rtc.Room) -> None:
    """Stop waking a connected room's loop for media, captures and other rooms' events.

    It still takes everything else: the answers to its own requests
    (publishing, data) are not room events and are told apart later.
    """
    if room._ffi_handle is None:
        return  # not connected: nothing to narrow
    handle = room._ffi_handle.handle

    def its_own(event: FfiEvent) -> bool:
        kind = event.WhichOneof("message")
        if kind in MEDIA_EVENTS:
            return False
        return kind != "room_event" or event.room_event.room_handle == handle

    _refilter(room._ffi_queue, its_own)


def _refilter(queue: object, accept: Accept) -> None:
    """Give the subscription feeding ``queue`` the filter ``accept``."""
    events = FfiClient.instance.queue
    with events._lock:
        events._subscribers[:] = [
            (subscribed, loop, accept if subscribed is queue else current)
            for subscribed, loop, current in events._subscribers
        ]
