"""Per-connection rate limiting."""

from __future__ import annotations

import time


class TokenBucket:
    """Allows ``rate`` events per second on average, bursts up to ``burst``.

    Not thread-safe: each connection owns one and uses it on the loop thread.
    """

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._tokens = float(burst)
        self._stamp = time.monotonic()

    def take(self, cost: float = 1.0) -> bool:
        """Spend ``cost`` tokens if available; False means over the limit."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens < cost:
            return False
        self._tokens -= cost
        return True
