"""`intercom_erase_job`: erase people from the lake on a data-protection request (lake/erasure.py does the work).

Launched from the UI's launchpad, or `dagster job execute -m intercom_assets.definitions -j intercom_erase_job -c
erase.yaml` with `ops: {intercom_erase: {config: {contact_ids: [...], emails_file: PATH}}}`. `emails_file` (one
email per line) is read here and never copied into run config, events or logs. Dagster stores run config: once the
erasure is done, the run's stored config keeps no contact id (SQLite's secure_delete overwrites the old record).
The op holds the `intercom_api` pool, so no extraction, deletion rewrite or current-state refresh runs meanwhile.
"""


import shutil
from datetime import UTC, datetime
from pathlib import Path

from dagster import (
    AssetMaterialization,
    Config,
    DagsterInstance,
    Failure,
    MetadataValue,
    OpExecutionContext,
    job,
    op,
)
from dagster._core.storage.runs.schema import RunsTable
from dagster._serdes import serialize_value

from intercom_assets.intercom.errors import IntercomError
from intercom_assets.keys import DEFAULT_NAMES, POOL, WorkspaceNames
from intercom_assets.lake.erasure import erase
from intercom_assets.lake.staging import fresh_staging_dir
from intercom_assets.metrics import METRICS_DIR
from intercom_assets.resources import IntercomResource, ParquetStorageResource

ERASE_JOB = "intercom_erase_job"
ERASE_OP = "intercom_erase"
ERASED_TAG = "intercom/erased_contacts"


class EraseConfig(Config):
    """Who to erase: contact ids, and/or a file of emails (read at run time, never stored by Dagster)."""

    contact_ids: list[str] = []
    emails_file: str | None = None
    # With several workspaces: the names of those to erase from (empty: every workspace; see erase_multi.py).
    workspaces: list[str] = []


def read_emails(path: str | None) -> list[str]:
    """The file's emails, one per line (blank lines and `#` comments skipped); errors name the line, not the value."""
    if not path:
        return []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise Failure(description=f"emails_file {path}: cannot be read ({type(exc).__name__})") from None
    emails = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if "@" not in text or any(c.isspace() for c in text):
            raise Failure(description=f"emails_file {path}, line {number}: not an email address")
        emails.append(text)
    return emails


@op(name=ERASE_OP, pool=POOL, description="Erase contacts (by id, or by email) from every file of the lake.")
def intercom_erase(context: OpExecutionContext, config: EraseConfig, parquet_storage: ParquetStorageResource,
                   intercom: IntercomResource) -> None:
    if config.workspaces:
        raise Failure(description="workspaces: this code location has one workspace (the INTERCOM_* variables); "
                      "leave `workspaces` empty")
    ids, emails = _request(config)
    people, unresolved = erase_in_workspace(context, ids, emails, parquet_storage, intercom, DEFAULT_NAMES)
    forget_run_config(context.instance, context.run_id, people)
    _fail_on_unresolved(unresolved, emails, people)


def _request(config: EraseConfig) -> tuple[list[str], list[str]]:
    ids = [str(i).strip() for i in config.contact_ids if str(i).strip()]
    emails = read_emails(config.emails_file)
    if not ids and not emails:
        raise Failure(description="nothing to erase: give contact_ids or an emails_file with at least one email")
    return ids, emails


def erase_in_workspace(context: OpExecutionContext, ids: list[str], emails: list[str],
                       parquet_storage: ParquetStorageResource, intercom: IntercomResource, names: WorkspaceNames,
                       office_hours_schedule: str = "") -> tuple[int, list[str]]:
    """Erase the people from one workspace's lake (and add them to its own suppression list); returns how many
    people were erased and why each email that could not be looked up in that workspace's Intercom was not.
    `office_hours_schedule`: the workspace's, for the metrics rebuilt afterwards (empty: the variable's, or the
    only or first schedule)."""
    found, unresolved = people_in_intercom(intercom, emails)
    store = parquet_storage.get_store()
    store.check_writable()
    scratch = fresh_staging_dir(parquet_storage.staging_dir)  # also removes what dead runs left in staging
    try:
        report = erase(store, [*ids, *found], emails, int(datetime.now(UTC).timestamp()), scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    rebuild_metrics(context, parquet_storage, office_hours_schedule)
    for table, keys in sorted(report.rewritten.items()):
        for key in sorted(keys):
            path = store.partition_path(table, key)
            context.log_event(AssetMaterialization(
                names.asset_key(table), partition=key, description="Rewritten by an erasure.",
                metadata={"dagster/uri": MetadataValue.path(str(path)),
                          "dagster/row_count": store.row_count(table, key)},
            ))
    context.log.info(("" if names.is_default else f"workspace {names.name}: ") + report.summary())
    return report.people, unresolved


def _fail_on_unresolved(unresolved: list[str], emails: list[str], people: int) -> None:
    if unresolved:
        raise Failure(
            description=f"{len(unresolved)} of {len(emails)} emails could not be looked up in Intercom "
            f"({'; '.join(sorted(set(unresolved)))}): every id given and every person the lake holds with one of "
            "the emails was erased; run the erasure again once Intercom answers, to erase the people Intercom "
            "holds under those emails that the lake does not.",
            metadata={"emails_unresolved": len(unresolved), "people_erased": people},
        )


def rebuild_metrics(context: OpExecutionContext, storage: ParquetStorageResource, office_hours_schedule: str = ""
                    ) -> None:
    """The support metrics are computed from the current state the erasure just rewrote: rebuild them, so that
    no metrics file keeps a value of the people erased; if that fails, remove them (the next refresh rebuilds)."""
    folder = storage.get_store().root / METRICS_DIR
    if not folder.exists():
        return
    from intercom_assets.metrics.assets import build_metrics  # dbt only when there are metrics (metrics/__init__.py)

    try:
        build_metrics(storage.root, storage.staging_dir, office_hours_schedule)
    except Exception as error:
        folder.fs.rm(folder.path, recursive=True)
        raise Failure(description=f"the support metrics could not be rebuilt after the erasure and were removed "
                      f"({type(error).__name__}); the next window run rebuilds them") from None
    context.log.info("Support metrics rebuilt from the erased current state.")


def people_in_intercom(intercom: IntercomResource, emails: list[str]) -> tuple[list[str], list[str]]:
    """The ids Intercom holds under these emails (as written and in lower case: how Intercom compares is not
    documented), and for each email it could not look up, why (the request and status, never the email)."""
    ids: list[str] = []
    unresolved: list[str] = []
    if not emails:
        return ids, unresolved
    try:
        with intercom.open_client() as client:
            for email in emails:
                try:
                    ids += [i for variant in dict.fromkeys([email, email.lower()])
                            for i in client.contact_ids_with_email(variant)]
                except IntercomError as error:
                    unresolved.append(_lookup_failure(error))
    except IntercomError as error:  # the client could not even be opened (a bad base URL, no token)
        unresolved = [_lookup_failure(error)] * len(emails)
    return ids, unresolved


def _lookup_failure(error: IntercomError) -> str:
    """What a failed lookup says: the endpoint, the status and Intercom's error code (its message could echo the
    email, so it is left out)."""
    endpoint = getattr(error, "endpoint", None) or "the contact search by email"
    status = getattr(error, "status", None)
    code = getattr(error, "code", None)
    return f"{endpoint}: {f'HTTP {status}' if status else type(error).__name__}{f' {code}' if code else ''}"


def forget_run_config(instance: DagsterInstance, run_id: str, erased: int, config: dict | None = None) -> None:
    """Replace the run's stored config by one without contact ids (the count goes to a tag instead)."""
    run = instance.get_run_by_id(run_id)
    if run is None:
        return
    config = config or {"ops": {ERASE_OP: {"config": {"contact_ids": [], "emails_file": None}}}}
    scrubbed = run._replace(run_config=config, tags={**run.tags, ERASED_TAG: str(erased)})
    storage = instance.run_storage
    with storage.connect() as conn:  # type: ignore[attr-defined]
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA secure_delete = ON")  # the old record's bytes are overwritten
        conn.execute(RunsTable.update().where(RunsTable.c.run_id == run_id).values(run_body=serialize_value(scrubbed)))


@job(name=ERASE_JOB, description="Erase people from every file of the lake (data-protection requests); see README "
     "'Deletions and privacy'.")
def intercom_erase_job() -> None:
    intercom_erase()
