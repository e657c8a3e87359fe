"""The bucket's safety settings (spec section 4): public access blocked, default SSE-S3
encryption, incomplete multipart uploads aborted after 7 days; `check` verifies those
and more, `policy` prints the least-privilege IAM policy for the configured bucket."""

import json
import shutil

from .errors import StoreError

ABORT_RULE_ID = "glacier-tasks-abort-incomplete-uploads"
ABORT_DAYS = 7
BLOCK_ALL = {"BlockPublicAcls": True, "IgnorePublicAcls": True,
             "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


ROLES = ("backup", "prune")


def least_privilege_policy(bucket: str, role: str = "backup") -> str:
    """The IAM policy of a key for this bucket alone. `backup`, the everyday key, cannot
    delete (ransomware holding it cannot wipe the archive); `prune`, kept offline, may
    delete bags and manifests, never a system folder or another bucket's objects."""
    arn = f"arn:aws:s3:::{bucket}"
    statements = [
        {"Sid": "ListTheBucket", "Effect": "Allow",
         "Action": ["s3:ListBucket", "s3:ListBucketMultipartUploads",
                    "s3:GetBucketLocation", "s3:GetBucketPublicAccessBlock",
                    "s3:GetEncryptionConfiguration", "s3:GetLifecycleConfiguration"],
         "Resource": arn},
        {"Sid": "ReadAndAddObjects", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:PutObject", "s3:RestoreObject",
                    "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
         "Resource": f"{arn}/*"}]
    if role == "prune":
        statements += [
            {"Sid": "DeleteBagsAndManifests", "Effect": "Allow",
             "Action": ["s3:DeleteObject"], "Resource": f"{arn}/*-backup/*"},
            {"Sid": "NeverTheSystemFolders", "Effect": "Deny",
             "Action": ["s3:DeleteObject"], "Resource": f"{arn}/*-backup/system/*"}]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2)


def setup_bucket(store, region: str | None) -> list[str]:
    """Make the bucket safe; idempotent. Returns what it changed."""
    changed = []
    if not store.bucket_exists():
        store.create_bucket(region)
        changed.append(f"created bucket {store.bucket}")
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
    return changed or [f"bucket {store.bucket} was already set up: nothing changed"]


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
    credentials = store.has_credentials()
    found.append((credentials, "AWS credentials found" if credentials else
                  "no AWS credentials found: run 'aws configure'"))
    try:
        store.check_bucket()
        found.append((True, f"bucket {store.bucket} is reachable"))
    except StoreError as err:  # it says why; nothing below can work then
        found.append((False, str(err)))
        return found
    block = store.public_access_block() == BLOCK_ALL
    found.append((block, "public access is blocked" if block
                  else "public access is not fully blocked: run 'doit setup_bucket'"))
    sse = _encrypts(store.default_encryption())
    found.append((sse, "default encryption is on" if sse else
                  "default encryption is off: run 'doit setup_bucket'"))
    can_delete = store.can_delete()
    found.append((True if not can_delete else None,  # a warning, not a problem
                  "these credentials cannot delete objects" if not can_delete else "these credentials can delete objects: give the everyday "
                  "key the backup role ('doit policy --role backup') and keep a prune "
                  "key offline"))
    rule = _abort_rule(store.lifecycle_rules())
    found.append((rule, "incomplete multipart uploads are aborted after "
                        f"{ABORT_DAYS} days or less" if rule else
                  "no lifecycle rule aborts incomplete multipart uploads in the whole "
                  "bucket: run 'doit setup_bucket'"))
    free = shutil.disk_usage(_existing_parent(settings.staging_dir)).free
    room = free >= staging_need
    what = "the largest bag needs" if staged <= 1 else \
        f"the {staged} largest bags, staged at once (staging_bags = " \
        f"{settings.staging_bags}), need"
    found.append((room, f"staging_dir has {free / 1e9:.1f} GB free, {what} "
                        f"{staging_need / 1e9:.1f} GB" + ("" if room else
                                                          ": make room or move it")))
    return found


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
