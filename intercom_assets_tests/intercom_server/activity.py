"""Admin activity logs over the whole history, generated lazily one UTC day at a time.

Only the number of logs per day is kept; a day's logs are regenerated from a per-day seed when a request
needs them, so a year of activity costs a few kilobytes at any scale. Deletion-type activities
(`conversation_part_deletion`, `message_deletion`, `bulk_delete`, ...) are among them.
"""

from __future__ import annotations

import bisect
import random
from typing import TYPE_CHECKING, Any

from .vocab import DAY, HISTORY_DAYS, sub_rng

if TYPE_CHECKING:
    from .workspace import Workspace

# (activity type, weight): deletions included, so an extractor can see what was removed and when
ACTIVITY_TYPES: list[tuple[str, int]] = [
    ("admin_login_success", 30), ("admin_logout", 10), ("admin_away_mode_change", 12),
    ("admin_login_failure", 2), ("conversation_part_deletion", 3), ("message_deletion", 2), ("bulk_delete", 1),
    ("app_data_deletion", 1), ("admin_deletion", 1), ("campaign_deletion", 1), ("macro_creation", 2),
    ("macro_update", 3), ("macro_deletion", 1), ("role_change", 1), ("app_team_membership_modification", 2),
    ("conversation_topic_change", 1), ("seat_change", 1), ("bulk_export", 1), ("app_data_export", 1),
    ("message_state_change", 3), ("office_hours_change", 1), ("admin_permission_change", 1),
]
_TYPES = [t for t, _ in ACTIVITY_TYPES]
_CUMULATIVE: list[int] = []
for _, _weight in ACTIVITY_TYPES:
    _CUMULATIVE.append((_CUMULATIVE[-1] if _CUMULATIVE else 0) + _weight)


class ActivityLog:
    """Counts per UTC day from the start of the history to `now`; logs are built on demand."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self.first_day = (ws.now - HISTORY_DAYS * DAY) // DAY
        self.last_day = ws.now // DAY
        rng = sub_rng(ws.seed, "activity")
        mean = ws.size.activity_per_day
        self.day_counts = [max(0, round(rng.gauss(mean, mean / 3))) for _ in range(self.last_day - self.first_day + 1)]

    def day(self, day: int) -> list[dict[str, Any]]:
        """The logs of one UTC day (days since the epoch), oldest first; empty outside the history."""
        if not self.first_day <= day <= self.last_day:
            return []
        ws = self._ws
        count = self.day_counts[day - self.first_day]
        rng = random.Random(f"{ws.seed}/activity/{day}")
        start = day * DAY
        end = min(start + DAY, ws.now)
        stamps = sorted(rng.randint(start, end - 1) for _ in range(count))
        return [self._log(rng, ts) for ts in stamps]

    def _log(self, rng: random.Random, ts: int) -> dict[str, Any]:
        admin = self._ws.admins[rng.randrange(len(self._ws.admins))]
        kind = _TYPES[bisect.bisect_right(_CUMULATIVE, rng.randrange(_CUMULATIVE[-1]))]
        raw = rng.getrandbits(128)
        log_id = f"{raw >> 96:08x}-{(raw >> 80) & 0xFFFF:04x}-4{(raw >> 68) & 0xFFF:03x}-" \
                 f"a{(raw >> 52) & 0xFFF:03x}-{raw & 0xFFFFFFFFFFFF:012x}"
        metadata, description = _details(rng, kind, admin["name"])
        return {"id": log_id,
                "performed_by": {"type": "admin", "id": admin["id"], "email": admin["email"],
                                 "ip": f"198.51.100.{rng.randint(1, 254)}"},
                "metadata": metadata, "created_at": ts, "activity_type": kind, "activity_description": description}

    def page(self, after: int, before: int, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """Logs with after < created_at < before, newest first: (`limit` of them from `offset`, how many in all).

        Days wholly inside the window are counted without being built; only the page's days are generated.
        """
        first = max(self.first_day, after // DAY)
        last = min(self.last_day, (before - 1) // DAY)
        spans: list[tuple[int, int, list[dict[str, Any]] | None]] = []
        for day in range(last, first - 1, -1):
            if after < day * DAY and day * DAY + DAY - 1 < before:
                spans.append((day, self.day_counts[day - self.first_day], None))
            else:
                logs = [log for log in reversed(self.day(day)) if after < log["created_at"] < before]
                spans.append((day, len(logs), logs))
        total = sum(n for _, n, _ in spans)
        out: list[dict[str, Any]] = []
        skipped = 0
        for day, n, logs in spans:
            if len(out) >= limit:
                break
            if skipped + n <= offset:
                skipped += n
                continue
            if logs is None:
                logs = list(reversed(self.day(day)))
            start = max(0, offset - skipped)
            out.extend(logs[start:start + limit - len(out)])
            skipped += n
        return out, total

def _details(rng: random.Random, kind: str, name: str) -> tuple[dict[str, Any] | None, str]:
    """Metadata and description of one activity, in the shapes the description's metadata schema names."""
    if kind == "admin_login_success":
        return {"sign_in_method": rng.choice(["email_password", "google_sso", "saml"])}, f"{name} logged in."
    if kind == "admin_away_mode_change":
        away = rng.random() < 0.5
        return ({"away_mode": away, "away_status_reason": "☕ On a break" if away else None,
                 "reassign_conversations": rng.random() < 0.3, "auto_changed": None},
                f"{name} changed their away mode.")
    if kind in ("conversation_part_deletion", "message_deletion"):
        target = {"conversation_id": str(200_963_802_000_000 + rng.randrange(10**6)),
                  "part_id": str(rng.randrange(10**10))}
        return {"before": target, "after": None}, f"{name} deleted a {kind.split('_deletion')[0].replace('_', ' ')}."
    if kind == "bulk_delete":
        return ({"before": {"count": rng.randint(2, 500), "model": rng.choice(["conversation", "user", "lead"])},
                 "after": None}, f"{name} deleted records in bulk.")
    if kind == "message_state_change":
        return ({"message": {"id": rng.randrange(10**6), "title": "Welcome series"}, "before": {"state": "live"},
                 "after": {"state": "paused"}}, f"{name} paused the Welcome series message.")
    return None, f"{name} performed {kind.replace('_', ' ')}."
