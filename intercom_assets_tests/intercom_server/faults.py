"""Fault knobs of the test server: seeded random HTTP failures and one-shot companies-scroll failures.

Clients must survive what the real API does under load (429, 5xx, truncated bodies, dropped
connections, slow answers) and the companies-scroll rules; these knobs make each of those
happen on demand and reproducibly. A random fault is a function of (seed, request, attempt) — the
request being its method, path, query and body, the attempt how many times that same request was
answered before — never of the order in which concurrent requests arrive, so a test sees the same
faults however its client threads interleave, while retries of one request still fail independently.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field, fields
from urllib.parse import parse_qsl, urlencode

RATE_KNOBS: tuple[str, ...] = ("rate429", "rate500", "rate502", "rate503", "truncate", "close", "slow")
"""Per-request probabilities, picked by one roll per request in this order (mutually exclusive outcomes)."""


def request_identity(method: str, path: str, query: str = "", body: bytes = b"") -> str:
    """What makes two requests "the same" for the fault draw: method, path, sorted query and canonical body.

    The query and the body carry the page cursor (`starting_after`, `scroll_param`, a search's `pagination`)
    and a search's own query, so each page of each search slice is its own request.
    """
    identity = f"{method} {path}"
    if query:
        identity += "?" + urlencode(sorted(parse_qsl(query, keep_blank_values=True)))
    if body:
        try:
            canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"))
        except ValueError:
            canonical = "sha256:" + hashlib.sha256(body).hexdigest()
        identity += " " + canonical
    return identity


def fault_roll(seed: int, request: str, attempt: int) -> float:
    """A uniform number in [0, 1) fixed by (seed, request, attempt): the roll of that attempt of that request."""
    digest = hashlib.blake2b(f"{seed}\x00{attempt}\x00{request}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def pick_fault(faults: Faults, roll: float) -> str | None:
    """The RATE_KNOBS name whose slice of the cumulative rates holds `roll`, or None (no fault)."""
    threshold = 0.0
    for name in RATE_KNOBS:
        threshold += getattr(faults, name)
        if roll < threshold:
            return name
    return None


@dataclass
class Faults:
    """Fault configuration; every knob defaults to "off".

    Rates are probabilities per request. `paths` restricts the rate knobs to requests whose
    "METHOD /path-template" key or path template starts with one of the given prefixes. `seed` picks
    which requests meet the faults (None: the server's seed); a test that needs its few requests to
    meet a fault chooses one that does (the draw is the same on every run).
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
    seed: int | None = None

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


def _applies(faults: Faults, key: str, template: str) -> bool:
    """Whether the rate knobs are on and the `paths` knob (if set) selects this endpoint."""
    if faults.paths and not any(key.startswith(p) or template.startswith(p) for p in faults.paths):
        return False
    return any(getattr(faults, name) for name in RATE_KNOBS)


class FaultInjector:
    """Thread-safe holder of the current Faults, the attempts seen per request, and one-shot state."""

    def __init__(self, faults: Faults, seed: int) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self.set(faults)

    def set(self, faults: Faults) -> None:
        """Replace the knobs; attempt counts start over so the same requests meet the same faults again."""
        with self._lock:
            self._faults = faults
            self._attempts: dict[str, int] = {}
            self._scroll_exists_left = faults.scroll_exists
            self._expire_used = False
            self._scroll_500_used = False

    @property
    def faults(self) -> Faults:
        return self._faults

    def draw(self, key: str, template: str, request: str) -> str | None:
        """Pick the random fault (a RATE_KNOBS name) for this attempt of `request` (see request_identity), or None.

        `key` ("METHOD /template") and `template` are matched against the `paths` knob.
        """
        with self._lock:
            faults = self._faults
            if not _applies(faults, key, template):
                return None
            attempt = self._attempts.get(request, 0)
            self._attempts[request] = attempt + 1
        seed = self._seed if faults.seed is None else faults.seed
        return pick_fault(faults, fault_roll(seed, request, attempt))

    def not_an_attempt(self, key: str, template: str, request: str) -> None:
        """Uncount the last draw of `request`: its refusal (scroll_exists) came from the clock, not the request.

        How many scroll starts meet an open scroll depends on how long the client waits for it to idle out;
        counting them would make the faults of later starts depend on timing.
        """
        with self._lock:
            attempt = self._attempts.get(request, 0)
            if attempt > 0 and _applies(self._faults, key, template):
                self._attempts[request] = attempt - 1

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
