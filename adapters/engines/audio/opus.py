"""WEBM_OPUS and OGG_OPUS: what browsers' MediaRecorder produces, decoded as it arrives.

A MediaRecorder stream is one container cut into timeslices: the first chunk
carries the header, later chunks continue it at arbitrary byte offsets. The
container is demuxed by libavformat (through PyAV) on one thread per stream
that reads the chunks through a blocking file-like pipe: each byte is read
once, so a long stream costs O(n), and ``feed`` returns once the demuxer has
consumed every byte it was given and asks for more, so all audio those bytes
make decodable has come out.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Final, Literal

import av
import numpy as np

from adapters.engines.audio.base import AudioDecoder, Pcm, empty_pcm
from adapters.engines.audio.errors import CorruptAudioError
from adapters.engines.audio.resample import StreamResampler

logger = logging.getLogger(__name__)

OpusEncoding = Literal["WEBM_OPUS", "OGG_OPUS"]

#: libavformat demuxer and the magic bytes every stream of that container starts with.
_CONTAINERS: Final[dict[str, tuple[str, bytes]]] = {
    "WEBM_OPUS": ("matroska", b"\x1a\x45\xdf\xa3"),
    "OGG_OPUS": ("ogg", b"OggS"),
}


class _ChunkPipe:
    """A file-like object the demuxer thread reads client chunks from, blocking when empty.

    It also tells the feeding side when the reader is starved (waiting with
    nothing left to read): at that moment everything fed so far is decoded.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._chunks: deque[bytes] = deque()
        self._ended = False
        self._starved = False
        self._finished = False

    def read(self, size: int) -> bytes:
        """Return up to ``size`` bytes, waiting for a chunk; ``b""`` (end of file) once ended."""
        with self._cond:
            while not self._chunks and not self._ended:
                self._starved = True
                self._cond.notify_all()
                self._cond.wait()
            self._starved = False
            if not self._chunks:
                return b""
            chunk = self._chunks.popleft()
            if len(chunk) > size:
                self._chunks.appendleft(chunk[size:])
                chunk = chunk[:size]
            return chunk

    def push(self, chunk: bytes) -> None:
        """Hand one client chunk to the reader."""
        with self._cond:
            self._chunks.append(chunk)
            self._starved = False
            self._cond.notify_all()

    def end(self, discard: bool = False) -> None:
        """No more chunks: the reader sees end of file (at once if ``discard``)."""
        with self._cond:
            self._ended = True
            if discard:
                self._chunks.clear()
            self._cond.notify_all()

    def mark_finished(self) -> None:
        """Called by the reader thread as it exits, so waiters stop waiting."""
        with self._cond:
            self._finished = True
            self._cond.notify_all()

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until the reader has consumed everything and wants more, or has exited."""
        with self._cond:
            return self._cond.wait_for(
                lambda: (self._starved and not self._chunks) or self._finished, timeout_s
            )


class OpusContainerDecoder(AudioDecoder):
    """Decodes one WebM or Ogg Opus stream incrementally, at 16 kHz mono.

    The first bytes must be the container's magic, so a client that declared
    the wrong encoding learns it on its first chunk. A demuxing or decoding
    failure later (truncated header, garbage, bad packets) is reported by the
    next ``feed`` or ``finish`` as ``corrupt_audio``; the decoder thread has
    then exited and the decoder is spent.

    Args:
        encoding: ``WEBM_OPUS`` or ``OGG_OPUS``.
        stall_timeout_s: longest wait for the demuxer to take up a chunk;
            past it the stream is treated as corrupt.

    """

    def __init__(self, encoding: OpusEncoding, stall_timeout_s: float = 5.0) -> None:
        self._demuxer, self._magic = _CONTAINERS[encoding]
        self._encoding = encoding
        self._stall_timeout_s = stall_timeout_s
        self._pipe = _ChunkPipe()
        self._head = b""
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._output: list[Pcm] = []
        self._error: CorruptAudioError | None = None

    def feed(self, chunk: bytes) -> Pcm:
        """Hand a chunk to the demuxer and return the audio it made decodable.

        Raises:
            CorruptAudioError: the stream does not start with the container's
                magic bytes, or demuxing or decoding failed.

        """
        self._raise_error()
        if self._thread is None:
            self._head += chunk
            if len(self._head) < len(self._magic):
                return empty_pcm()
            if not self._head.startswith(self._magic):
                self._error = CorruptAudioError(
                    f"{self._encoding} stream does not start with its header"
                )
                self._head = b""
                raise self._error
            chunk, self._head = self._head, b""
            self._thread = threading.Thread(
                target=self._demux, name=f"decode-{self._encoding.lower()}", daemon=True
            )
            self._thread.start()
        self._pipe.push(chunk)
        if not self._pipe.wait_idle(self._stall_timeout_s):
            self.close()
            raise CorruptAudioError(f"{self._encoding} decoder stalled")
        return self._take_output()

    def finish(self) -> Pcm:
        """Let the demuxer drain the last bytes and the resampler its tail.

        Raises:
            CorruptAudioError: decoding failed, or the stream ended before
                its first header was complete.

        """
        if self._thread is None:
            if self._head:
                raise CorruptAudioError(f"{self._encoding} stream ended inside its header")
            return empty_pcm()
        self._pipe.end()
        self._thread.join(self._stall_timeout_s)
        self._raise_error()
        return self._take_output()

    def close(self) -> None:
        """Stop the demuxer thread without decoding what is still queued."""
        self._pipe.end(discard=True)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(self._stall_timeout_s)

    def _demux(self) -> None:
        """Thread body: demux, decode and resample until end of file or an error."""
        resampler = StreamResampler()
        try:
            with av.open(self._pipe, mode="r", format=self._demuxer) as container:
                for frame in container.decode(audio=0):
                    self._emit(resampler.convert(frame))
            self._emit(resampler.finish())
        except (av.FFmpegError, ValueError, IndexError) as exc:
            # IndexError: no audio stream; ValueError: PyAV's own format checks.
            with self._lock:
                self._error = CorruptAudioError(f"{self._encoding} stream: {exc}")
        except Exception as exc:
            logger.exception("%s decoder failed unexpectedly", self._encoding)
            with self._lock:
                self._error = CorruptAudioError(f"{self._encoding} stream: {exc}")
        finally:
            self._pipe.mark_finished()

    def _emit(self, pcm: Pcm) -> None:
        """Queue decoded audio for the feeding side."""
        if pcm.size:
            with self._lock:
                self._output.append(pcm)

    def _take_output(self) -> Pcm:
        """Return and forget everything decoded since the last call."""
        with self._lock:
            output, self._output = self._output, []
        if not output:
            return empty_pcm()
        return np.concatenate(output)

    def _raise_error(self) -> None:
        """Re-raise the demuxer thread's failure on the caller's thread."""
        with self._lock:
            error = self._error
        if error is not None:
            raise error
