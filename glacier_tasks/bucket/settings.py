"""The bucket's own settings (setup_bucket, check): policy, versioning, Object Lock,
public access block, default encryption, lifecycle rules, and whether these credentials
can delete. None or {} where S3 has none. A part of Store: the same client and errors.
"""

import json

# one empty object, written once by the first probe of the write-once policy
WRITE_PROBE = ".glacier-tasks-write-probe"


class BucketSettings:
    """Mixed into store.Store, which gives `client`, `bucket`, `_bx` and `_errors`."""

    def bucket_exists(self) -> bool:
        with self._errors("checking the bucket"):
            try:
                self.client.head_bucket(Bucket=self.bucket)
                return True
            except self._bx.ClientError as err:
                if err.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket"):
                    return False
                raise

    def create_bucket(self, region: str | None, object_lock: bool = False) -> None:
        """object_lock: created lock-enabled (S3 turns versioning on with it)."""
        options = {} if region in (None, "us-east-1") else {
            "CreateBucketConfiguration": {"LocationConstraint": region}}
        if object_lock:
            options["ObjectLockEnabledForBucket"] = True
        with self._errors("creating the bucket"):
            self.client.create_bucket(Bucket=self.bucket, **options)

    def bucket_policy(self) -> dict:
        """The bucket policy as a dict ({} when there is none)."""
        with self._errors("reading the bucket policy"):
            try:
                text = self.client.get_bucket_policy(Bucket=self.bucket)["Policy"]
                return json.loads(text)
            except self._bx.ClientError as err:
                if error_code(err) == "NoSuchBucketPolicy":
                    return {}
                raise

    def put_bucket_policy(self, policy: dict) -> None:
        """Write the policy; an empty one ({} or no statement) deletes it."""
        with self._errors("writing the bucket policy"):
            if policy.get("Statement"):
                self.client.put_bucket_policy(Bucket=self.bucket, Policy=json.dumps(policy))
            else:
                self.client.delete_bucket_policy(Bucket=self.bucket)

    def probe_write_once(self) -> tuple[bool, bool]:
        """(a write with If-None-Match: * goes through, a write without it goes
        through), asked of S3 with one empty probe key; "goes through" means the
        bucket policy let it reach S3's own checks. The first write stores the probe
        (once; after that S3 answers 412: the key is taken). The second carries a false
        If-Match instead, so S3 stores nothing even where the policy lets it through
        (412 again) and AWS, which checks the policy first, answers 403."""
        return (self._probe_write({"IfNoneMatch": "*"}),
                self._probe_write({"IfMatch": '"00000000000000000000000000000000"'}))

    def _probe_write(self, condition: dict) -> bool:
        with self._errors("testing the bucket policy with a probe key"):
            try:
                self.client.put_object(Bucket=self.bucket, Key=WRITE_PROBE, Body=b"",
                                       **condition)
                return True
            except self._bx.ClientError as err:
                code = error_code(err)
                if code in ("PreconditionFailed", "412", "ConditionalRequestConflict",
                            "NoSuchKey", "404"):  # an If-Match of a key not yet there
                    return True
                if code in ("AccessDenied", "403"):
                    return False
                raise

    def versioning(self) -> str:
        """'Enabled', 'Suspended', or '' for a bucket that was never versioned."""
        with self._errors("reading the versioning state"):
            return self.client.get_bucket_versioning(Bucket=self.bucket).get("Status", "")

    def hidden_versions(self) -> tuple[int, int, int]:
        """(older versions, their bytes, delete markers) of a versioned bucket: what a
        delete without a version id left behind, billed and unseen by a listing."""
        versions = size = markers = 0
        with self._errors("listing object versions"):
            for page in self.client.get_paginator("list_object_versions").paginate(
                    Bucket=self.bucket):
                old = [v for v in page.get("Versions", []) if not v.get("IsLatest")]
                versions += len(old)
                size += sum(v.get("Size", 0) for v in old)
                markers += len(page.get("DeleteMarkers", []))
        return versions, size, markers

    def put_versioning(self) -> None:
        with self._errors("turning on versioning"):
            self.client.put_bucket_versioning(
                Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})

    def object_lock(self) -> dict:
        """The Object Lock configuration ({} when Object Lock is off), e.g.
        {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {...}}}."""
        with self._errors("reading the Object Lock configuration"):
            try:
                return self.client.get_object_lock_configuration(
                    Bucket=self.bucket)["ObjectLockConfiguration"]
            except self._bx.ClientError as err:
                if error_code(err) == "ObjectLockConfigurationNotFoundError":
                    return {}
                raise

    def put_object_lock(self, mode: str, days: int) -> None:
        """Turn Object Lock on (an existing bucket needs versioning first) with a
        default retention: every new object version is locked `days` days."""
        with self._errors("turning on Object Lock"):
            self.client.put_object_lock_configuration(
                Bucket=self.bucket, ObjectLockConfiguration={
                    "ObjectLockEnabled": "Enabled",
                    "Rule": {"DefaultRetention": {"Mode": mode, "Days": days}}})

    def public_access_block(self) -> dict:
        with self._errors("reading the public access block"):
            try:
                return self.client.get_public_access_block(
                    Bucket=self.bucket)["PublicAccessBlockConfiguration"]
            except self._bx.ClientError as err:
                if "NoSuchPublicAccessBlock" in error_code(err):
                    return {}
                raise

    def put_public_access_block(self, block: dict) -> None:
        with self._errors("blocking public access"):
            self.client.put_public_access_block(Bucket=self.bucket,
                                                PublicAccessBlockConfiguration=block)

    def default_encryption(self) -> list:
        """The bucket's default-encryption rules ([] when it has none)."""
        with self._errors("reading the default encryption"):
            try:
                return self.client.get_bucket_encryption(
                    Bucket=self.bucket)["ServerSideEncryptionConfiguration"]["Rules"]
            except self._bx.ClientError as err:
                if "ServerSideEncryptionConfigurationNotFound" in error_code(err):
                    return []
                raise

    def put_default_encryption(self, algorithm: str) -> None:
        with self._errors("turning on default encryption"):
            self.client.put_bucket_encryption(
                Bucket=self.bucket, ServerSideEncryptionConfiguration={"Rules": [
                    {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": algorithm}}]})

    def lifecycle_rules(self) -> list:
        with self._errors("reading the lifecycle rules"):
            try:
                return self.client.get_bucket_lifecycle_configuration(
                    Bucket=self.bucket)["Rules"]
            except self._bx.ClientError as err:
                if error_code(err) == "NoSuchLifecycleConfiguration":
                    return []
                raise

    def put_lifecycle_rules(self, rules: list) -> None:
        with self._errors("writing the lifecycle rules"):
            self.client.put_bucket_lifecycle_configuration(
                Bucket=self.bucket, LifecycleConfiguration={"Rules": rules})

    def can_delete(self, versioned: bool = False) -> bool:
        """Can these credentials delete objects? Asked by deleting a key that does not
        exist (nothing is lost): S3 answers 204 when allowed, AccessDenied when not.
        On a versioned bucket the probe names a version: that asks for the right that
        removes data there (s3:DeleteObjectVersion), and leaves no delete marker."""
        probe = ".glacier-tasks-delete-probe/never-written"
        version = {"VersionId": "null"} if versioned else {}
        with self._errors("checking whether these credentials can delete"):
            try:
                self.client.delete_object(Bucket=self.bucket, Key=probe, **version)
                return True
            except self._bx.ClientError as err:
                if error_code(err) in ("AccessDenied", "403"):
                    return False
                raise


def error_code(err) -> str:
    """S3's error code of a botocore ClientError ('NoSuchKey', '412', ...)."""
    return err.response.get("Error", {}).get("Code", "")
