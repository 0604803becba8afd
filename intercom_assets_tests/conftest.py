"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from intercom_assets_tests.intercom_server import IntercomTestServer

TEST_TOKEN = "test-token-0123456789abcdef"
TEST_NOW = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def intercom_server() -> Iterator[IntercomTestServer]:
    """A started small-scale test server with a fixed clock; stopped after the test."""
    with IntercomTestServer(token=TEST_TOKEN, seed=1, scale="small", now=TEST_NOW) as server:
        yield server
