"""Fault injection for /v1 calls, driven by a seeded RNG so that a run can be repeated."""

from __future__ import annotations

import random
from dataclasses import dataclass

from devtools.sandbox.config import FaultConfig


@dataclass(frozen=True, slots=True)
class Fault:
    """What to do to one call: wait ``latency`` seconds, then maybe fail as ``kind``."""

    latency: float = 0.0
    kind: str | None = None  # None | "storm_429" | "timeout" | "error"
    status: int = 0  # the status forced on the answer; 0 = whatever the handler says


class Faults:
    """Draws the same two random numbers per call whatever the outcome, so decisions depend only on
    the seed and the call's position in the run."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        self.storm_remaining = config.storm_429

    def next(self) -> Fault:
        cfg = self.config
        draw, pick = self._rng.random(), self._rng.random()
        latency = cfg.latency_ms / 1000
        if self.storm_remaining > 0:
            self.storm_remaining -= 1
            return Fault(latency, "storm_429", 429)
        if draw < cfg.timeout_rate:  # processed, but the answer comes after the client gave up
            return Fault(latency + cfg.timeout_seconds, "timeout")
        if draw < cfg.timeout_rate + cfg.error_rate:
            return Fault(latency, "error", 500 if pick < 0.5 else 503)
        return Fault(latency)
