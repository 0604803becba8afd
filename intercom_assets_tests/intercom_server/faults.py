"""Fault knobs of the test server: seeded random HTTP failures and one-shot companies-scroll failures.

Clients must survive what the real API does under load (429, 5xx, truncated bodies, dropped
connections, slow answers) and the companies-scroll rules; these knobs make each of those
happen on demand and reproducibly (the random draws come from a seeded generator).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field, fields

RATE_KNOBS: tuple[str, ...] = ("rate429", "rate500", "rate502", "rate503", "truncate", "close", "slow")
"""Per-request probabilities, drawn once per request in this order (mutually exclusive outcomes)."""


@dataclass
class Faults:
    """Fault configuration; every knob defaults to "off".

    Rates are probabilities per request. `paths` restricts the rate knobs to requests whose
    "METHOD /path-template" key or path template starts with one of the given prefixes.
    """

    rate429: float = 0.0
    rate500: float = 0.0
    rate502: float = 0.0
    rate503: float = 0.0
    truncate: float = 0.0
    close: float = 0.0
    slow: float = 0.0
    slow_seconds: float = 2.0
    scroll_exists: int = 0
    scroll_expire_after_pages: int | None = None
    scroll_500_after_pages: int | None = None
    paths: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        total = 0.0
        for name in RATE_KNOBS:
            value = float(getattr(self, name))
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"fault rate {name}={value} must be within [0, 1]")
            total += value
        if total > 1.0 + 1e-9:
            raise ValueError(f"fault rates add up to {total:.3f}, more than 1")
        if self.slow_seconds < 0:
            raise ValueError("slow_seconds must not be negative")
        if self.scroll_exists < 0:
            raise ValueError("scroll_exists must not be negative")
        for name in ("scroll_expire_after_pages", "scroll_500_after_pages"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative")

    @classmethod
    def parse(cls, spec: str) -> Faults:
        """Parse the CLI form "rate429=0.05,truncate=0.01,scroll_exists=2,paths=/conversations/{id}|/tags".

        `paths` takes several prefixes separated by "|" because "," separates the knobs.
        """
        known = {f.name: f for f in fields(cls)}
        values: dict[str, object] = {}
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            name, sep, raw = item.partition("=")
            name = name.strip()
            if not sep or name not in known:
                raise ValueError(f"unknown or malformed fault knob: {item!r}")
            raw = raw.strip()
            if name == "paths":
                values[name] = [p for p in raw.split("|") if p]
            elif name in RATE_KNOBS or name == "slow_seconds":
                values[name] = float(raw)
            elif raw.lower() in ("", "none"):
                values[name] = None if name != "scroll_exists" else 0
            else:
                values[name] = int(raw)
        return cls(**values)  # type: ignore[arg-type]


class FaultInjector:
    """Thread-safe holder of the current Faults with a seeded generator and one-shot state."""

    def __init__(self, faults: Faults, seed: int) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self.set(faults)

    def set(self, faults: Faults) -> None:
        """Replace the knobs; the generator restarts from the seed so runs stay reproducible."""
        with self._lock:
            self._faults = faults
            self._rng = random.Random(self._seed)
            self._scroll_exists_left = faults.scroll_exists
            self._expire_used = False
            self._scroll_500_used = False

    @property
    def faults(self) -> Faults:
        return self._faults

    def draw(self, key: str, template: str) -> str | None:
        """Pick the random fault (a RATE_KNOBS name) for one request, or None."""
        with self._lock:
            faults = self._faults
            if faults.paths and not any(key.startswith(p) or template.startswith(p) for p in faults.paths):
                return None
            if not any(getattr(faults, name) for name in RATE_KNOBS):
                return None
            roll = self._rng.random()
        threshold = 0.0
        for name in RATE_KNOBS:
            threshold += getattr(faults, name)
            if roll < threshold:
                return name
        return None

    def take_scroll_exists(self) -> bool:
        """True when this scroll start must be refused with scroll_exists (counts the knob down)."""
        with self._lock:
            if self._scroll_exists_left > 0:
                self._scroll_exists_left -= 1
                return True
            return False

    def take_scroll_expire(self, pages_served: int) -> bool:
        """True (once) when a scroll that has served enough pages must answer 404 as expired."""
        with self._lock:
            limit = self._faults.scroll_expire_after_pages
            if limit is not None and not self._expire_used and pages_served >= limit:
                self._expire_used = True
                return True
            return False

    def take_scroll_500(self, pages_served: int) -> bool:
        """True (once) when a scroll that has served enough pages must answer 500."""
        with self._lock:
            limit = self._faults.scroll_500_after_pages
            if limit is not None and not self._scroll_500_used and pages_served >= limit:
                self._scroll_500_used = True
                return True
            return False
