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


def least_privilege_policy(bucket: str) -> str:
    arn = f"arn:aws:s3:::{bucket}"
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "ListTheBucket", "Effect": "Allow",
         "Action": ["s3:ListBucket", "s3:ListBucketMultipartUploads",
                    "s3:GetBucketLocation", "s3:GetBucketPublicAccessBlock",
                    "s3:GetEncryptionConfiguration", "s3:GetLifecycleConfiguration"],
         "Resource": arn},
        {"Sid": "ObjectsInTheBucket", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:PutObject", "s3:RestoreObject", "s3:DeleteObject",
                    "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
         "Resource": f"{arn}/*"}]}, indent=2)


def setup_bucket(store, region: str | None) -> list[str]:
    """Make the bucket safe; idempotent. Returns what it changed."""
    client, bucket, changed = store.client, store.bucket, []
    with store.errors("setting up the bucket"):
        if not _exists(store):
            options = {} if region in (None, "us-east-1") else {
                "CreateBucketConfiguration": {"LocationConstraint": region}}
            client.create_bucket(Bucket=bucket, **options)
            changed.append(f"created bucket {bucket}")
        if _public_access_block(store) != BLOCK_ALL:
            client.put_public_access_block(Bucket=bucket,
                                           PublicAccessBlockConfiguration=BLOCK_ALL)
            changed.append("blocked all public access")
        if not _default_encryption(store):
            client.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "AES256"}}]})
            changed.append("turned on default SSE-S3 encryption")
        rules = _lifecycle_rules(store)
        if not _abort_rule(rules):
            rules.append({"ID": ABORT_RULE_ID, "Status": "Enabled",
                          "Filter": {"Prefix": ""},
                          "AbortIncompleteMultipartUpload": {
                              "DaysAfterInitiation": ABORT_DAYS}})
            client.put_bucket_lifecycle_configuration(
                Bucket=bucket, LifecycleConfiguration={"Rules": rules})
            changed.append(f"added a lifecycle rule aborting incomplete multipart uploads "
                           f"after {ABORT_DAYS} days")
    return changed or [f"bucket {bucket} was already set up: nothing changed"]


def check(settings, store, largest_bag: int) -> list[tuple[bool, str]]:
    """(ok, finding) for each check, in order; one line each for the user."""
    found = []
    text = settings.config_file.read_text(errors="replace").lower()
    leaked = "aws_secret_access_key" in text or "aws_access_key_id" in text
    found.append((not leaked, f"{settings.config_file}: no credentials in it" if not leaked
                  else f"{settings.config_file} holds AWS credentials: remove them and use "
                       "'aws configure'"))
    credentials = store.session.get_credentials()  # boto3's usual chain
    found.append((credentials is not None, "AWS credentials found" if credentials else
                  "no AWS credentials found: run 'aws configure'"))
    try:
        store.check_bucket()
        found.append((True, f"bucket {store.bucket} is reachable"))
    except StoreError as err:  # it says why; nothing below can work then
        found.append((False, str(err)))
        return found
    with store.errors("checking the bucket's settings"):
        block = _public_access_block(store)
        found.append((block == BLOCK_ALL, "public access is blocked" if block == BLOCK_ALL
                      else "public access is not fully blocked: run 'doit setup_bucket'"))
        sse = _default_encryption(store)
        found.append((sse, "default encryption is on" if sse else
                      "default encryption is off: run 'doit setup_bucket'"))
        rule = _abort_rule(_lifecycle_rules(store))
        found.append((rule, "incomplete multipart uploads are aborted after "
                            f"{ABORT_DAYS} days or less" if rule else
                      "no lifecycle rule aborts incomplete multipart uploads: run "
                      "'doit setup_bucket'"))
    free = shutil.disk_usage(_existing_parent(settings.staging_dir)).free
    room = free >= largest_bag
    found.append((room, f"staging_dir has {free / 1e9:.1f} GB free, the largest bag needs "
                        f"{largest_bag / 1e9:.1f} GB" + ("" if room else
                                                         ": make room or move it")))
    return found


def _existing_parent(path):
    while not path.exists():
        path = path.parent
    return path


def _exists(store) -> bool:
    try:
        store.client.head_bucket(Bucket=store.bucket)
        return True
    except store._bx.ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket"):
            return False
        raise


def _public_access_block(store) -> dict:
    try:
        return store.client.get_public_access_block(
            Bucket=store.bucket)["PublicAccessBlockConfiguration"]
    except store._bx.ClientError as err:
        if "NoSuchPublicAccessBlock" in err.response.get("Error", {}).get("Code", ""):
            return {}
        raise


def _default_encryption(store) -> bool:
    try:
        rules = store.client.get_bucket_encryption(
            Bucket=store.bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except store._bx.ClientError as err:
        if "ServerSideEncryptionConfigurationNotFound" in \
                err.response.get("Error", {}).get("Code", ""):
            return False
        raise
    return any(r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
               for r in rules)


def _lifecycle_rules(store) -> list:
    try:
        return store.client.get_bucket_lifecycle_configuration(Bucket=store.bucket)["Rules"]
    except store._bx.ClientError as err:
        if err.response.get("Error", {}).get("Code") == "NoSuchLifecycleConfiguration":
            return []
        raise


def _abort_rule(rules: list) -> bool:
    return any(r.get("Status") == "Enabled" and
               r.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation", 999)
               <= ABORT_DAYS for r in rules)
