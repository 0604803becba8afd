"""What a run tells Dagster beyond its data: the tables' column schemas and lineage, and the run's own figures.

Each fact goes where a Dagster user looks for it, once: column schemas (with descriptions) on the asset
definitions; per-partition facts (rows, file, bytes) on each partition's materialization; run-level figures
(requests, retries, 429s, seconds, the window) as run tags, which the runs list shows and filters on, and as one
summary line in the run log. Nothing run-level is copied onto partition events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dagster import AssetSpec, TableColumn, TableSchema

from intercom_assets.keys import DEFAULT_NAMES, WorkspaceNames
from intercom_assets.schemas import EXTRA_COLUMN, EXTRACTED_AT_COLUMN, description_of
from intercom_assets.tables import TABLES, Source, TableSpec, lineage_sources

WINDOW_TAG = "intercom/window"
REQUESTS_TAG = "intercom/api_requests"
RETRIES_TAG = "intercom/api_retries"
RATE_LIMITED_TAG = "intercom/api_429s"
SECONDS_TAG = "intercom/extraction_seconds"
FAILED_TABLES_TAG = "intercom/failed_tables"
CHAINS_TAG = "intercom/chain_seconds"
MAX_FAILED_TAG = 200
_HOUSEKEEPING = {
    EXTRA_COLUMN: "JSON text of every value the declared columns could not hold, under its dotted path (nothing "
    "the API sent is dropped).",
    EXTRACTED_AT_COLUMN: "When the run that fetched this row started (UTC).",
}


_COLUMN_SCHEMAS: dict[str, TableSchema] = {}


def column_schema(spec: TableSpec) -> TableSchema:
    """The table's Arrow columns with their declared descriptions (`dagster/column_schema`), built once."""
    if spec.name not in _COLUMN_SCHEMAS:
        _COLUMN_SCHEMAS[spec.name] = _build_column_schema(spec)
    return _COLUMN_SCHEMAS[spec.name]


def _build_column_schema(spec: TableSpec) -> TableSchema:
    schema = spec.converter().schema
    return TableSchema(
        columns=[
            TableColumn(
                name=field.name,
                type=str(field.type),
                description=_HOUSEKEEPING.get(field.name) or description_of(spec.fields.get(field.name, "")) or None,
            )
            for field in schema
        ]
    )


def source_specs(tables: Sequence[TableSpec] = TABLES, names: WorkspaceNames = DEFAULT_NAMES) -> list[AssetSpec]:
    """One external asset per API pass, upstream of every table it feeds, so the asset graph shows which tables
    share one pass (contacts, users, leads and the contact link tables come from one contact search) and which
    per-record requests follow which pass (GET /conversations/{id} for the conversations the search found)."""
    sources: dict[str, Source] = {}
    fed: dict[str, list[str]] = {}
    upstream: dict[str, set[str]] = {}
    for spec in tables:
        for source in lineage_sources(spec):
            sources.setdefault(source.name, source)
            fed.setdefault(source.name, []).append(spec.name)
        fetch = spec.children.fetch if spec.children else None
        if fetch is not None:
            upstream.setdefault(fetch.name, set()).add(spec.source.name)

    def describe(name: str, source: Source) -> str:
        per_record = f"per record of {', '.join(sorted(upstream[name]))}, " if name in upstream else ""
        return (
            f"`{source.request}`: {per_record}one pass per run feeds {', '.join(fed[name])}. Not materialized by "
            "this code location: it stands for the Intercom API."
        )

    return [
        AssetSpec(
            key=names.source_key(name),
            group_name=names.source_group,
            description=describe(name, source),
            deps=[names.source_key(parent) for parent in sorted(upstream.get(name, ()))],
            kinds={"intercom"},
        )
        for name, source in sources.items()
    ]


def window_tags(first: str, last: str) -> dict[str, str]:
    """The run's window as one tag the runs list shows (Dagster's own range tags are hidden there)."""
    return {WINDOW_TAG: f"{first}...{last}"}


def run_figure_tags(
    stats: Mapping[str, Any], seconds: float, failed: Sequence[str], chains: Mapping[str, float] | None = None
) -> dict[str, str]:
    """Run-level figures as tags (strings, by Dagster's rules)."""
    tags = {
        REQUESTS_TAG: str(stats.get("requests", 0)),
        RETRIES_TAG: str(stats.get("retries", 0)),
        RATE_LIMITED_TAG: str(stats.get("rate_limited", 0)),
        SECONDS_TAG: f"{seconds:.1f}",
    }
    if chains:
        tags[CHAINS_TAG] = " ".join(f"{name}={secs:.1f}s" for name, secs in sorted(chains.items()))
    if failed:
        tags[FAILED_TABLES_TAG] = ",".join(failed)[:MAX_FAILED_TAG]
    return tags


def summary_line(
    window: tuple[str, str, int],
    stats: Mapping[str, Any],
    per_endpoint: Mapping[str, Mapping[str, int]],
    seconds: float,
    source_seconds: Mapping[str, float],
    committed: Sequence[str],
    failed: Sequence[str],
) -> str:
    """The one line a run log carries about the whole run."""
    first, last, days = window
    endpoints = ", ".join(
        f"{endpoint} {row['requests']}" + (f" ({row['retries']} retries)" if row.get("retries") else "")
        for endpoint, row in sorted(per_endpoint.items())
    )
    chains = ", ".join(f"{name} {secs:.1f} s" for name, secs in sorted(source_seconds.items()))
    return (
        f"Run summary: {first}...{last} ({days} days); {stats.get('requests', 0)} requests, "
        f"{stats.get('retries', 0)} retries, {stats.get('rate_limited', 0)} answered 429; extraction {seconds:.1f} s "
        f"(per source: {chains}); requests per endpoint: {endpoints}; {len(committed)} tables committed"
        + (f"; FAILED: {', '.join(failed)}" if failed else "")
    )
