"""`intercom_erase_job` when the code location holds several workspaces: one erase request reaches every workspace.

The request is the one-workspace job's (contact ids, an emails file) at the top of the run config, plus optionally
`workspaces` (names) to reach only those: `{contact_ids: [...], emails_file: PATH, workspaces: [eu]}`. A config
mapping hands it to one op per workspace, run one after the other; each op holds its own workspace's pool (so no run
of that workspace writes meanwhile), looks the emails up in that workspace's Intercom, erases from that workspace's
lake and adds the people to that workspace's own suppression list. A workspace whose lake does not hold a person
is left unchanged. The stored run config is scrubbed as in the one-workspace job.
"""

from collections.abc import Sequence
from typing import Any

from dagster import Failure, In, JobDefinition, Nothing, OpExecutionContext, config_mapping, job, op

from intercom_assets.automation.erase_job import (
    ERASE_JOB,
    ERASE_OP,
    EraseConfig,
    erase_in_workspace,
    forget_run_config,
    read_emails,
)
from intercom_assets.settings import Settings

# run id -> {"people": n, "unresolved": [...]}: what the run's ops did so far (they run one after the other in the
# run's one process: the code location's in-process executor); the last op reports it and fails on failed lookups.
_DONE: dict[str, dict[str, Any]] = {}


def _erase_op(settings: Settings, all_names: Sequence[str], last: bool):
    names = settings.names

    @op(name=names.qualify(ERASE_OP), pool=names.pool, ins={"after": In(Nothing)},
        required_resource_keys={names.storage_resource, names.intercom_resource},
        description=f"Erase contacts (by id, or by email) from every file of workspace {names.name}'s lake.")
    def erase_op(context: OpExecutionContext, config: EraseConfig) -> None:
        unknown = sorted(set(config.workspaces) - set(all_names))
        if unknown:
            raise Failure(description=f"workspaces {unknown} are not defined here: use names from {list(all_names)}")
        ids = [str(i).strip() for i in config.contact_ids if str(i).strip()]
        emails = read_emails(config.emails_file)
        if not ids and not emails:
            raise Failure(description="nothing to erase: give contact_ids or an emails_file with at least one email")
        done = _DONE.setdefault(context.run_id, {"people": 0, "unresolved": []})
        if not config.workspaces or names.name in config.workspaces:
            people, unresolved = erase_in_workspace(
                context, ids, emails, getattr(context.resources, names.storage_resource),
                getattr(context.resources, names.intercom_resource), names, settings.office_hours_schedule,
            )
            done["people"] += people
            done["unresolved"] += [f"workspace {names.name}: {reason}" for reason in unresolved]
        else:
            context.log.info(f"workspace {names.name} is not among the request's workspaces: left unchanged")
        if not last:
            return
        _DONE.pop(context.run_id, None)
        forget_run_config(context.instance, context.run_id, done["people"],
                          {"contact_ids": [], "emails_file": None, "workspaces": list(config.workspaces)})
        if done["unresolved"]:
            raise Failure(
                description=f"{len(done['unresolved'])} email lookups failed "
                f"({'; '.join(sorted(set(done['unresolved'])))}): every id given and every person the lakes hold "
                "with one of the emails was erased; run the erasure again once Intercom answers.",
                metadata={"lookups_failed": len(done["unresolved"]), "people_erased": done["people"]},
            )

    return erase_op


def build_multi_erase_job(workspaces: Sequence[Settings]) -> JobDefinition:
    """The erase job over several workspaces: one op per workspace, in order, all fed the one request."""
    all_names = [settings.names.name for settings in workspaces]
    ops = [_erase_op(settings, all_names, last=i == len(workspaces) - 1) for i, settings in enumerate(workspaces)]

    @config_mapping(config_schema=EraseConfig.to_config_schema())
    def one_request(request: dict) -> dict:
        return {"ops": {op_def.name: {"config": dict(request)} for op_def in ops}}

    @job(name=ERASE_JOB, config=one_request,
         description="Erase people from every file of every workspace's lake, or of the workspaces named "
         "(data-protection requests); see README 'Deletions and privacy'.")
    def intercom_erase_job() -> None:
        previous = None
        for op_def in ops:
            previous = op_def(after=previous) if previous is not None else op_def()

    return intercom_erase_job
