"""Work-arounds for bugs in the core the benchmarks hit (see the bench README table).

Each one activates only when the bug is present, so the benches keep working
unchanged once the core is fixed.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHIM_DIR = Path(__file__).resolve().parent / "_shim"
NOTES: list[str] = []


def postgres_module_missing() -> bool:
    """``events/store.py`` imports ``events.postgres``; is that file absent?"""
    return not (ROOT / "events" / "postgres.py").exists()


class _PostgresStubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Provides ``events.postgres`` only when the real module cannot be found."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "events.postgres":
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            try:
                spec = finder.find_spec(fullname, path, target)  # type: ignore[attr-defined]
            except (AttributeError, ImportError):
                continue
            if spec is not None:
                return spec
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: Any) -> types.ModuleType | None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        def postgres_environment(db: str) -> dict[str, str]:
            raise RuntimeError("bench stub: events/postgres.py is missing from the tree")

        module.postgres_environment = postgres_environment  # type: ignore[attr-defined]


def install_postgres_stub() -> None:
    """Register the stub finder once (no-op when the real module exists)."""
    if not postgres_module_missing():
        return
    if not any(isinstance(f, _PostgresStubFinder) for f in sys.meta_path):
        sys.meta_path.append(_PostgresStubFinder())
    note = ("events/store.py:27 imports events.postgres, which does not exist "
            "(ModuleNotFoundError on any import of the store): stubbed for the bench")
    if note not in NOTES:
        NOTES.append(note)


def subprocess_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` plus what a ``voicemode`` subprocess needs to get the same work-arounds."""
    if not postgres_module_missing():
        return env
    bench_dir = str(Path(__file__).resolve().parent)
    parts = [str(SHIM_DIR), bench_dir]
    if env.get("PYTHONPATH"):
        parts.append(env["PYTHONPATH"])
    return {**env, "PYTHONPATH": ":".join(parts)}
