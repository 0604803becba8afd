"""CLI: run the test server until SIGTERM/SIGINT, printing its base URL as the first stdout line."""

from __future__ import annotations

import argparse
import gc
import signal
import sys
import threading
from datetime import UTC, datetime
from types import FrameType

from .build_extras import UNANSWERED_SHARE
from .faults import Faults
from .refusals import parse_refusal
from .server import IntercomTestServer
from .vocab import SCALES


def parse_now(text: str) -> datetime:
    """ISO-8601 instant; "Z" is accepted and a naive value is taken as UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m intercom_assets_tests.intercom_server",
                                     description="Run a synthetic Intercom API on 127.0.0.1.")
    parser.add_argument("--port", type=int, required=True, help="port to bind; 0 picks a free one")
    parser.add_argument("--token", required=True, help="the Bearer token clients must send")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--now", type=parse_now, default=None, help="ISO-8601 instant (default: current time)")
    parser.add_argument("--workspace-timezone", default="America/Los_Angeles")
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--rate-limit", type=int, default=None, metavar="N-per-minute")
    parser.add_argument("--faults", type=Faults.parse, default=None, metavar="SPEC",
                        help='e.g. "rate429=0.05,rate500=0.02,truncate=0.01,close=0.01,scroll_exists=2"')
    parser.add_argument("--refuse", type=parse_refusal, action="append", default=[], metavar='"METHOD /path=code"',
                        help='answer one endpoint with 403 and this error code, e.g. '
                             '"GET /admins/activity_logs=forbidden" or "POST /tickets/search=api_plan_restricted" '
                             "(repeatable)")
    parser.add_argument("--unanswered-share", type=float, default=UNANSWERED_SHARE,
                        help="share of conversations with no parts at all (default 0.10)")
    parser.add_argument("--merged-contact-status", type=int, choices=(404, 410), default=410,
                        help="what GET /contacts/{id} answers for a merged-away contact (410: the description)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    server = IntercomTestServer(token=args.token, seed=args.seed, scale=args.scale, now=args.now,
                                workspace_timezone=args.workspace_timezone, latency_ms=args.latency_ms,
                                rate_limit_per_minute=args.rate_limit, faults=args.faults, port=args.port,
                                unanswered_share=args.unanswered_share)
    try:
        server.set_refusals(dict(args.refuse))
    except ValueError as exc:
        build_parser().error(f"--refuse: {exc}")
    server.merged_contact_status = args.merged_contact_status
    # the workspace lives as long as this process: spare the collector from walking its (up to millions of) rows
    gc.collect()
    gc.freeze()
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(server.start(), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
