"""Benchmark-only workaround, put on PYTHONPATH of the subprocesses the benches start.

``events/store.py`` imports ``events.postgres``, which is not in the tree yet,
so nothing that touches the store can even be imported. If (and only if) that
module is missing, this registers a stub for it: SQLite works unchanged and a
``postgresql://`` store raises. Delete this directory once the module exists.
"""

from __future__ import annotations

import sys

try:  # the benches' shared helper, importable because bench/ is on sys.path too
    from _workarounds import install_postgres_stub
except ImportError:  # pragma: no cover - shim used outside the benches
    pass
else:
    install_postgres_stub()

# Keep whatever sitecustomize the interpreter would otherwise have run.
del sys
