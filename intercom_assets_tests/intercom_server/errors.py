"""The error envelope every Intercom error answer uses, and the exception that carries one."""

from __future__ import annotations

import uuid
from typing import Any


class ApiError(Exception):
    """An error answer: HTTP status, Intercom error code and message."""

    def __init__(self, message: str, code: str = "bad_request", status: int = 400,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message)


def error_body(code: str, message: str) -> dict[str, Any]:
    """`{"type": "error.list", "request_id": ..., "errors": [{"code", "message"}]}`."""
    return {"type": "error.list", "request_id": str(uuid.uuid4()), "errors": [{"code": code, "message": message}]}
