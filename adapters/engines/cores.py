"""How many cores this process may use.

A process pinned with ``taskset`` (one ``voicemode agent`` per core) may run
on fewer cores than the machine has; threads sized to the machine's count
then share one core and every decode on it takes twice as long.
"""

from __future__ import annotations

import os


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    return max(1, len(os.sched_getaffinity(0)))
