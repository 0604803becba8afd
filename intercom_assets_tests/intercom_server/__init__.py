"""A spec-faithful fake of the Intercom REST API (2.16) for tests: `IntercomTestServer` and `Faults`."""

from .faults import Faults
from .server import IntercomTestServer
from .workspace import Workspace

__all__ = ["Faults", "IntercomTestServer", "Workspace"]
