"""What every endpoint module shares: the parsed request, the route table entry, the result type."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError


@dataclass
class ApiRequest:
    """What an endpoint needs from an HTTP request."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes = b""
    path_params: dict[str, str] = field(default_factory=dict)
    base_url: str = ""
    """Scheme and host the client used (for the absolute `pages.next` links some lists carry)."""

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def flag(self, name: str) -> bool:
        return (self.arg(name) or "").lower() == "true"

    def int_arg(self, name: str, default: int | None = None, minimum: int | None = None) -> int | None:
        """An integer query parameter; 400 parameter_invalid when it is not one (or below `minimum`)."""
        raw = self.arg(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(f"{name} must be an integer", code="parameter_invalid") from None
        if minimum is not None and value < minimum:
            raise ApiError(f"{name} must be at least {minimum}", code="parameter_invalid")
        return value

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object; 400 when it is not one."""
        try:
            data = json.loads(self.body or b"{}")
        except (UnicodeDecodeError, ValueError):
            raise ApiError("request body is not valid JSON", code="parameter_invalid") from None
        if not isinstance(data, dict):
            raise ApiError("request body must be a JSON object", code="parameter_invalid")
        return data


Result = tuple[int, dict[str, Any]]
Handler = Callable[[ApiRequest], Result]
RouteSpec = tuple[str, str, Handler]
"""(method, path template, handler) as endpoint modules declare them."""


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


def compile_template(template: str) -> re.Pattern[str]:
    """"/contacts/{id}/tags" -> a regex with one named group per placeholder."""
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(f"^{regex}$")


def build_routes(specs: list[RouteSpec]) -> list[Route]:
    """Routes with literal paths first, so "/conversations/deleted" wins over "/conversations/{id}"."""
    ordered = sorted(specs, key=lambda spec: spec[1].count("{"))
    return [Route(method, template, compile_template(template), handler) for method, template, handler in ordered]
