"""The store of objects, through boto3: head, put, multipart upload, list, thaw, and
errors (the bucket's own settings are settings.py's). Callers get typed records (ObjectInfo), never boto's dicts.

Uploads are multipart in few large parts (every part is billed like a PUT), streamed
from the staged file so memory stays flat, with a full-object CRC64NVME checksum that
S3 checks against the one computed while the tar was written. An interrupted upload
is resumed from its finished parts; any other open upload of the same key is aborted.

Every key is written once: each PUT and CompleteMultipartUpload carries S3's
`If-None-Match: *`, so nothing here replaces an object (a key that cannot delete could
otherwise still overwrite a bag). A key already taken raises ObjectExists, and the
caller checks what is there instead.
"""

import math
import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from ..errors import ObjectExists, StoreError
from .objects import ObjectInfo, object_info
from .settings import BucketSettings, error_code
from .parts import MIB, MIN_PART, FilePart, part_entry, part_size_for, same_part


def _import_boto():
    """boto3 takes ~0.2 s to import: only commands that talk to S3 pay for it."""
    import boto3
    from botocore import exceptions
    return boto3, exceptions

UPLOAD_THREADS = 4
MAX_ATTEMPTS = 8     # per request, with adaptive backoff: then the bag fails, cleanly


class Store(BucketSettings):
    """One bucket, through one client per process; its settings calls are BucketSettings'."""

    def __init__(self, bucket: str, endpoint_url: str | None = None,
                 region: str | None = None):
        self.bucket = bucket
        boto3, self._bx = _import_boto()
        from botocore.config import Config
        # a stalled connection fails after `timeout` seconds and is retried, boundedly
        timeout = _env_number("GLACIER_S3_TIMEOUT", 120.0, float)
        attempts = _env_number("GLACIER_S3_ATTEMPTS", MAX_ATTEMPTS, int)
        config = Config(retries={"mode": "adaptive", "max_attempts": attempts},
                        connect_timeout=min(10.0, timeout), read_timeout=timeout,
                        max_pool_connections=UPLOAD_THREADS + 2)
        session = self.session = boto3.session.Session()
        self.client = session.client("s3", endpoint_url=endpoint_url, config=config,
                                     region_name=region or session.region_name
                                     or "us-east-1")
        self.endpoint = self.client.meta.endpoint_url

    @contextmanager
    def _errors(self, doing: str):
        """Turn botocore's exceptions into one-line StoreErrors naming the bucket."""
        bx = self._bx
        try:
            yield
        except bx.ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            raise StoreError(self._explain(code, status, doing, err)) from None
        except bx.NoCredentialsError:
            raise StoreError("no AWS credentials found: run 'aws configure' or set "
                             "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") from None
        except bx.NoRegionError:
            raise StoreError("no AWS region set: add region to glacier.toml") from None
        except bx.EndpointConnectionError:
            raise StoreError(f"cannot reach S3 at {self.endpoint} while {doing}") from None
        except bx.BotoCoreError as err:
            raise StoreError(f"S3 failed while {doing}: {err}") from None

    def _explain(self, code, status, doing, err) -> str:
        if code in ("NoSuchBucket",) or (code == "404" and doing == "checking the bucket"):
            return (f"bucket '{self.bucket}' does not exist at {self.endpoint}; create it "
                    "or fix s3_bucket in glacier.toml")
        if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
                    "403", "AllAccessDisabled") or status == 403:
            return (f"access to bucket '{self.bucket}' denied ({code}) while {doing}: "
                    "check the credentials and their IAM policy")
        message = err.response.get("Error", {}).get("Message", "")
        return f"S3 answered {code or status} while {doing}: {message}".rstrip(": ")

    def check_bucket(self) -> None:
        with self._errors("checking the bucket"):
            self.client.head_bucket(Bucket=self.bucket)

    def head(self, key: str) -> ObjectInfo | None:
        """The object as S3 reports it (with its checksum), or None if there is none."""
        with self._errors(f"reading {key}"):
            try:
                return object_info(key, self.client.head_object(Bucket=self.bucket, Key=key,
                                                          ChecksumMode="ENABLED"))
            except self._bx.ClientError as err:
                if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                    return None
                raise

    def put_bytes(self, key: str, data: bytes, storage_class: str, metadata: dict) -> dict:
        """Create the object; ObjectExists if the key is taken (never replaced)."""
        with self._written_once(key):
            return self.client.put_object(Bucket=self.bucket, Key=key, Body=data,
                                          StorageClass=storage_class, Metadata=metadata,
                                          ChecksumAlgorithm="CRC64NVME", IfNoneMatch="*")

    def put_new(self, key: str, data: bytes, metadata: dict) -> bool:
        """Create a STANDARD object if the key is free; False when it is taken."""
        try:
            self.put_bytes(key, data, "STANDARD", metadata)
            return True
        except ObjectExists:
            return False

    @contextmanager
    def _written_once(self, key: str):
        """S3's conditional write refused (412, or 409 when another write of the key
        was in flight): the key is taken, which the caller checks."""
        with self._errors(f"uploading {key}"):
            try:
                yield
            except self._bx.ClientError as err:
                if error_code(err) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                    raise ObjectExists(f"{key} is already in the bucket; keys are "
                                       "written once, never replaced") from None
                raise

    def upload_file(self, path: Path, key: str, storage_class: str, metadata: dict,
                    crc64nvme: str, resume: dict, save_resume, progress=None) -> dict:
        """Upload a staged file; `resume` is what `save_resume` stored on a past attempt.

        progress(nbytes, resumed) is called once per part, when S3 has acknowledged it
        (resumed=True for the parts an earlier attempt left in S3): the calls add up to
        the file's size exactly."""
        size = path.stat().st_size
        if size <= MIN_PART:
            with self._written_once(key), open(path, "rb") as body:
                answer = self.client.put_object(
                    Bucket=self.bucket, Key=key, Body=body, ContentLength=size,
                    StorageClass=storage_class, Metadata=metadata, IfNoneMatch="*",
                    ChecksumAlgorithm="CRC64NVME")  # computed from the bytes sent; the
            # caller compares S3's figure with the one taken while the tar was written
            if progress:
                progress(size, False)
            return {"etag": answer["ETag"].strip('"'), "parts": 1}
        part_size = part_size_for(size)
        with self._errors(f"uploading {key}"):
            upload_id, done = self._resume_upload(key, part_size, resume)
            if upload_id is None:
                upload_id = self.client.create_multipart_upload(
                    Bucket=self.bucket, Key=key, StorageClass=storage_class,
                    Metadata=metadata, ChecksumAlgorithm="CRC64NVME",
                    ChecksumType="FULL_OBJECT")["UploadId"]
                save_resume({"key": key, "upload_id": upload_id, "part_size": part_size})
            parts = self._send_parts(path, key, upload_id, size, part_size, done, progress)
        try:
            with self._written_once(key):
                answer = self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id,
                    MultipartUpload={"Parts": parts}, ChecksumCRC64NVME=crc64nvme,
                    ChecksumType="FULL_OBJECT", IfNoneMatch="*")
        except ObjectExists:  # its parts would be billed until the abort rule's day
            self.abort_uploads(key)
            save_resume({})
            raise
        return {"etag": answer["ETag"].strip('"'), "parts": len(parts)}

    def _resume_upload(self, key, part_size, resume):
        """Reuse our unfinished upload of this key if S3 still has it; abort the others."""
        keep = None
        if resume.get("key") == key and resume.get("part_size") == part_size:
            keep = resume.get("upload_id")
        done = {}
        if keep:
            try:
                pages = self.client.get_paginator("list_parts").paginate(
                    Bucket=self.bucket, Key=key, UploadId=keep)
                done = {p["PartNumber"]: p for page in pages for p in page.get("Parts", [])}
            except self._bx.ClientError:
                keep = None
        self.abort_uploads(key, keep=keep)
        return keep, done

    def abort_uploads(self, key: str, keep: str | None = None) -> list:
        """Abort every open multipart upload of exactly `key` except `keep`."""
        return self.abort_open_uploads(key, keep={keep}, exact=True)

    def abort_open_uploads(self, prefix: str, keep=frozenset(), exact=False,
                           mine=lambda key: True) -> list:
        """Abort open multipart uploads under prefix (or of exactly that key) not in keep
        and whose key is `mine` (another machine's are its own business): each holds
        billed parts that no object will ever use."""
        aborted = []
        with self._errors("cleaning up unfinished uploads"):
            pages = self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=prefix)
            for page in pages:
                for upload in page.get("Uploads", []):
                    if (exact and upload["Key"] != prefix) or upload["UploadId"] in keep \
                            or not mine(upload["Key"]):
                        continue
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                    aborted.append(upload["Key"])
        return aborted

    def _send_parts(self, path, key, upload_id, size, part_size, done, progress):
        count = math.ceil(size / part_size)
        lengths = {n: min(part_size, size - (n - 1) * part_size) for n in range(1, count + 1)}
        finished = {n: part_entry(p) for n, p in done.items()
                    if n in lengths and p.get("Size") == lengths[n]
                    and same_part(path, (n - 1) * part_size, lengths[n], p["ETag"])}
        if progress and finished:
            progress(sum(lengths[n] for n in finished), True)

        def send(number):
            body = FilePart(path, (number - 1) * part_size, lengths[number])
            try:
                answer = self.client.upload_part(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number,
                    Body=body, ContentLength=lengths[number],
                    ChecksumAlgorithm="CRC64NVME")
            finally:
                body.close()
            return number, part_entry({**answer, "PartNumber": number})

        todo = [n for n in lengths if n not in finished]
        with ThreadPoolExecutor(max_workers=UPLOAD_THREADS) as pool:
            futures = [pool.submit(send, n) for n in todo]
            try:
                for future in as_completed(futures):
                    number, entry = future.result()
                    finished[number] = entry
                    if progress:  # may raise to stop the run: the parts not begun are
                        progress(lengths[number], False)  # dropped, the others finish
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        return [finished[n] for n in sorted(finished)]

    def get_bytes(self, key: str) -> bytes:
        with self._errors(f"downloading {key}"):
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def request_restore(self, key: str, days: int, tier: str) -> None:
        """Ask S3 to thaw an archived object; 'already in progress' is progress."""
        with self._errors(f"requesting the thaw of {key}"):
            try:
                self.client.restore_object(Bucket=self.bucket, Key=key, RestoreRequest={
                    "Days": days, "GlacierJobParameters": {"Tier": tier}})
            except self._bx.ClientError as err:
                if err.response.get("Error", {}).get("Code") != "RestoreAlreadyInProgress":
                    raise

    def read_range(self, key: str, start: int, end: int):
        """Yield the bytes start..end (inclusive) of an object, 1 MiB at a time."""
        with self._errors(f"downloading {key}"):
            body = self.client.get_object(Bucket=self.bucket, Key=key,
                                          Range=f"bytes={start}-{end}")["Body"]
            yield from iter(lambda: body.read(MIB), b"")

    def delete(self, key: str, version_id: str | None = None) -> None:
        """Delete the object, or one version of it. On a versioned bucket only a
        version_id removes the bytes: without one, S3 adds a delete marker and keeps
        (and bills) the data."""
        version = {"VersionId": version_id} if version_id else {}
        with self._errors(f"deleting {key}"):
            self.client.delete_object(Bucket=self.bucket, Key=key, **version)

    def list_objects(self, prefix: str = "") -> dict[str, ObjectInfo]:
        """key -> ObjectInfo (size, storage class, last modified) of every object under
        prefix."""
        found = {}
        with self._errors(f"listing {prefix or 'the bucket'}"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix)
            for page in pages:
                for obj in page.get("Contents", []):
                    found[obj["Key"]] = object_info(obj["Key"], obj)
        return found

    def has_credentials(self) -> bool:
        """Does boto3's usual chain (config, environment, profile) find credentials?"""
        return self.session.get_credentials() is not None


def _env_number(name: str, default, kind):
    """A positive number from the environment; a wrong one is the user's to fix."""
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        value = kind(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise StoreError(f"{name}={text!r}: must be a number above 0")
    return value


def store_for(settings) -> Store:
    """One Store (one client, one connection pool) per bucket and process."""
    return _store(settings.s3_bucket, settings.endpoint_url or
                  os.environ.get("AWS_ENDPOINT_URL_S3"), settings.region)


@lru_cache(maxsize=None)
def _store(bucket, endpoint_url, region) -> Store:
    return Store(bucket, endpoint_url, region)
