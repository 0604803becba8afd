"""Current-state DuckDB views: the newest version of every record of every incremental table, across all days.

A record is stored in the partition of the day of its version (`updated_at` and kin). Inside the attribution
window each run rewrites whole days, so a record appears once there; a record that changes after its old day
left the window appears again in its new day while the old day keeps the old version. These views hide that:
`<table>_current` keeps one row per key, the newest version.

Derived tables follow their parent record's version, not their own: a conversation's parts are the parts of the
conversation's newest version (a part dropped from it is gone), a company's segment memberships are those of the
company's newest version, and a contact that turned from lead into user leaves `leads_current`. The parent's
newest version is taken from the parent table and the derived table together, so a derived table materialized
alone still answers.

This is a command, not a set of assets: the views read whatever is stored, and adding them to the partitioned job
would break `dagster asset materialize --select '*' --partition-range ...` (the CLI refuses unpartitioned assets
in a range). Run `python -m intercom_assets.views --root ROOT --db FILE` after runs, or once: a view re-reads the
files on every query, so new partitions show up without re-creating it.

Object storage: DuckDB reads `s3://` through its httpfs extension when that loads (it is downloaded on first use,
which needs internet access); otherwise the s3fs filesystem is registered with the connection instead. That
registration lives in the connection, not in the database file: open such a database with `connect()`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from intercom_assets.schemas import EXTRACTED_AT_COLUMN
from intercom_assets.settings import load_settings
from intercom_assets.tables import TABLES, TABLES_BY_NAME, TableSpec

if TYPE_CHECKING:
    import duckdb

VIEW_SUFFIX = "_current"
PARTITION_COLUMN = "date"


@dataclass(frozen=True)
class ViewResult:
    """What `create_views` did for one table."""

    table: str
    view: str | None
    note: str


def _duckdb() -> ModuleType:
    """DuckDB, imported on first use: the product install leaves it out (it is the `views` extra)."""
    try:
        import duckdb
    except ImportError as exc:
        raise ModuleNotFoundError(
            "intercom_assets.views needs DuckDB, which the product install leaves out: "
            "pip install -e '.[views]' (the .venv of `make test` has it)",
            name="duckdb",
        ) from exc
    return duckdb


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def table_glob(root: str, table: str) -> str:
    """Every partition file of a table; the layout is `{root}/{table}/date=YYYY-MM-DD/part-0.parquet`."""
    return f"{root.rstrip('/')}/{table}/*/*.parquet"


def _scan(root: str, table: str) -> str:
    return f"read_parquet({_literal(table_glob(root, table))}, hive_partitioning=true)"


def incremental_tables(tables: Sequence[TableSpec] = TABLES) -> list[TableSpec]:
    """Tables whose days hold versions of records (snapshot tables hold full copies per day instead)."""
    return [spec for spec in tables if not spec.is_snapshot]


def view_name(table: str) -> str:
    return f"{table}{VIEW_SUFFIX}"


def _parent_link(spec: TableSpec) -> tuple[TableSpec, str, str] | None:
    """(parent spec, column of this table naming the parent record, the parent's key column), if derived."""
    if spec.parent is None:
        return None
    parent = TABLES_BY_NAME[spec.parent]
    if parent.is_snapshot or len(parent.key) != 1:
        return None
    link = spec.parent_key or (spec.key[0] if len(spec.key) == 1 else None)
    if link is None:
        return None
    return parent, link, parent.key[0]


def view_sql(spec: TableSpec, root: str, parent_stored: bool = True) -> str:
    """The SELECT behind `<table>_current`.

    Ties between copies of one version (the same version stored on two days, or written twice) go to the later
    day, then to the later extraction, so the result never depends on file order.
    """
    if spec.is_snapshot or spec.partition_column is None:
        raise ValueError(f"{spec.name} is a snapshot table: its latest day is its current state")
    version = _ident(spec.partition_column)
    key = ", ".join(f"c.{_ident(column)}" for column in spec.key)
    tie_break = f"c.{_ident(PARTITION_COLUMN)} DESC, c.{_ident(EXTRACTED_AT_COLUMN)} DESC"
    link = _parent_link(spec)
    if link is None:
        return (
            f"SELECT c.* FROM {_scan(root, spec.name)} AS c\n"
            f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY c.{version} DESC NULLS LAST, {tie_break}) = 1"
        )
    parent, link_column, parent_key = link
    versions = [f"SELECT {_ident(link_column)} AS link, {version} AS v FROM {_scan(root, spec.name)}"]
    if parent_stored:
        versions.append(
            f"SELECT {_ident(parent_key)} AS link, {_ident(parent.partition_column or '')} AS v "
            f"FROM {_scan(root, parent.name)}"
        )
    union = "\n    UNION ALL\n    ".join(versions)
    return (
        f"WITH newest AS (\n  SELECT link, max(v) AS v FROM (\n    {union}\n  ) GROUP BY link\n)\n"
        f"SELECT c.* FROM {_scan(root, spec.name)} AS c\n"
        f"JOIN newest AS n ON c.{_ident(link_column)} = n.link AND c.{version} IS NOT DISTINCT FROM n.v\n"
        f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {tie_break}) = 1"
    )


def _is_remote(root: str) -> bool:
    return "://" in root and not root.startswith("file://")


def _s3_secret_sql() -> str:
    """A DuckDB secret from the usual AWS variables (endpoint included, for S3-compatible stores)."""
    options = ["TYPE s3", "PROVIDER config"]
    key_id, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key_id and secret:
        options += [f"KEY_ID {_literal(key_id)}", f"SECRET {_literal(secret)}"]
    if os.environ.get("AWS_SESSION_TOKEN"):
        options.append(f"SESSION_TOKEN {_literal(os.environ['AWS_SESSION_TOKEN'])}")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        options.append(f"REGION {_literal(region)}")
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        options += [f"ENDPOINT {_literal(host.rstrip('/'))}", "URL_STYLE 'path'",
                    f"USE_SSL {'true' if scheme == 'https' else 'false'}"]
    return f"CREATE OR REPLACE SECRET intercom_s3 ({', '.join(options)})"


def enable_remote(con: duckdb.DuckDBPyConnection, root: str) -> str:
    """Make `root` readable from this connection; returns how ("httpfs" or "fsspec")."""
    protocol = root.split("://", 1)[0]
    if protocol in ("s3", "s3a"):
        try:
            con.execute("INSTALL httpfs")
            con.execute("LOAD httpfs")
            con.execute(_s3_secret_sql())
            return "httpfs"
        except _duckdb().Error:
            pass
    import fsspec

    con.register_filesystem(fsspec.filesystem(protocol))
    return "fsspec"


def connect(db: str, root: str | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open a views database; with an object-store root, make that root readable first."""
    con = _duckdb().connect(db, read_only=read_only)
    if root is not None and _is_remote(root):
        enable_remote(con, root)
    return con


def _has_files(con: duckdb.DuckDBPyConnection, root: str, table: str) -> bool:
    found = con.execute(f"SELECT count(*) FROM glob({_literal(table_glob(root, table))})").fetchone()
    return bool(found and found[0])


def create_views(con: duckdb.DuckDBPyConnection, root: str, tables: Sequence[TableSpec] = TABLES) -> list[ViewResult]:
    """(Re)create `<table>_current` for every incremental table that has files under root.

    A table without files gets no view (DuckDB refuses a view over a glob that matches nothing) and is
    reported, so a typo in the root is not mistaken for an empty table.
    """
    results = []
    candidates = {spec.name for spec in incremental_tables([*tables, *TABLES])}
    stored = {name for name in candidates if _has_files(con, root, name)}
    for spec in incremental_tables(tables):
        if spec.name not in stored:
            results.append(ViewResult(spec.name, None, f"no files under {table_glob(root, spec.name)}"))
            continue
        link = _parent_link(spec)
        parent_stored = link is not None and link[0].name in stored
        name = view_name(spec.name)
        con.execute(f"CREATE OR REPLACE VIEW {_ident(name)} AS\n{view_sql(spec, root, parent_stored)}")
        how = f"newest {spec.partition_column} per ({', '.join(spec.key)})"
        if link is not None:
            how += f", rows of the {link[0].name} record's newest version"
            if not parent_stored:
                how += f" (no {link[0].name} files: its versions come from this table alone)"
        results.append(ViewResult(spec.name, name, how))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create the current-state DuckDB views over the Parquet root.")
    parser.add_argument("--root", help="Parquet root (default: INTERCOM_PARQUET_ROOT, else data/intercom)")
    parser.add_argument("--db", required=True, help="DuckDB database file to create or update")
    args = parser.parse_args(argv)
    try:
        _duckdb()
    except ModuleNotFoundError as exc:
        parser.exit(2, f"{exc}\n")
    root = args.root or load_settings().parquet_root
    if not _is_remote(root):
        root = os.path.abspath(root)
    started = time.monotonic()
    with connect(args.db, root) as con:
        results = create_views(con, root)
    for result in results:
        print(f"{result.view:<28} {result.note}" if result.view else f"{result.table}: skipped, {result.note}")
    created = sum(1 for r in results if r.view)
    print(f"{created} views in {args.db} over {root} ({time.monotonic() - started:.1f} s)")
    if _is_remote(root):
        print("Object-store root: open the database with intercom_assets.views.connect(db, root) so DuckDB can "
              "read it.")
    return 0 if created else 1


if __name__ == "__main__":
    sys.exit(main())
