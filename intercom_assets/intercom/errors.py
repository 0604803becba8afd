"""Exceptions raised by the Intercom client.

Kept free of any Dagster import so the extraction code, the tests and ops tooling can all catch them.
No message ever contains the access token: the client scrubs every piece of response text it copies here.
"""

from __future__ import annotations


class IntercomError(Exception):
    """Base class: catch this to handle every failure of the Intercom client."""


class IntercomConfigError(IntercomError):
    """The client was configured in a way that is unsafe or can never work (bad base URL, empty token)."""


class IntercomAuthError(IntercomError):
    """401/403: retrying cannot help, a human has to fix the token, its scopes or the workspace plan."""

    def __init__(self, endpoint: str, status: int, code: str | None, message: str) -> None:
        self.endpoint = endpoint
        self.status = status
        self.code = code
        self.message = message
        super().__init__(f"{endpoint} answered HTTP {status} ({code or 'no error code'}): {message}")


class IntercomAPIError(IntercomError):
    """A request failed for good: the retry budget ran out, or Intercom refused it with a non-retryable 4xx.

    `endpoint` is the method and path template (e.g. ``GET /conversations/{id}``), never a full URL;
    `status` is the last HTTP status seen, or None when the last attempt got no HTTP answer at all
    (timeout, connection reset); `code` is Intercom's error code (or the transport error's class name).
    """

    def __init__(self, endpoint: str, status: int | None, code: str | None, message: str) -> None:
        self.endpoint = endpoint
        self.status = status
        self.code = code
        self.message = message
        shown = f"HTTP {status}" if status is not None else "no HTTP response"
        super().__init__(f"{endpoint} failed with {shown} ({code or 'no error code'}): {message}")


class Cancelled(IntercomError):
    """Raised inside the client's worker threads once the caller gave up; never reaches the caller."""


class TransientError(IntercomAPIError):
    """A retryable failure raised as-is because the caller asked for no retry (the scroll restarts instead)."""
