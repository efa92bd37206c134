"""espeak-ng (Debian package ``espeak-ng``): robotic but instant, offline, over 100 languages.

One ``espeak-ng --stdout`` process per utterance; the text goes in on stdin
(never on the command line), the WAV stream comes back on stdout and is
forwarded chunk by chunk after its header. Starting the process and
synthesizing the first phrase take a few milliseconds. The process runs
niced (``nice -n 10``): under load, delivering text comes before speaking it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import IO, Final

from adapters.engines.tts.base import (
    SpeechSynthesizer,
    SynthesisError,
    SynthesisTimeoutError,
    UnknownVoiceError,
    UnsupportedLanguageError,
    Voice,
)
from adapters.languages import ISO_639_1

_SAMPLE_RATE: Final = 22050
_WAV_HEADER: Final = 44
#: The first chunk is small, so a listener hears speech soon; the rest come in
#: larger chunks (about 0.75 s each), since every chunk is a WebSocket frame to
#: every listener and frames, not bytes, are what cost the server time.
_FIRST_CHUNK: Final = 8192
_CHUNK: Final = 32768
#: Text is written to espeak-ng's stdin before its audio is read: it must fit the
#: pipe buffer (64 KiB on Linux). Spoken sentences are far shorter.
_MAX_TEXT_BYTES: Final = 32 * 1024
_STDERR_TAIL: Final = 400
#: Niceness of the espeak-ng processes, so they never starve the server's own threads.
_NICENESS: Final = 10
#: espeak-ng language codes that are not ISO 639-1 but stand for one.
_ESPEAK_TO_ISO: Final[Mapping[str, str]] = {"cmn": "zh"}
_REGIONAL_PENALTY: Final = 100
_VOICE_LINE = re.compile(r"^\s*(\d+)\s+(\S+)\s+\S*/(\S)\s+(\S+)\s+(\S+)\s*(.*)$")
_OTHER_LANGUAGE = re.compile(r"\((\S+) (\d+)\)")


def _iso(language_tag: str) -> str | None:
    """ISO 639-1 code of an espeak-ng language tag (``es-419`` -> ``es``), if it has one."""
    primary = language_tag.split("-", 1)[0].lower()
    primary = _ESPEAK_TO_ISO.get(primary, primary)
    return primary if primary in ISO_639_1 else None


def _language_ranks(tag: str, iso: str, priority: int, others: str) -> Iterator[tuple[str, int]]:
    """Rank the ISO languages one voice speaks, as espeak-ng resolves ``-v <language>``.

    Exact entries (its own tag, its "Other Languages" list) count with their
    priority; the tag's primary language (``fr`` for ``fr-be``) only after those.
    """
    listed = [
        (tag, priority),
        *((lang, int(rank)) for lang, rank in _OTHER_LANGUAGE.findall(others)),
    ]
    for language, rank in listed:
        key = _ESPEAK_TO_ISO.get(language, language)
        if key in ISO_639_1:
            yield key, rank
    yield iso, priority + _REGIONAL_PENALTY


@dataclass(frozen=True)
class _Catalogue:
    """What ``espeak-ng --voices`` lists: voices, variants, the default voice per language."""

    voices: tuple[Voice, ...]
    variants: frozenset[str]
    defaults: Mapping[str, str]


class EspeakSynthesizer(SpeechSynthesizer):
    """Runs the espeak-ng program; any number of calls may run at once.

    Voices are espeak-ng's language tags (``en-us``, ``es-419``), optionally
    with a variant (``en-us+f3``). Without a voice, a language gets the voice
    espeak-ng itself ranks first for it (``en`` -> ``en-gb``).

    Args:
        executable: the espeak-ng program.
        words_per_minute: speaking rate.
        timeout_s: time limit for one utterance; the process is killed past it.

    Raises:
        FileNotFoundError: espeak-ng is not installed.

    """

    name = "espeak-ng"
    sample_rate = _SAMPLE_RATE

    def __init__(
        self, executable: str = "espeak-ng", words_per_minute: int = 165, timeout_s: float = 10.0
    ) -> None:
        found = shutil.which(executable)
        if found is None:
            raise FileNotFoundError(f"{executable} not found: apt-get install espeak-ng")
        self._executable = found
        nice = shutil.which("nice")
        self._prefix = [nice, "-n", str(_NICENESS)] if nice else []
        self._words_per_minute = words_per_minute
        self._timeout_s = timeout_s

    def supports(self, language: str) -> bool:
        """Whether espeak-ng has a voice for ``language``."""
        return language in self._catalogue.defaults

    def voices(self, language: str | None = None) -> tuple[Voice, ...]:
        """List espeak-ng's voices that have an ISO 639-1 language, or those of one language."""
        voices = self._catalogue.voices
        return voices if language is None else tuple(v for v in voices if v.language == language)

    def default_voice(self, language: str) -> str:
        """Return the voice espeak-ng ranks first for ``language``.

        Raises:
            UnsupportedLanguageError: espeak-ng has no voice for it.

        """
        try:
            return self._catalogue.defaults[language]
        except KeyError:
            raise UnsupportedLanguageError(f"espeak-ng has no voice for {language!r}") from None

    def synthesize(self, text: str, language: str, voice: str | None = None) -> Iterator[bytes]:
        """Stream the PCM of ``text`` as espeak-ng produces it (see the base class)."""
        command = [
            *self._prefix,
            self._executable,
            "--stdout",
            "-b",
            "1",
            "-s",
            str(self._words_per_minute),
            "-v",
            self._resolve_voice(language, voice),
        ]
        return self._run(command, text)

    def _resolve_voice(self, language: str, voice: str | None) -> str:
        """Validate a chosen voice (and variant), or pick the language's default.

        Raises:
            UnknownVoiceError: not a listed voice or variant.
            UnsupportedLanguageError: no voice chosen and none for the language.

        """
        if voice is None:
            return self.default_voice(language)
        base, _, variant = voice.partition("+")
        known = {v.id for v in self._catalogue.voices}
        if base not in known or (variant and variant not in self._catalogue.variants):
            raise UnknownVoiceError(f"espeak-ng has no voice {voice!r}")
        return voice

    def _run(self, command: list[str], text: str) -> Iterator[bytes]:
        """Run one espeak-ng process and yield its PCM after the WAV header."""
        data = text.encode()
        if len(data) > _MAX_TEXT_BYTES:
            raise SynthesisError(f"text of {len(data)} bytes is over {_MAX_TEXT_BYTES}")
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
        )
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            process.kill()

        timer = threading.Timer(self._timeout_s, kill)
        timer.start()
        try:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(data)
            process.stdin.close()
            header = _read_exactly(process.stdout, _WAV_HEADER)
            if header:
                _check_header(header)
            size = _FIRST_CHUNK
            while chunk := process.stdout.read(size):
                yield chunk
                size = _CHUNK
            returncode = process.wait()
            if killed.is_set():
                raise SynthesisTimeoutError(f"espeak-ng ran past {self._timeout_s} s")
            if returncode != 0:
                stderr = process.stderr.read() if process.stderr else b""
                message = stderr.decode(errors="replace")[-_STDERR_TAIL:]
                raise SynthesisError(f"espeak-ng exited with {returncode}: {message}")
        except BrokenPipeError as exc:
            raise SynthesisError(f"espeak-ng closed its input: {exc}") from exc
        finally:
            timer.cancel()
            if process.poll() is None:
                process.kill()
            process.wait()
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:
                    stream.close()

    @cached_property
    def _catalogue(self) -> _Catalogue:
        """Ask espeak-ng once for its voices and variants."""
        voices: list[Voice] = []
        ranked: dict[str, tuple[int, str]] = {}
        for line in self._list("--voices")[1:]:
            match = _VOICE_LINE.match(line)
            if not match:
                continue
            priority, tag, gender, name, _, others = match.groups()
            iso = _iso(tag)
            if iso is None or any(v.id == tag for v in voices):
                continue
            voices.append(Voice(tag, name.replace("_", " "), iso, gender, self.name))
            for language, rank in _language_ranks(tag, iso, int(priority), others):
                if language not in ranked or rank < ranked[language][0]:
                    ranked[language] = (rank, tag)
        variants = frozenset(
            match.group(5).removeprefix("!v/")
            for line in self._list("--voices=variant")[1:]
            if (match := _VOICE_LINE.match(line))
        )
        defaults = {iso: tag for iso, (_, tag) in ranked.items()}
        return _Catalogue(tuple(voices), variants, defaults)

    def _list(self, option: str) -> list[str]:
        """Run ``espeak-ng <option>`` and return its output lines."""
        result = subprocess.run(
            [self._executable, option],
            capture_output=True,
            check=True,
            timeout=self._timeout_s,
            text=True,
        )
        return result.stdout.splitlines()


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    """Read ``size`` bytes, or fewer only at end of stream."""
    data = b""
    while len(data) < size and (chunk := stream.read(size - len(data))):
        data += chunk
    return data


def _check_header(header: bytes) -> None:
    """Make sure espeak-ng wrote the 44-byte mono 16-bit WAV header this reader expects.

    Raises:
        SynthesisError: it wrote something else.

    """
    channels = int.from_bytes(header[22:24], "little")
    rate = int.from_bytes(header[24:28], "little")
    bits = int.from_bytes(header[34:36], "little")
    well_formed = header[:4] == b"RIFF" and header[8:12] == b"WAVE" and header[36:40] == b"data"
    if not well_formed or (channels, rate, bits) != (1, _SAMPLE_RATE, 16):
        raise SynthesisError("espeak-ng wrote an unexpected WAV header")
