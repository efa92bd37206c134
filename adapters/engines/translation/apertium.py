"""Apertium, kept warm: one long-lived null-flush pipeline per translation direction.

Starting an Apertium pipeline costs tens to hundreds of milliseconds (a dozen
processes each loading a transducer); translating one sentence through a
running one costs about a millisecond. So each direction (``eng-spa``, ...)
gets one pipeline, started ahead of use by ``warm`` (else on first use) and
then kept running:

* The mode file's shell pipeline is rewritten by Apertium's own
  ``apertium-wblank-mode -z`` (every program gets ``-z``: process up to a NUL
  byte, write the result and a NUL, flush, keep running), and each program is
  started directly, chained by pipes, in one process group. Not through
  ``bash``: a shell holding the pipeline's ends would hide a dead program.
  Nor through the ``apertium`` wrapper: its deformatter and ``gawk`` stages
  are not null-flush safe (answers lag behind the questions).
* Deformatting is done here, for plain text: the stream format's reserved
  characters are escaped, line breaks become superblanks, and the sentence-end
  hint ``.[]`` that ``apertium-destxt`` adds is added and removed again. The
  generator runs with ``-n``, so unknown-word marks (``*``, ``#``, ``@``) are
  never written, while the same characters typed by the speaker are kept.
* One lock per pipeline; different directions run in parallel.
* A pipeline that dies is restarted once per call; if it dies again the call
  raises TranslationError. A call that passes its deadline kills the pipeline
  (the next call starts a fresh one) and raises TranslationTimeoutError.
* ``warm`` starts a pair's pipelines ahead of use (the service calls it when a
  room's languages change) and passes one sentence through each, since some
  programs load their data on the first input.
* Pairs without a direct direction are translated through pivot languages
  (shortest route over the installed directions, at most ``max_pivots``
  intermediate languages), e.g. en→fr as en→ca→fr.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import selectors
import shlex
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import IO, Final

from adapters.engines.translation.base import (
    TranslationError,
    TranslationTimeoutError,
    Translator,
    UnsupportedPairError,
)
from adapters.languages import ISO_639_1

logger = logging.getLogger(__name__)

#: ISO 639-3 codes used in Apertium mode names, mapped to the ISO 639-1 codes the
#: service keys on. Two-letter mode names (older pairs: ``es-pt``) are ISO 639-1
#: already. Languages without an ISO 639-1 code (Asturian, Silesian, ...) are
#: left out, so their pairs are not offered.
APERTIUM_TO_ISO: Final[Mapping[str, str]] = {
    "afr": "af", "ara": "ar", "arg": "an", "aze": "az", "bak": "ba", "bel": "be",
    "bre": "br", "bos": "bs", "bul": "bg", "cat": "ca", "ces": "cs", "chv": "cv",
    "cos": "co", "cym": "cy", "dan": "da", "deu": "de", "ell": "el", "eng": "en",
    "epo": "eo", "est": "et", "eus": "eu", "fao": "fo", "fin": "fi", "fra": "fr",
    "fry": "fy", "gla": "gd", "gle": "ga", "glg": "gl", "glv": "gv", "heb": "he",
    "hin": "hi", "hrv": "hr", "hun": "hu", "hye": "hy", "ind": "id", "isl": "is",
    "ita": "it", "kaz": "kk", "kir": "ky", "kur": "ku", "lat": "la", "lav": "lv",
    "lit": "lt", "ltz": "lb", "mkd": "mk", "mlt": "mt", "msa": "ms", "nld": "nl",
    "nno": "nn", "nob": "nb", "nor": "no", "oci": "oc", "pol": "pl", "por": "pt",
    "ron": "ro", "rus": "ru", "slk": "sk", "slv": "sl", "sme": "se", "spa": "es",
    "sqi": "sq", "srd": "sc", "srp": "sr", "swe": "sv", "tat": "tt", "tur": "tr",
    "ukr": "uk", "urd": "ur", "uzb": "uz",
}  # fmt: skip

_MODE_NAME = re.compile(r"^([a-z]{2,3})-([a-z]{2,3})\.mode$")
_RESERVED = frozenset("\\[]^$/<>{}@")
_LINE_BREAKS = re.compile(r"[\r\n]+")
_SPACE_RUNS = re.compile(r" {2,}")
_SENTENCE_END_HINT = ".[]"
_READ_CHUNK = 65536
_STDERR_TAIL = 400
#: What a pipeline translates once when warmed: any text makes every program
#: load its data (a first real sentence after it measured as fast as the next).
_WARM_UP_TEXT = "Hello, this is a test."
#: Time limit for warming one direction: starting a pipeline on a busy machine
#: can take seconds, and nobody waits for it.
WARM_UP_TIMEOUT_S = 60.0


def _default_data_dirs() -> tuple[Path, ...]:
    """Return where Debian packages and ``make install`` put Apertium data."""
    configured = os.environ.get("APERTIUM_DATADIR")
    if configured:
        return (Path(configured),)
    return (Path("/usr/share/apertium"), Path("/usr/local/share/apertium"))


def _iso_code(apertium_code: str) -> str | None:
    """Return the ISO 639-1 code of a language named in a mode file, if it has one."""
    if len(apertium_code) == 2:
        return apertium_code if apertium_code in ISO_639_1 else None
    return APERTIUM_TO_ISO.get(apertium_code)


def _deformat(text: str) -> bytes:
    """Turn plain text into Apertium stream format, as ``apertium-destxt`` would.

    Reserved characters are backslash-escaped, line breaks are wrapped in
    superblanks, NUL (the flush marker) becomes a space, and ``.[]`` is appended
    so the tagger sees a sentence end.
    """
    escaped = "".join("\\" + char if char in _RESERVED else char for char in text)
    escaped = _LINE_BREAKS.sub(lambda match: "[" + match.group(0) + "]", escaped)
    return (escaped.replace("\0", " ") + _SENTENCE_END_HINT).encode(errors="replace")


def _reformat(stream: bytes) -> str:
    """Turn the pipeline's output back into plain text, as ``apertium-retxt`` would.

    Drops the sentence-end hint, superblank brackets and escapes; collapses the
    double spaces left where a word was dropped (e.g. a subject pronoun).
    """
    text = stream.decode(errors="replace").rstrip()
    if text.endswith("[]"):
        text = text[:-2]
    if text.endswith("."):
        text = text[:-1]
    plain: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            plain.append(text[index + 1])
            index += 2
            continue
        if char not in "[]":
            plain.append(char)
        index += 1
    return _SPACE_RUNS.sub(" ", "".join(plain)).strip()


class _PipelineDiedError(Exception):
    """The pipeline's processes went away during an exchange (internal)."""


def _commands(script: str) -> list[list[str]]:
    """Split a mode's shell pipeline into argument lists, filling in its options.

    Mode files are plain ``prog args | prog args ...`` pipelines whose ``$1`` is
    the generator's option (``-n``: no unknown-word marks) and ``$2`` the
    tagger's (none). Anything else a shell would interpret is refused rather
    than guessed at.

    Raises:
        TranslationError: the script uses other shell syntax.

    """
    lexer = shlex.shlex(script, posix=True, punctuation_chars="|;&<>()")
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token == "|":
            commands.append([])
        elif token == "$1":
            commands[-1].append("-n")
        elif token != "$2":
            if token[0] in "|;&<>()" or "$" in token or "`" in token:
                raise TranslationError(f"unsupported shell syntax {token!r} in mode: {script}")
            commands[-1].append(token)
    if not all(commands):
        raise TranslationError(f"empty command in mode pipeline: {script!r}")
    return commands


class _Pipeline:
    """One running Apertium direction and the lock that serialises its use.

    Every program of the pipeline is a direct child of this process, in one
    process group: when any of them dies the pipe chain reports end of file or
    a broken pipe, and every process is reaped when the pipeline is stopped.
    """

    def __init__(self, label: str, mode: Path) -> None:
        self.label = label
        self._mode = mode
        self._lock = threading.Lock()
        self._commands: list[list[str]] | None = None
        self._processes: list[subprocess.Popen[bytes]] = []
        self._stderr: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """Return the process group id of the running pipeline, if it is whole."""
        if not self._running():
            return None
        return self._processes[0].pid

    def translate(self, text: str, deadline: float) -> str:
        """Translate one text; restart a dead pipeline once; honour ``deadline``."""
        if not self._lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise TranslationTimeoutError(f"apertium {self.label}: busy until the deadline")
        try:
            failure: _PipelineDiedError | None = None
            for _attempt in range(2):
                if not self._running():
                    self._start(deadline)
                try:
                    return _reformat(self._exchange(_deformat(text), deadline))
                except _PipelineDiedError as exc:
                    logger.warning("apertium %s pipeline died: %s", self.label, exc)
                    failure = exc
                    self.stop()
            raise TranslationError(
                f"apertium {self.label}: pipeline died twice: {failure}"
            ) from failure
        finally:
            self._lock.release()

    def warm(self, deadline: float) -> None:
        """Start the pipeline and pass one sentence through it, unless it is running or busy.

        Starting is not enough: some programs load their data on the first
        input (ca→fr takes about a second more there), so a sentence goes
        through and its answer is dropped. A busy pipeline is being started
        or used by a translation already, so this returns at once.
        """
        if not self._lock.acquire(blocking=False):
            return
        try:
            if self._running():
                return
            self._start(deadline)
            try:
                self._exchange(_deformat(_WARM_UP_TEXT), deadline)
            except _PipelineDiedError as exc:
                self.stop()
                raise TranslationError(f"apertium {self.label}: died warming up: {exc}") from exc
            logger.info("apertium %s pipeline warm", self.label)
        finally:
            self._lock.release()

    def stop(self) -> None:
        """Kill and reap every process of the pipeline; the next call starts a new one."""
        processes, stderr = self._processes, self._stderr
        self._processes, self._stderr = [], None
        if processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(processes[0].pid, signal.SIGKILL)
        for process in processes:
            process.wait()
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
        if stderr is not None:
            stderr.close()

    def _running(self) -> bool:
        """Tell whether the pipeline is started and none of its programs has exited."""
        return bool(self._processes) and all(p.poll() is None for p in self._processes)

    def _start(self, deadline: float) -> None:
        """Start every program of the null-flush pipeline, chained by pipes."""
        self.stop()
        if self._commands is None:
            self._commands = _commands(self._null_flush_script(deadline))
        # Kept open for the pipeline's lifetime and closed in stop(), so no `with`.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            for argv in self._commands:
                previous = self._processes[-1] if self._processes else None
                self._processes.append(
                    subprocess.Popen(
                        argv,
                        stdin=subprocess.PIPE if previous is None else previous.stdout,
                        stdout=subprocess.PIPE,
                        stderr=self._stderr,
                        process_group=0 if previous is None else self._processes[0].pid,
                    )
                )
                if previous is not None and previous.stdout is not None:
                    previous.stdout.close()  # only the next program reads it
                    previous.stdout = None
        except (OSError, subprocess.SubprocessError) as exc:
            self.stop()
            raise TranslationError(f"apertium {self.label}: cannot start: {exc}") from exc
        stdin = self._processes[0].stdin
        assert stdin is not None
        os.set_blocking(stdin.fileno(), False)
        logger.info("apertium %s pipeline started, pid %d", self.label, self._processes[0].pid)

    def _null_flush_script(self, deadline: float) -> str:
        """Return the mode's pipeline with ``-z`` on every program, from Apertium's own tool."""
        command = ["apertium-wblank-mode", "-z", str(self._mode)]
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                check=True,
                timeout=max(0.0, deadline - time.monotonic()),
            )
        except subprocess.TimeoutExpired as exc:
            raise TranslationTimeoutError(f"apertium {self.label}: {exc}") from exc
        except (OSError, subprocess.CalledProcessError) as exc:
            raise TranslationError(f"apertium {self.label}: {exc}") from exc
        return result.stdout

    def _exchange(self, payload: bytes, deadline: float) -> bytes:
        """Write ``payload`` and a NUL, read up to the answering NUL.

        Writing and reading are interleaved so a long text cannot deadlock on
        full pipe buffers.
        """
        first, last = self._processes[0], self._processes[-1]
        assert first.stdin is not None and last.stdout is not None
        stdin, stdout = first.stdin.fileno(), last.stdout.fileno()
        pending = memoryview(payload + b"\0")
        received = bytearray()
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            selector.register(stdin, selectors.EVENT_WRITE)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.stop()
                    raise TranslationTimeoutError(f"apertium {self.label}: no answer in time")
                for key, _events in selector.select(remaining):
                    if key.fd == stdin:
                        try:
                            written = os.write(stdin, pending[:_READ_CHUNK])
                        except BrokenPipeError as exc:
                            raise _PipelineDiedError(self._death_note("input closed")) from exc
                        pending = pending[written:]
                        if not pending:
                            selector.unregister(stdin)
                        continue
                    chunk = os.read(stdout, _READ_CHUNK)
                    if not chunk:
                        raise _PipelineDiedError(self._death_note("output closed"))
                    received += chunk
                    end = received.find(0)
                    if end >= 0:
                        if end + 1 < len(received):
                            logger.warning("apertium %s: output out of step", self.label)
                            self.stop()
                        return bytes(received[:end])

    def _death_note(self, what: str) -> str:
        """Describe why the pipeline is considered dead, with the end of its stderr."""
        tail = b""
        if self._stderr is not None:
            fd = self._stderr.fileno()
            size = os.fstat(fd).st_size
            tail = os.pread(fd, _STDERR_TAIL, max(0, size - _STDERR_TAIL))
        return f"{what}; stderr: {tail.decode(errors='replace').strip() or '(empty)'}"


class ApertiumTranslator(Translator):
    """The embedded, offline translation engine: installed Apertium pairs, kept warm.

    Args:
        data_dirs: Apertium data directories (each with a ``modes/`` folder);
            by default ``$APERTIUM_DATADIR``, else ``/usr/share/apertium`` and
            ``/usr/local/share/apertium``. The first directory naming a
            direction wins.
        timeout_s: time limit for one ``translate`` call, all hops included.
        max_pivots: how many intermediate languages a route may use (0: direct
            pairs only). Each hop costs quality, so keep this small.

    """

    name = "apertium"

    def __init__(
        self,
        data_dirs: Sequence[Path] | None = None,
        timeout_s: float = 5.0,
        max_pivots: int = 2,
    ) -> None:
        self.timeout_s = timeout_s
        self._modes = self._discover(_default_data_dirs() if data_dirs is None else data_dirs)
        self._routes = self._plan_routes(self._modes, max_pivots)
        self._pipelines: dict[tuple[str, str], _Pipeline] = {}
        self._pipelines_lock = threading.Lock()

    def supports(self, source: str, target: str) -> bool:
        """Whether a direct or pivot route exists between the two languages."""
        return (source, target) in self._routes

    def available_pairs(self) -> dict[tuple[str, str], tuple[str, ...]]:
        """Every supported pair and its route (``("en", "ca", "fr")`` for a pivot).

        This is what the README's list of working pairs is made from.
        """
        return dict(self._routes)

    def translate(self, text: str, source: str, target: str) -> str:
        """Translate ``text`` along the pair's route; blocking.

        Whitespace-only text is returned unchanged without touching a pipeline.

        Raises:
            UnsupportedPairError: no route between the languages.
            TranslationTimeoutError: the route did not finish within ``timeout_s``.
            TranslationError: a pipeline died twice, or could not be started.

        """
        route = self._routes.get((source, target))
        if route is None:
            raise UnsupportedPairError(f"apertium has no route from {source!r} to {target!r}")
        result = text.strip()
        if not result:
            return text
        deadline = time.monotonic() + self.timeout_s
        for hop in pairwise(route):
            result = self._pipeline(hop).translate(result, deadline)
        return result

    def warm(self, source: str, target: str) -> None:
        """Start the pipelines of the pair's route (pivots included) and warm them up.

        Blocking; a pipeline already running (or in use) is left alone, so
        calling it again is cheap. An unsupported pair has nothing to warm.

        Raises:
            TranslationTimeoutError: a pipeline did not start within the
                warm-up limit (``WARM_UP_TIMEOUT_S``).
            TranslationError: a pipeline could not be started.

        """
        route = self._routes.get((source, target))
        if route is None:
            return
        for hop in pairwise(route):
            self._pipeline(hop).warm(time.monotonic() + WARM_UP_TIMEOUT_S)

    def pipeline_pid(self, source: str, target: str) -> int | None:
        """Process id of the running pipeline of a direct direction, if running.

        It exists so operators and tests can see that pipelines stay warm: the
        same id serves call after call until the pipeline dies or is killed.
        """
        with self._pipelines_lock:
            pipeline = self._pipelines.get((source, target))
        return None if pipeline is None else pipeline.pid

    def close(self) -> None:
        """Kill every running pipeline; a later call starts them again."""
        with self._pipelines_lock:
            pipelines = list(self._pipelines.values())
        for pipeline in pipelines:
            pipeline.stop()

    def _pipeline(self, direction: tuple[str, str]) -> _Pipeline:
        """Return the pipeline object of a direct direction, created on first use."""
        with self._pipelines_lock:
            pipeline = self._pipelines.get(direction)
            if pipeline is None:
                mode = self._modes[direction]
                pipeline = self._pipelines[direction] = _Pipeline(mode.stem, mode)
            return pipeline

    @staticmethod
    def _discover(data_dirs: Iterable[Path]) -> dict[tuple[str, str], Path]:
        """Find the direct directions (ISO codes) and their mode files."""
        modes: dict[tuple[str, str], Path] = {}
        for data_dir in data_dirs:
            modes_dir = data_dir / "modes"
            if not modes_dir.is_dir():
                continue
            for mode in sorted(modes_dir.iterdir()):
                match = _MODE_NAME.match(mode.name)
                if match is None:
                    continue
                source, target = _iso_code(match.group(1)), _iso_code(match.group(2))
                if source is not None and target is not None and source != target:
                    modes.setdefault((source, target), mode)
        return modes

    @staticmethod
    def _plan_routes(
        modes: Mapping[tuple[str, str], Path], max_pivots: int
    ) -> dict[tuple[str, str], tuple[str, ...]]:
        """Find the shortest route of every reachable pair (breadth-first, ties by code)."""
        graph: dict[str, list[str]] = {}
        for source, target in sorted(modes):
            graph.setdefault(source, []).append(target)
        routes: dict[tuple[str, str], tuple[str, ...]] = {}
        for origin in sorted(graph):
            seen = {origin}
            queue: deque[tuple[str, ...]] = deque([(origin,)])
            while queue:
                route = queue.popleft()
                if len(route) > max_pivots + 1:
                    continue
                for language in graph.get(route[-1], []):
                    if language in seen:
                        continue
                    seen.add(language)
                    routes[(origin, language)] = (*route, language)
                    queue.append((*route, language))
        return routes
