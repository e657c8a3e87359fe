"""The bucket's safety settings (spec section 4): public access blocked, default SSE-S3
encryption, incomplete multipart uploads aborted after 7 days, a bucket policy that
refuses any write able to replace an object, and optionally Object Lock; `check`
verifies those and more, `policy` prints the least-privilege IAM policy for the
configured bucket.

Write-once: every upload of this tool carries `If-None-Match: *`, which S3 refuses (412)
when the key exists. The bucket policy's Deny makes that the only way in, so a key that
cannot delete cannot destroy a bag by overwriting it either. Object Lock (GOVERNANCE
mode) adds that even a key that can delete cannot remove an object version before its
retention date.
"""

import json
import shutil

from ..errors import StoreError, command
from ..units import human, plural

ABORT_RULE_ID = "glacier-tasks-abort-incomplete-uploads"
ABORT_DAYS = 7
BLOCK_ALL = {"BlockPublicAcls": True, "IgnorePublicAcls": True,
             "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
WRITE_ONCE_SID = "GlacierTasksDenyOverwrites"
LOCK_MODE = "GOVERNANCE"  # COMPLIANCE would bind even the account's root until the date
SUGGESTED_LOCK_DAYS = 180  # Deep Archive bills 180 days anyway: a lock this long is free


def write_once_statement(bucket: str) -> dict:
    """The bucket policy statement refusing every PutObject and CompleteMultipartUpload
    without `If-None-Match` (AWS's "enforce conditional writes"): s3:if-none-match is
    Null when the header is absent; s3:ObjectCreationOperation is false for the calls
    that create nothing and cannot carry the header (CreateMultipartUpload, UploadPart).

    Principal "*", not the backup key alone: this tool never writes unconditionally, so
    nothing legitimate is refused, and every principal covers what a role ARN would
    miss (an admin key left on the machine, a second IAM user, the account root) and
    needs no ARN that a renamed user or role would silently stop matching. The price:
    a plain `aws s3 cp` (or CopyObject) into the bucket is refused too."""
    return {"Sid": WRITE_ONCE_SID, "Effect": "Deny", "Principal": "*",
            "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*",
            "Condition": {"Null": {"s3:if-none-match": "true"},
                          "Bool": {"s3:ObjectCreationOperation": "true"}}}


def with_write_once(policy: dict, bucket: str) -> dict:
    """The bucket policy with our statement in place: any other statement is kept as
    it is; ours (found by its Sid) is replaced, or added."""
    statements = _statements(policy)
    ours = write_once_statement(bucket)
    if any(s.get("Sid") == WRITE_ONCE_SID for s in statements):
        statements = [ours if s.get("Sid") == WRITE_ONCE_SID else s for s in statements]
    else:
        statements.append(ours)
    return {**policy, "Version": policy.get("Version", "2012-10-17"),
            "Statement": statements}


def enforces_write_once(policy: dict, bucket: str) -> bool:
    """Does some statement of this policy refuse unconditional writes to every object of
    the bucket, as ours does (whatever its Sid; S3's own spellings accepted)?"""
    return any(_same_statement(s, write_once_statement(bucket))
               for s in _statements(policy))


def _statements(policy: dict) -> list:
    found = policy.get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def _same_statement(found: dict, ours: dict) -> bool:
    def listed(value):
        return sorted([value] if isinstance(value, str) else value or [])

    def everyone(principal):
        return principal in ("*", {"AWS": "*"}, {"AWS": ["*"]})
    return (found.get("Effect") == ours["Effect"] and everyone(found.get("Principal"))
            and listed(found.get("Action")) == listed(ours["Action"])
            and listed(found.get("Resource")) == listed(ours["Resource"])
            and _conditions(found) == _conditions(ours))


def _conditions(statement: dict) -> dict:
    """Condition, with S3's lower-case `true`s and single-item lists made alike."""
    return {op: {key.lower(): str(v[0] if isinstance(v, list) and len(v) == 1 else v)
                 .lower() for key, v in keys.items()}
            for op, keys in statement.get("Condition", {}).items()}


def lock_words(config: dict) -> str | None:
    """'180 days, GOVERNANCE mode' from an Object Lock configuration; None when it sets
    no default retention (Object Lock on, but new objects are not locked)."""
    rule = config.get("Rule", {}).get("DefaultRetention", {})
    if not rule.get("Mode"):
        return None
    days, years = rule.get("Days") or 0, rule.get("Years") or 0
    span = plural(days, "day") if days else plural(years, "year")
    return f"{span}, {rule['Mode']} mode"


ROLES = ("backup", "prune")


def least_privilege_policy(bucket: str, role: str = "backup") -> str:
    """The IAM policy of a key for this bucket alone. `backup`, the everyday key, cannot
    delete (ransomware holding it cannot wipe the archive); `prune`, kept offline, may
    delete bags and manifests (on a versioned bucket: their versions, after reading
    their Object Lock), never a system folder or another bucket's objects, and never
    bypasses a lock (no s3:BypassGovernanceRetention: a locked bag waits)."""
    arn = f"arn:aws:s3:::{bucket}"
    deletes = ["s3:DeleteObject", "s3:DeleteObjectVersion"]
    statements = [
        {"Sid": "ListTheBucket", "Effect": "Allow",
         "Action": ["s3:ListBucket", "s3:ListBucketMultipartUploads",
                    "s3:ListBucketVersions", "s3:GetBucketLocation", "s3:GetBucketPublicAccessBlock",
                    "s3:GetEncryptionConfiguration", "s3:GetLifecycleConfiguration",
                    "s3:GetBucketPolicy", "s3:GetBucketVersioning",
                    "s3:GetBucketObjectLockConfiguration"],
         "Resource": arn},
        {"Sid": "ReadAndAddObjects", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:PutObject", "s3:RestoreObject",
                    "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
         "Resource": f"{arn}/*"}]
    if role == "prune":
        statements += [
            {"Sid": "ReadTheLocks", "Effect": "Allow",
             "Action": ["s3:GetObjectRetention", "s3:GetObjectLegalHold"],
             "Resource": f"{arn}/*-backup/*"},
            {"Sid": "DeleteBagsAndManifests", "Effect": "Allow",
             "Action": deletes, "Resource": f"{arn}/*-backup/*"},
            {"Sid": "NeverTheSystemFolders", "Effect": "Deny",
             "Action": deletes, "Resource": f"{arn}/*-backup/system/*"}]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2)


def setup_bucket(store, region: str | None, lock_days: int = 0) -> list[str]:
    """Make the bucket safe; idempotent. Returns what it changed. lock_days > 0: Object
    Lock with that default retention (GOVERNANCE); 0 leaves the lock as it is."""
    changed = []
    if not store.bucket_exists():
        store.create_bucket(region, object_lock=lock_days > 0)
        changed.append(f"created bucket {store.bucket}" +
                       (" with Object Lock enabled" if lock_days else ""))
    if store.public_access_block() != BLOCK_ALL:
        store.put_public_access_block(BLOCK_ALL)
        changed.append("blocked all public access")
    if not _encrypts(store.default_encryption()):
        store.put_default_encryption("AES256")
        changed.append("turned on default SSE-S3 encryption")
    rules = store.lifecycle_rules()
    if not _abort_rule(rules):
        rules.append({"ID": ABORT_RULE_ID, "Status": "Enabled", "Filter": {"Prefix": ""},
                      "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_DAYS}})
        store.put_lifecycle_rules(rules)
        changed.append(f"added a lifecycle rule aborting incomplete multipart uploads "
                       f"after {ABORT_DAYS} days")
    added, notes = _write_once(store)
    changed += added
    if lock_days:
        changed += _lock(store, lock_days)
    return changed + notes + ([] if changed else
                              [f"bucket {store.bucket} was already set up: nothing changed"])


def _write_once(store) -> tuple[list[str], list[str]]:
    """Add the write-once statement, then prove it with the probe key: (what changed,
    what the probe found). An S3 that refuses even the tool's conditional writes under
    it (moto: it cannot evaluate the Condition) does not keep it, or every backup
    would fail with 403."""
    policy = store.bucket_policy()
    added = not enforces_write_once(policy, store.bucket)
    if added:
        store.put_bucket_policy(with_write_once(policy, store.bucket))
    conditional, plain = store.probe_write_once()
    if not conditional:  # the policy as it was, or without every statement like ours
        store.put_bucket_policy(policy if added else {**policy, "Statement": [
            s for s in _statements(policy)
            if not _same_statement(s, write_once_statement(store.bucket))]})
        return ([] if added else ["removed the write-once statement"]), [
            f"no write-once statement: {UNEVALUATED} refused a write with If-None-Match: "
            "* under it, so every backup would fail with 403"]
    changed = ["added a bucket policy statement refusing every write without "
               "If-None-Match: * (no object can be overwritten)"] if added else []
    return changed, ([f"this S3 server does not enforce the write-once statement: "
                      f"{UNENFORCED}"] if plain else [])


UNEVALUATED = "this S3 server cannot evaluate its condition and"
UNENFORCED = "a write without If-None-Match: * to the probe key went through"


def _lock(store, days: int) -> list[str]:
    """Versioning, then Object Lock with a default retention of `days` (S3 allows both
    on an existing bucket; neither can be turned off again)."""
    changed = []
    if store.versioning() != "Enabled":
        store.put_versioning()
        changed.append("turned on versioning (Object Lock needs it; it cannot be "
                       "suspended again once the lock is on)")
    config = store.object_lock()
    wanted = f"{plural(days, 'day')}, {LOCK_MODE} mode"
    before = lock_words(config)
    if before != wanted:
        store.put_object_lock(LOCK_MODE, days)
        changed.append(
            f"changed Object Lock's default retention to {wanted} (was {before})"
            if before else
            f"set Object Lock's default retention: each new object is locked {wanted}"
            if config.get("ObjectLockEnabled") == "Enabled" else
            f"turned on Object Lock: each new object is locked {wanted}; it cannot be "
            "turned off again")
    return changed


def check(settings, store, staging_need: int,
          staged: int = 1) -> list[tuple[bool | None, str]]:
    """(ok, finding) for each check, in order; one line each for the user. ok None: a
    warning (the run can go on, but the user should know). `staging_need`: the bytes
    of the `staged` largest bags, what staging_dir holds at most at once."""
    found = []
    text = settings.config_file.read_text(errors="replace").lower()
    leaked = "aws_secret_access_key" in text or "aws_access_key_id" in text
    found.append((not leaked, f"{settings.config_file}: no credentials in it" if not leaked
                  else f"{settings.config_file} holds AWS credentials: remove them and use "
                       "'aws configure'"))
    if not store.has_credentials():  # said once: nothing below can be asked then
        return found + [(False, "no AWS credentials found: run 'aws configure' or set "
                                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")]
    found.append((True, "AWS credentials found"))
    try:
        store.check_bucket()
        found.append((True, f"bucket {store.bucket} is reachable"))
    except StoreError as err:  # it says why; nothing below can work then
        found.append((False, str(err)))
        return found
    block = store.public_access_block() == BLOCK_ALL
    found.append((block, "public access is blocked" if block
                  else "public access is not fully blocked: run "
                       f"'{command('setup_bucket')}'"))
    sse = _encrypts(store.default_encryption())
    found.append((sse, "default encryption is on" if sse else
                  f"default encryption is off: run '{command('setup_bucket')}'"))
    findings, versioning = _write_once_and_lock(store)
    found += findings
    can_delete = store.can_delete(versioned=versioning == "Enabled")
    found.append((True if not can_delete else None,  # a warning, not a problem
                  "these credentials cannot delete objects" if not can_delete else "these credentials can delete objects: give the everyday "
                  f"key the backup role ('{command('policy --role backup')}') and keep a "
                  "prune key offline"))
    rule = _abort_rule(store.lifecycle_rules())
    found.append((rule, "incomplete multipart uploads are aborted after "
                        f"{ABORT_DAYS} days or less" if rule else
                  "no lifecycle rule aborts incomplete multipart uploads in the whole "
                  f"bucket: run '{command('setup_bucket')}'"))
    free = shutil.disk_usage(_existing_parent(settings.staging_dir)).free
    room = free >= staging_need
    what = "the largest bag needs" if staged <= 1 else \
        f"the {staged} largest bags, staged at once (staging_bags = " \
        f"{settings.staging_bags}), need"
    found.append((room, f"staging_dir has {human(free)} free, {what} "
                        f"{human(staging_need)}" + ("" if room else
                                                          ": make room or move it")))
    return found


def _write_once_and_lock(store) -> tuple[list, str | None]:
    """The bucket policy's write-once statement and the Object Lock, as findings (a
    missing statement is a warning; no lock is fine: it is optional), and the
    versioning state (None when it cannot be read)."""
    found = []
    try:
        found.append(_write_once_finding(store))
    except StoreError as err:  # e.g. a key whose IAM policy predates this check
        found.append((None, f"cannot tell whether overwrites are refused: {err}"))
    try:
        versioning, config = store.versioning(), store.object_lock()
    except StoreError as err:
        return found + [(None, f"cannot tell whether Object Lock is on: {err}")], None
    words = lock_words(config)
    state = {"Enabled": "on", "Suspended": "suspended"}.get(versioning, "off")
    if words:
        found.append((True, f"Object Lock is on: each new object is locked {words} "
                            f"(versioning {state})"))
    elif config.get("ObjectLockEnabled") == "Enabled":
        fix = command(f"setup_bucket --object-lock {SUGGESTED_LOCK_DAYS}")
        found.append((None, "Object Lock is on but sets no default retention, so new "
                            f"objects are not locked: run '{fix}'"))
    else:
        found.append((True, f"Object Lock is off, versioning {state} (optional: '"
                            f"{command(f'setup_bucket --object-lock {SUGGESTED_LOCK_DAYS}')}')"))
    if versioning in ("Enabled", "Suspended"):
        found.append(_hidden_versions(store))
    return found, versioning


def _write_once_finding(store) -> tuple:
    """The write-once statement, as the policy says and as the probe key shows: fine
    only when S3 lets a conditional write through and refuses a plain one."""
    if not enforces_write_once(store.bucket_policy(), store.bucket):
        return None, ("the bucket policy does not refuse overwrites (writes without "
                      f"If-None-Match: *): run '{command('setup_bucket')}'")
    conditional, plain = store.probe_write_once()
    if not conditional:
        return False, ("the bucket policy refuses even writes with If-None-Match: * "
                       "(tested with a probe key), so every backup fails with 403: "
                       "S3 cannot evaluate its write-once statement here; remove it")
    if plain:
        return None, ("the bucket policy's write-once statement is not enforced: "
                      f"{UNENFORCED}")
    return True, ("the bucket policy refuses writes without If-None-Match: * (nothing "
                  "can overwrite an object; tested with a probe key)")


def _hidden_versions(store) -> tuple:
    """A delete without a version id (not this tool's) hides an object behind a delete
    marker: still billed, unseen by `prune`. Said, never cleaned here: a lifecycle rule
    expiring them would let whoever can add delete markers wipe the archive slowly."""
    try:
        versions, size, markers = store.hidden_versions()
    except StoreError as err:
        return None, f"cannot count older object versions: {err}"
    if not versions and not markers:
        return True, "no older object versions or delete markers"
    return None, (f"{plural(versions, 'older object version')} ({human(size)}, billed) "
                  f"and {plural(markers, 'delete marker')}: something deleted objects without a "
                  "version id; see them with 'aws s3api list-object-versions', and "
                  "delete what you do not need by its version id")


def _existing_parent(path):
    while not path.exists():
        path = path.parent
    return path


def _encrypts(rules: list) -> bool:
    return any(r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
               for r in rules)


def _abort_rule(rules: list) -> bool:
    """An enabled rule aborting incomplete uploads within ABORT_DAYS, for the whole
    bucket (a rule limited to a prefix or tag leaves the others billed for ever)."""
    return any(r.get("Status") == "Enabled" and _whole_bucket(r) and
               r.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation", 999)
               <= ABORT_DAYS for r in rules)


def _whole_bucket(rule: dict) -> bool:
    scope = rule.get("Filter", {"Prefix": rule.get("Prefix", "")})
    return scope in ({}, {"Prefix": ""})
