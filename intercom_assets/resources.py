"""Dagster resources: the one Intercom API resource every table shares, the Parquet storage root and its IO manager.

The resource is configuration only; the HTTP work lives in IntercomClient, which knows nothing of Dagster.
Each field is read from its environment variable through EnvVar (see definitions.py), so the token never
lands in run config, logs or metadata.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster import ConfigurableIOManagerFactory, ConfigurableResource
from pydantic import Field

from intercom_assets.intercom.client import IntercomClient
from intercom_assets.lake.io_manager import RangeParquetIOManager
from intercom_assets.lake.storage import ParquetStore

DEFAULT_BASE_URL = "https://api.intercom.io"
DEFAULT_API_VERSION = "2.16"
# A ceiling: the client keeps (allowed rate x observed latency) requests in flight, so 133 requests/s at 300 ms
# need 40; 64 leaves room for slower answers without opening hundreds of connections.
DEFAULT_MAX_CONCURRENCY = 64
DEFAULT_RATE_LIMIT_SHARE = 0.8
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_MAX_RETRIES = 8


class IntercomResource(ConfigurableResource):
    """Access to one Intercom workspace; one client (one connection pool, one rate budget) per run."""

    access_token: str = Field(description="Intercom access token (INTERCOM_ACCESS_TOKEN).")
    base_url: str = Field(default=DEFAULT_BASE_URL, description="API host: api, api.eu or api.au.")
    api_version: str = Field(default=DEFAULT_API_VERSION, description="Intercom-Version header.")
    # Ranges are checked by IntercomClient when a run opens it (an EnvVar's value is unknown at load time).
    max_concurrency: int = Field(
        default=DEFAULT_MAX_CONCURRENCY, description="Most requests in flight (>= 1); the client keeps rate x latency."
    )
    rate_limit_share: float = Field(default=DEFAULT_RATE_LIMIT_SHARE, description="Share of the limit, (0, 1].")
    timeout_seconds: float = Field(default=DEFAULT_TIMEOUT_SECONDS, description="Per-request timeout (> 0).")
    max_retries: int = Field(default=DEFAULT_MAX_RETRIES, description="Retries per request (>= 0).")

    @contextmanager
    def open_client(self) -> Iterator[IntercomClient]:
        """A client for the duration of one extraction; closes its connections afterwards."""
        client = IntercomClient(
            self.base_url,
            self.access_token,
            api_version=self.api_version,
            max_concurrency=self.max_concurrency,
            rate_limit_share=self.rate_limit_share,
            timeout_seconds=self.timeout_seconds,
            max_retries=self.max_retries,
        )
        try:
            yield client
        finally:
            client.close()


class ParquetStorageResource(ConfigurableResource):
    """Where the Parquet tables live: a local path or any fsspec URL (s3://, gs://, memory://)."""

    root: str = Field(description="INTERCOM_PARQUET_ROOT, made absolute when local.")
    staging_dir: str | None = Field(
        default=None,
        description="Local scratch for per-partition staging (INTERCOM_STAGING_DIR; default: tmp).",
    )

    def get_store(self) -> ParquetStore:
        return ParquetStore(self.root)


class IntercomParquetIOManager(ConfigurableIOManagerFactory):
    """Dagster-configurable factory; the storage root is shared with the assets through the resource."""

    storage: ParquetStorageResource

    def create_io_manager(self, context: Any) -> RangeParquetIOManager:
        return RangeParquetIOManager(self.storage.get_store())
