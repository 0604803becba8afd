"""The shape of the package: tables are named only by their declarations, and imports never go in a circle.

Adding a table means adding an entry to `tables.py` (and its columns to `columns/`): a module that named a table,
an API path or a source itself would have to change too, and would be missed when the next table arrives.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from intercom_assets.declarations import Children
from intercom_assets.lake import erasure
from intercom_assets.lake.deletions import DeletionLog, rewrite_partitions, scoped
from intercom_assets.lake.storage import ParquetStore
from intercom_assets.tables import PEOPLE_TABLE, TABLES, TableSpec, deletion_sources, lineage_sources

PACKAGE = Path(__file__).resolve().parents[1] / "intercom_assets"
# Where the registry's names may not appear: the code that must work for every table.
GENERIC = ("extraction", "lake", "automation", "run_step.py")


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules this one imports, at module level or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in modules)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target):], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _folder(module: str) -> str:
    """A sub-package (intercom_assets.lake) stands for its modules; a top-level module for itself."""
    parts = module.split(".")
    return ".".join(parts[:2])


def test_no_import_cycle_between_modules_or_folders() -> None:
    modules = _modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    assert _cycle(graph) is None, f"import cycle between modules: {' -> '.join(_cycle(graph) or [])}"
    folders: dict[str, set[str]] = {}
    for name, targets in graph.items():
        folders.setdefault(_folder(name), set()).update(_folder(t) for t in targets if _folder(t) != _folder(name))
    assert _cycle(folders) is None, f"import cycle between folders: {' -> '.join(_cycle(folders) or [])}"


def test_no_private_name_is_imported_from_another_module() -> None:
    """A module's `_names` are its own: what another module needs is public (and said to be)."""
    found = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("intercom_assets"):
                found += [f"{name}: {alias.name} from {node.module}" for alias in node.names
                          if alias.name.startswith("_")]
    assert found == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def _registry_names() -> tuple[set[str], set[str]]:
    """Every table and source name the registry declares, and every API path."""
    names, paths = set(), set()
    for spec in TABLES:
        names.add(spec.name)
        sources = [*lineage_sources(spec), spec.source]
        if spec.children is not None and spec.children.fetch is not None:
            sources.append(spec.children.fetch)
        for source in sources:
            names.add(source.name)
            paths.add(source.path)
            signal = source.deletions
            if signal is not None:
                paths.update(p for p in (signal.probe.path if signal.probe else None,) if p)
                if signal.deleted_list is not None:
                    names.add(signal.deleted_list.name)
                    paths.add(signal.deleted_list.path)
    return names, paths


def _strings(path: Path) -> Iterator[tuple[int, str]]:
    """Every string literal of a module but its docstrings (f-string pieces included)."""
    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def test_generic_code_names_no_table_path_or_source() -> None:
    names, paths = _registry_names()
    assert {"contacts", "conversations_deleted", "companies_scroll"} <= names and "/contacts/{id}" in paths
    files = [p for part in GENERIC for p in ((PACKAGE / part).rglob("*.py") if (PACKAGE / part).is_dir()
                                             else [PACKAGE / part])]
    assert len(files) > 20
    found = []
    for path in files:
        for line, text in _strings(path):
            if text in names or any(api in text for api in paths):
                found.append(f"{path.relative_to(PACKAGE)}:{line}: {text!r}")
    assert found == [], "ask the registry (tables.py) instead of naming these:\n" + "\n".join(found)


def test_the_name_finder_sees_a_table_named_in_code(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text('"""Reads contacts."""\n\ndef f(store):\n    """Docstrings may name contacts."""\n'
                      '    return store.read("contacts", f"x {1}/contacts/{{id}}")\n')
    assert [text for _, text in _strings(module)] == ["contacts", "x ", "/contacts/{id}"]


def _child_of_people() -> TableSpec:
    """A table the registry does not have: notes on each person, a request per person."""
    return TableSpec(
        name="person_notes_example", source=PEOPLE_TABLE.source, partition_column="contact_updated_at",
        fields={}, description="test", replaces="none", key=("contact_id", "id"),
        children=Children(PEOPLE_TABLE.name, "contact"),
    )


def test_a_new_table_that_refers_to_people_is_reached_by_deletions_and_erasure(tmp_path: Path, monkeypatch) -> None:
    """Declared, and nothing else: a deletion of a person and an erasure remove its rows."""
    notes = _child_of_people()
    store = ParquetStore(tmp_path / "lake")
    for day, ids in (("2026-11-01", ["a", "b"]), ("2026-11-02", ["b", "c"])):
        local = tmp_path / f"{day}.parquet"
        pq.write_table(pa.table({"contact_id": ids, "id": [f"n-{i}" for i in ids],
                                 "body": [f"about {i}" for i in ids]}), local)
        store.write_file(notes.name, day, local)
    assert notes.columns_referring_to(PEOPLE_TABLE.name) == ("contact_id",)
    rewritten = rewrite_partitions(store, [notes], DeletionLog(), tmp_path / "scratch", only={PEOPLE_TABLE.name: {"a"}})
    assert [(r.partition, r.rows_removed) for r in rewritten] == [("2026-11-01", 1)]
    assert scoped({PEOPLE_TABLE.name: {"b"}}).removals(notes) == {"contact_id": {"b"}}

    monkeypatch.setattr(erasure, "TABLES", (*TABLES, notes))
    report = erasure.erase(store, ["b"], [], 1_700_000_000, tmp_path / "scratch")
    assert report.rewritten[notes.name] == {"2026-11-01", "2026-11-02"}
    left = pa.concat_tables([store.read(notes.name, day) for day in ("2026-11-01", "2026-11-02")])
    assert left.column("contact_id").to_pylist() == ["c"]


def test_every_deletion_signal_belongs_to_a_record_table() -> None:
    sources = deletion_sources()
    assert {s.name for s in sources} >= {"contacts_search", "companies_scroll", "conversations_search"}
    for source in sources:
        signal = source.deletions
        assert signal is not None and (signal.deleted_list or signal.merges or signal.sweep or signal.complete)
        if signal.sweep or signal.complete:
            assert signal.probe is not None, f"{source.name}: a listing alone never proves a deletion"


def test_every_asset_is_declared_in_a_group_of_ours_with_a_description() -> None:
    """No asset the UI shows is a stub Dagster made up for an undeclared dependency (in the `default` group)."""
    from dagster._core.definitions.assets.definition.asset_spec import SYSTEM_METADATA_KEY_AUTO_CREATED_STUB_ASSET

    from intercom_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    assert len(keys) > len(TABLES)
    problems = []
    for key in sorted(keys, key=lambda k: k.to_user_string()):
        node = graph.get(key)
        if node.metadata.get(SYSTEM_METADATA_KEY_AUTO_CREATED_STUB_ASSET):
            problems.append(f"{key.to_user_string()}: an auto-created stub")
        if node.group_name in (None, "default"):
            problems.append(f"{key.to_user_string()}: in the default group")
        if not (node.description or "").strip():
            problems.append(f"{key.to_user_string()}: no description")
    assert problems == []
