"""The code location: the YAML workspaces under intercom_assets/defs/ (component.py) when there are any, else the
one workspace the INTERCOM_* variables define, with today's names (builder.py)."""

from __future__ import annotations

import warnings

from dagster import BetaWarning, Definitions, PreviewWarning

from intercom_assets.builder import build_definitions
from intercom_assets.component import load_workspaces, workspace_files

__all__ = ["build_definitions", "build_code_location", "defs"]

# Per-partition check specs (AssetCheckSpec(partitions_def=...), automation/checks.py) are a Dagster preview
# feature used on purpose. Its PreviewWarning names nothing a user can change and was printed by every process that
# loads the code location (code server, each run worker): ignored here, for that one message only.
warnings.filterwarnings(
    "ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=PreviewWarning
)
# Loading a defs.yaml, Dagster itself attaches code references (beta classes) to the component's assets.
warnings.filterwarnings("ignore", message="Class `(LocalFileCodeReference|CodeReferencesMetadataValue)`",
                        category=BetaWarning)


def build_code_location() -> Definitions:
    """Every workspace of the code location: one per defs.yaml file, or the INTERCOM_* one without any."""
    if not workspace_files():
        return build_definitions()
    return load_workspaces()


defs = build_code_location()
