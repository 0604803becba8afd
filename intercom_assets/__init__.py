"""Intercom workspace replicated into daily-partitioned Parquet, as Dagster software-defined assets.

`intercom_assets.IntercomWorkspace` (the component type a `defs.yaml` names) is imported on first use, so that
importing a Dagster-free module of the package (the HTTP client) does not import Dagster.
"""

from typing import Any

__all__ = ["IntercomWorkspace"]


def __getattr__(name: str) -> Any:
    if name == "IntercomWorkspace":
        from intercom_assets.component import IntercomWorkspace

        return IntercomWorkspace
    raise AttributeError(f"module 'intercom_assets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
