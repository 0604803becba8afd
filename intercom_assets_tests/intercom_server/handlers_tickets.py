"""Ticket endpoints: search (the conversation search's language and body-cursor paging), one ticket with its
parts (the newest 500, with `total_count`), ticket types and ticket states.

As in the description's examples, search results embed `ticket_parts` too, capped the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .build_tickets import ticket_types_with_states
from .errors import ApiError
from .routing import ApiRequest, Result, RouteSpec

if TYPE_CHECKING:
    from .handlers import IntercomApi

MAX_VISIBLE_TICKET_PARTS = 500


class TicketEndpoints:
    """POST /tickets/search, GET /tickets/{id}, GET /ticket_types, GET /ticket_states."""

    def __init__(self, api: IntercomApi) -> None:
        self.api = api
        self.workspace = api.workspace

    def routes(self) -> list[RouteSpec]:
        return [
            ("POST", "/tickets/search", self.search_tickets),
            ("GET", "/tickets/{id}", self.get_ticket),
            ("GET", "/ticket_types", self.list_ticket_types),
            ("GET", "/ticket_states", self.list_ticket_states),
        ]

    def render(self, ticket: dict[str, Any]) -> dict[str, Any]:
        """A ticket with its `ticket_parts`: the newest 500, and how many exist."""
        parts = self.workspace.ticket_parts(ticket["id"])
        return dict(ticket, ticket_parts={"type": "ticket_part.list", "ticket_parts": parts[-MAX_VISIBLE_TICKET_PARTS:],
                                          "total_count": len(parts)})

    def search_tickets(self, req: ApiRequest) -> Result:
        return self.api.search(req, "tickets", "ticket.list", "tickets", 20, self.render)

    def get_ticket(self, req: ApiRequest) -> Result:
        ticket = self.workspace.tickets.get(req.path_params["id"])
        if ticket is None:
            raise ApiError("Ticket not found", code="not_found", status=404)
        return 200, self.render(ticket)

    def list_ticket_types(self, req: ApiRequest) -> Result:
        return 200, {"type": "list", "data": ticket_types_with_states(self.workspace)}

    def list_ticket_states(self, req: ApiRequest) -> Result:
        return 200, {"type": "list", "data": self.workspace.ticket_states}
