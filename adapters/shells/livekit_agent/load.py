"""How loaded a worker tells LiveKit it is: its own CPU use, not its machine's.

LiveKit offers a room to one of the available workers at random, weighted by
``1 - load``. livekit-agents reports the CPU use of the whole machine, so
two workers on one machine (one per core, say) look alike to LiveKit however
their rooms are spread, and the split is a coin toss. Each worker here
reports the CPU its own process used (with its finished children, espeak-ng
among them) over the last seconds, as a share of the cores it may run on
(its CPU affinity: ``taskset`` pins it), so LiveKit sends new rooms to the
worker with room to spare. On a machine of its own a worker's share is close
to the machine's.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque

from adapters.engines.cores import usable_cores

MAX_REPORTED_LOAD = 0.99
"""The highest load a worker tells LiveKit, which offers nothing to one at 1 (capped_load)."""
WINDOW_S = 2.5
"""The span a load is measured over: livekit-agents' own, and how often it reports."""
MIN_SPAN_S = 0.5
"""A load asked for sooner than this after the previous sample repeats the last one."""


def capped_load(load: float) -> float:
    """``load`` as told to LiveKit: never 1, so the worker's own threshold decides when it is full.

    LiveKit picks among the workers that call themselves available at
    random, weighted by ``1 - load``, and refuses the job ("no workers with
    sufficient capacity") when every weight is 0. A saturated worker
    reports 1, so a lone worker with ``--load-threshold inf``, which must
    take every room, was refused all of them while its CPU was busy.
    """
    return min(max(load, 0.0), MAX_REPORTED_LOAD)


class ProcessLoad:
    """The CPU use of the running process over the last ``WINDOW_S``, as a share of its cores.

    Called by livekit-agents on a pool thread, every 2.5 s and before it
    accepts a job; thread-safe.
    """

    def __init__(self) -> None:
        self._cores = usable_cores()
        self._lock = threading.Lock()
        self._samples: deque[tuple[float, float]] = deque([(time.monotonic(), self._cpu_s())])
        self._load = 0.0

    def __call__(self) -> float:
        """The load to report now."""
        with self._lock:
            now = time.monotonic()
            if now - self._samples[-1][0] >= MIN_SPAN_S:
                self._samples.append((now, self._cpu_s()))
                while len(self._samples) > 2 and now - self._samples[1][0] >= WINDOW_S:
                    self._samples.popleft()
                (then, before), (_, cpu) = self._samples[0], self._samples[-1]
                if now > then:
                    self._load = (cpu - before) / (now - then) / self._cores
            return capped_load(self._load)

    @staticmethod
    def _cpu_s() -> float:
        times = os.times()
        return times.user + times.system + times.children_user + times.children_system
