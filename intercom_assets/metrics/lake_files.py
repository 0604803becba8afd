"""A dbt-duckdb plugin (profiles.yml `plugins`): the SQL functions the `lake_parquet` materialization uses to write
a metrics file the way the lake writes every file, into a folder it may have to create, under a hidden temporary
name renamed into place, so that a reader never sees half a file. Paths may be local or fsspec URLs."""

from __future__ import annotations

import posixpath

import fsspec
from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection


def prepare_folder(path: str) -> str:
    """Create the folder of `path` (a file to come); return `path`."""
    fs, local = fsspec.core.url_to_fs(path)
    fs.makedirs(posixpath.dirname(local), exist_ok=True)
    return path


def move_into_place(temporary: str, path: str) -> str:
    """Rename the written temporary onto its final name (a local rename is atomic); return `path`."""
    fs, local_tmp = fsspec.core.url_to_fs(temporary)
    fs.mv(local_tmp, fsspec.core.url_to_fs(path)[1])
    return path


class Plugin(BasePlugin):
    """Registers lake_prepare_folder(path) and lake_move(temporary, path) on every dbt connection."""

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        """Called by dbt-duckdb for each connection it opens."""
        conn.create_function("lake_prepare_folder", prepare_folder, ["VARCHAR"], "VARCHAR", side_effects=True)
        conn.create_function("lake_move", move_into_place, ["VARCHAR", "VARCHAR"], "VARCHAR", side_effects=True)
