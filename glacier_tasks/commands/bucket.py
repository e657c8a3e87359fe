"""`doit setup_bucket`, `doit check`, `doit policy`: the bucket's safety settings
(write-once policy, optional Object Lock), a check of everything a backup needs, and
the least-privilege IAM policy."""

from doit.exceptions import TaskFailed

from ..bucket import hardening
from ..backup.staging import budget_need
from ..run import load_run
from ..backup.plan import read_plan
from ..units import plural
from .base import current_run, param, say, user_errors


@user_errors
def setup_bucket_action(config, object_lock):
    if object_lock < 0:
        return TaskFailed(f"--object-lock {object_lock}: a number of days (suggested: "
                          f"{hardening.SUGGESTED_LOCK_DAYS}), or 0 to leave the lock as "
                          "it is")
    run = load_run(config)
    say(line[0].upper() + line[1:] for line in hardening.setup_bucket(
        run.store, run.settings.region, object_lock))


@user_errors
def check_action(config):
    run = load_run(config)
    plan = read_plan(run, required=False)
    need, staged = budget_need(plan, run.settings.staging_bags) if plan else (0, 0)
    findings = hardening.check(run.settings, run.store, need, staged)
    mark = {True: "ok     ", None: "WARNING", False: "PROBLEM"}
    say(f"{mark[ok]} {line}" for ok, line in findings)
    problems = sum(1 for ok, _ in findings if ok is False)
    if problems:
        return TaskFailed(f"{plural(problems, 'problem')} found (see above)")


@user_errors
def policy_action(config, role):
    if role not in hardening.ROLES:
        return TaskFailed(f"--role {role}: use backup (the everyday key, cannot delete) "
                          "or prune (deletes bags and manifests; keep it offline)")
    say([hardening.least_privilege_policy(load_run(config).settings.s3_bucket, role)])


SETUP_BUCKET_PARAMS = [param(
    "object_lock", int, 0, "lock each new object DAYS days in GOVERNANCE mode "
    f"({hardening.SUGGESTED_LOCK_DAYS} suggested: Deep Archive bills that anyway); turns "
    "versioning on; cannot be undone. 0 leaves the lock as it is", metavar="DAYS")]


def task_setup_bucket():
    """create and harden the bucket; no overwrites (--object-lock DAYS: Object Lock)"""
    return {"actions": [(setup_bucket_action, [current_run().config_file])],
            "uptodate": [False], "params": SETUP_BUCKET_PARAMS}


def task_check():
    """check credentials, bucket, its hardening and the staging room; one line each"""
    return {"actions": [(check_action, [current_run().config_file])], "uptodate": [False]}


POLICY_PARAMS = [param("role", str, "backup", "backup (no delete: the everyday key) or "
                                              "prune (deletes bags: keep it offline)")]


def task_policy():
    """print a least-privilege IAM policy JSON for the bucket (--role backup|prune)"""
    return {"actions": [(policy_action, [current_run().config_file])],
            "uptodate": [False], "params": POLICY_PARAMS}
