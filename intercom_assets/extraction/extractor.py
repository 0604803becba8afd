"""Runs the selected table declarations over one time window: one API pass per source, shared by its tables.

No Dagster here: this takes a client, the declarations, the window and a staging directory, and returns what
each partition of each table becomes. The passes run concurrently in threads; the client bounds the HTTP
concurrency and the rate budget for all of them together. A pass that fails fails only its own tables (a child
table's per-parent requests failing fail only that child table); a 401 fails the whole run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from intercom_assets.extraction.children import ChildCollector, complete_together
from intercom_assets.extraction.deletions import DeletionDetector
from intercom_assets.extraction.read_ahead import read_ahead, read_merged
from intercom_assets.extraction.result import (
    ExtractionResult,
    ScrollPolicy,
    TableFailure,
    Window,
    in_span,
    is_unauthorized,
)
from intercom_assets.intercom.client import IntercomClient
from intercom_assets.intercom.search import Slice, plan_slices
from intercom_assets.lake.deletions import DeletionLog
from intercom_assets.lake.erasure import Scrubber
from intercom_assets.lake.pii_policy import PiiPolicy
from intercom_assets.lake.scroll_cache import ScrollCache
from intercom_assets.lake.staging import TableStager
from intercom_assets.lake.storage import ParquetStore
from intercom_assets.tables import (
    DELETIONS_TABLE,
    PAGES,
    SCROLL,
    SEARCH,
    WINDOW_FIELD,
    WINDOW_PARAMS,
    Source,
    TableSpec,
    deletion_sources,
    record_table,
)

log = logging.getLogger(__name__)
DETECTION = "deletion_detection"


@dataclass(frozen=True)
class DeletionWork:
    """Deletion detection in a run: the detector, the log of deletions known so far (their rows are never
    staged again), and the sources whose sweep is due."""

    detector: DeletionDetector
    known: DeletionLog
    sweeps: tuple[Source, ...] = ()

    @classmethod
    def due(cls, detector: DeletionDetector, known: DeletionLog, now: int, sweep_hours: int,
            tables: Iterable[TableSpec]) -> DeletionWork:
        """Detection with each declared sweep of a pass these tables make whose last sweep is older than
        `sweep_hours` (a run without tickets does not sweep them: the app may lack their scope)."""
        passes = {spec.source.name for spec in tables}
        sweeps = tuple(source for source in deletion_sources() if source.deletions and source.deletions.sweep
                       and source.name in passes and known.sweep_due(record_table(source).name, now, sweep_hours))
        return cls(detector, known, sweeps)


@dataclass
class Pass:
    """One API pass of a run and the tables it feeds: directly, or as children of its records."""

    source: Source
    direct: list[TableStager] = field(default_factory=list)
    children: list[ChildCollector] = field(default_factory=list)

    @property
    def tables(self) -> list[str]:
        return [s.spec.name for s in self.direct] + [c.spec.name for c in self.children]


class Extractor:
    """One run's extraction over a window for a set of selected tables."""

    def __init__(
        self,
        client: IntercomClient,
        specs: Sequence[TableSpec],
        window: Window,
        today_key: str,
        staging_dir: Path,
        extracted_at: int,
        store: ParquetStore | None = None,
        scroll: ScrollPolicy | None = None,
        deletions: DeletionWork | None = None,
        pii: PiiPolicy | None = None,
    ):
        self.client = client
        self.deletions = deletions
        self._scrolled: set[str] | None = None
        self.staging_dir = staging_dir
        self.scroll = scroll if scroll is not None and store is not None else None
        if pii is not None and any(pii.has_rules(s.name) for s in specs if s.source.paging == SCROLL):
            # the cache holds records as the API sent them: with a policy on companies, no raw record is kept
            if store is not None:
                ScrollCache(store).discard()
            self.scroll = None
        self.scroll_cache = ScrollCache(store) if self.scroll is not None and store is not None else None
        self.specs = [spec for spec in specs if not spec.logs_deletions]  # written from the detections
        self.window = window
        self.today_key = today_key
        self.result = ExtractionResult()
        self.passes: dict[str, Pass] = {}
        suppressed = deletions.known.suppressed if deletions is not None else frozenset()
        scrub = Scrubber(suppressed).value if suppressed else None
        for spec in self.specs:
            if spec.is_snapshot and today_key not in window.partition_keys:
                continue  # a snapshot is taken on the day of extraction only
            removals = deletions.known.removals(spec) if deletions is not None else {}
            stager = TableStager(spec, staging_dir / spec.name, window.partition_keys, extracted_at, removals, pii,
                                 scrub)
            run = self.passes.setdefault(spec.source.name, Pass(spec.source))
            if spec.children is None:
                run.direct.append(stager)
            else:
                run.children.append(ChildCollector(stager, window, store, self.result, today_key))

    def run(self) -> ExtractionResult:
        """Read every pass concurrently, each finishing its tables' partitions when it is read."""
        errors: dict[str, BaseException] = {}
        jobs: dict[str, Callable[[], None]] = {
            name: lambda run=run: self._read(run) for name, run in self.passes.items()
        }
        if self.deletions is not None:
            jobs[DETECTION] = self._detect
        if jobs:
            with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="intercom-pass") as pool:
                futures = {name: pool.submit(self._timed, name, job) for name, job in jobs.items()}
                for name, future in futures.items():
                    try:
                        future.result()
                    except Exception as error:  # one source failing must not sink the others' tables
                        errors[name] = error
        for error in errors.values():
            if is_unauthorized(error):
                raise error  # a bad token fails the whole run: nothing else can have worked
        for name, error in errors.items():
            self._fail(self.passes[name].tables if name in self.passes else [DELETIONS_TABLE.name], error)
        if self.deletions is not None and DELETIONS_TABLE.name not in self.result.failures:
            self.result.deletions = self.deletions.detector.deletions
            self.result.swept = list(self.deletions.detector.swept)
        return self.result

    def _finish(self, stagers: Iterable[TableStager]) -> None:
        """Finish tables of a pass as soon as they are read: their files are written while the other passes still
        wait on the network, not after the last of them."""
        for stager in stagers:
            if stager.spec.name not in self.result.failures:
                keys = [self.today_key] if stager.spec.is_snapshot else None
                self.result.tables[stager.spec.name] = stager.finished(keys)

    def _timed(self, name: str, job: Callable[[], None]) -> None:
        started = time.monotonic()
        try:
            job()
        finally:
            self.result.source_seconds[name] = round(time.monotonic() - started, 3)

    def _detect(self) -> None:
        """Deletions with a signal of their own: every deleted-records list; each sweep that is due."""
        assert self.deletions is not None
        for source in deletion_sources():
            self.deletions.detector.read_deleted_list(source)
        for source in self.deletions.sweeps:
            self.deletions.detector.sweep(source)

    def _read(self, run: Pass) -> None:
        snapshot_key = self.today_key if run.source.window is None and run.source.paging == PAGES else None
        signal = run.source.deletions if self.deletions is not None else None
        for page in self._pages(run.source):
            if signal is not None and signal.merges is not None:
                self.deletions.detector.observe(run.source, page)
            for stager in run.direct:
                stager.add_records(page, snapshot_key=snapshot_key)
            for collector in run.children:
                collector.add_parents(page)
        if signal is not None and signal.complete and self._scrolled is not None:
            self.deletions.detector.missing_from_complete(run.source, self._scrolled)
        if not run.children:
            self._finish(run.direct)
            return
        # The pass's own tables are finished (CPU) while its children are fetched (the network), then the children.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="intercom-finish") as finisher:
            direct = finisher.submit(self._finish, run.direct)
            for group in _by_fetch(run.children):
                try:
                    complete_together(group, self.client)
                except Exception as error:
                    if is_unauthorized(error):
                        raise
                    self._fail([c.spec.name for c in group], error)  # the parent records themselves are complete
            direct.result()
        self._finish([collector.stager for collector in run.children])

    def _pages(self, source: Source) -> Iterator[list[dict[str, Any]]]:
        """The source's records in the run's window, a page at a time."""
        if source.paging == SEARCH:
            return self.client.search_updated(source.path, source.list_key, self.window.start, self.window.end,
                                              params=dict(source.params) or None)
        if source.paging == SCROLL:
            return self._in_window(read_ahead(self._scroll_pages()), source.window_field)
        if source.paging == PAGES and source.window == WINDOW_PARAMS:
            return read_merged([self._slice_pages(source, part) for part in
                                plan_slices(int(self.window.start.timestamp()), int(self.window.end.timestamp()),
                                            None, day_granular=False)])
        if source.paging == PAGES and source.window == WINDOW_FIELD and source.newest_first:
            # read lazily: a page read ahead past the window would be a request for nothing
            return self._down_to_window(
                self.client.iter_pages(source.path, source.list_key, self._window_params(source)), source.window_field)
        if source.paging == PAGES:
            pages = read_ahead(self.client.iter_pages(source.path, source.list_key, self._window_params(source)))
            return self._in_window(pages, source.window_field) if source.window == WINDOW_FIELD else pages
        raise ValueError(f"{source.name}: a pass cannot page {source.paging!r}")

    def _window_params(self, source: Source) -> dict[str, str] | None:
        """The source's parameters, with the window's start (one second early: the API's comparison may be
        strict) where the list takes one."""
        params = dict(source.params)
        if source.since_param is not None and source.window == WINDOW_FIELD:
            params[source.since_param] = str(int(self.window.start.timestamp()) - 1)
        return params or None

    def _slice_pages(self, source: Source, part: Slice) -> Iterator[list[dict[str, Any]]]:
        """One slice (UTC days) of a list asked for by time range: bounds one second wider than the slice (the
        API's comparison may be strict or not), the slice's exact seconds kept here, so slices never overlap."""
        params = {**source.params, f"{source.window_field}_after": str(part.after),
                  f"{source.window_field}_before": str(part.before)}
        for page in self.client.iter_pages(source.path, source.list_key, params):
            kept = [r for r in page if in_span(r.get(source.window_field), part.keep_low, part.keep_high)]
            if kept:
                yield kept

    def _scroll_pages(self) -> Iterable[list[dict[str, Any]]]:
        """The companies scroll, or the stored one when this run may reuse it (see lake/scroll_cache.py)."""
        if self.scroll is None or self.scroll_cache is None:
            return self._noting_ids(self.client.scroll_companies())
        if self.scroll.reuse_seconds:
            cached = self.scroll_cache.load(self.scroll.reuse_seconds)
            if cached is not None:
                log.info("companies: reusing the scroll stored within the last %.0f minutes",
                         self.scroll.reuse_seconds / 60)
                self.result.reused_scroll = True
                return cached
        live = self._noting_ids(self.client.scroll_companies())
        return self.scroll_cache.recording(live, self.staging_dir / "_scroll")

    def _noting_ids(self, pages: Iterable[list[dict[str, Any]]]) -> Iterator[list[dict[str, Any]]]:
        """A live scroll's pages, noting every company id: once complete, stored companies it lacks are probed."""
        seen: set[str] = set()
        for page in pages:
            seen.update(str(record.get("id")) for record in page)
            yield page
        self._scrolled = seen

    def _down_to_window(self, pages: Iterator[list[dict[str, Any]]], field_name: str
                        ) -> Iterator[list[dict[str, Any]]]:
        """A newest-first list's pages in the window, read until a record older than the window's start."""
        start = self.window.start.timestamp()
        try:
            for page in pages:
                kept = [record for record in page if self.window.contains(record.get(field_name))]
                if kept:
                    yield kept
                if any(in_span(record.get(field_name), float("-inf"), start) for record in page):
                    return  # every later page is older still
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()

    def _in_window(self, pages: Iterable[list[dict[str, Any]]], field_name: str) -> Iterator[list[dict[str, Any]]]:
        for page in pages:
            kept = [record for record in page if self.window.contains(record.get(field_name))]
            if kept:
                yield kept

    def _fail(self, tables: Iterable[str], error: BaseException) -> None:
        for table in tables:
            self.result.tables.pop(table, None)  # finished before the failure: still not to be committed
            self.result.failures.setdefault(table, TableFailure.of(error))
            log.error("%s: not extracted in this run: %s", table, self.result.failures[table].reason)


def _by_fetch(collectors: Iterable[ChildCollector]) -> list[list[ChildCollector]]:
    """Child tables grouped by the per-parent request they read (one group per table without a request)."""
    groups: dict[Any, list[ChildCollector]] = {}
    for collector in collectors:
        fetch = collector.children.fetch
        groups.setdefault(fetch.name if fetch is not None else collector.spec.name, []).append(collector)
    return list(groups.values())


def extract(
    client: IntercomClient,
    specs: Iterable[TableSpec],
    window: Window,
    today_key: str,
    staging_dir: Path,
    extracted_at: int,
    store: ParquetStore | None = None,
    scroll: ScrollPolicy | None = None,
    deletions: DeletionWork | None = None,
    pii: PiiPolicy | None = None,
) -> ExtractionResult:
    """Extract the given tables over the window; see Extractor."""
    return Extractor(client, list(specs), window, today_key, staging_dir, extracted_at, store, scroll, deletions,
                     pii).run()

