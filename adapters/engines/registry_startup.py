"""Starting the engines a variable names, as one start-up step for every engine kind.

Each kind (:mod:`adapters.engines.translation.engines`, :mod:`adapters.engines.stt.engines`,
:mod:`adapters.engines.tts.engines`) maps a name to an engine; this module makes
them in order and puts them in the kind's registry. An engine that cannot
start stops the server with one line naming the engine and the variable
that chose it (see :mod:`adapters.startup`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from adapters.engines.registry import NamedEngine
from adapters.startup import EXIT_CONFIG, StartupError

log = logging.getLogger(__name__)

EngineT = TypeVar("EngineT", bound=NamedEngine)
RegistryT = TypeVar("RegistryT")


def start_registry(
    variable: str,
    names: Sequence[str],
    make: Callable[[str], EngineT],
    registry: Callable[[list[EngineT]], RegistryT],
) -> RegistryT:
    """Make the engine of each name ``variable`` lists, in order, and their registry.

    An engine may fail for a missing key, a model that does not load or a
    name that is no engine (any unknown name is taken for an
    OpenAI-compatible endpoint, which then lacks its ``VOICEMODE_<NAME>_*``
    settings): the engines already made are closed again.

    Raises:
        StartupError: ``variable`` names no engine, one cannot start, or the
            registry refuses them (two share a name).

    """
    if not names:
        raise StartupError(
            f"{variable} names no engine", f"Name at least one in {variable}.", EXIT_CONFIG
        )
    engines: list[EngineT] = []
    for name in names:
        try:
            engines.append(make(name))
        except Exception as error:
            log.debug("engine %s failed to start", name, exc_info=True)
            _close(engines)
            raise StartupError(
                f"{variable}: engine {name} cannot start: {error}",
                f"Fix its settings, or remove {name} from {variable}.",
                EXIT_CONFIG,
            ) from error
    try:
        return registry(engines)
    except ValueError as error:
        _close(engines)
        raise StartupError(f"{variable}: {error}", f"Fix {variable}.", EXIT_CONFIG) from error


def _close(engines: Sequence[NamedEngine]) -> None:
    """Close engines a failed start made; a close that fails is no new news."""
    for engine in engines:
        with contextlib.suppress(Exception):
            engine.close()
