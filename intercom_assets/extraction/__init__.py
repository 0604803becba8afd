"""Extraction: the selected tables over a run's window, one API pass per source (no Dagster here)."""

from intercom_assets.extraction.extractor import Extractor, extract
from intercom_assets.extraction.result import ExtractionResult, ScrollPolicy, TableFailure, Window, is_unauthorized

__all__ = ["ExtractionResult", "Extractor", "ScrollPolicy", "TableFailure", "Window", "extract", "is_unauthorized"]
