"""A backup that ransomware on the machine cannot wipe: setup_bucket's write-once bucket
policy and Object Lock, `check` reporting both, and `prune --delete` deleting by version
what the lock no longer holds, and waiting for the rest.

These run on both test servers (S3_SERVER=moto|localstack). Neither evaluates the
write-once statement's Condition as AWS does: moto refuses every PUT under it, so
setup_bucket does not keep it there (its probe key shows the 403); LocalStack lets every
PUT through, which setup_bucket and check say. That S3 lets the tool's conditional
writes through and refuses plain ones is AWS's documented behaviour ("Enforce
conditional writes"). Neither checks IAM: any caller may bypass GOVERNANCE here.
moto also gives multipart objects no default retention and lets anyone delete them;
test_strict_s3.py shows on LocalStack that a locked multipart bag survives a delete.
"""

import datetime
import json
import os
import time

from .helpers import Project

PROBE = ".glacier-tasks-delete-probe/"


def ours(bucket: str) -> dict:
    return {"Sid": "GlacierTasksDenyOverwrites", "Effect": "Deny", "Principal": "*",
            "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*",
            "Condition": {"Null": {"s3:if-none-match": "true"},
                          "Bool": {"s3:ObjectCreationOperation": "true"}}}


def policy_of(project) -> dict:
    return json.loads(project.s3.get_bucket_policy(Bucket=project.bucket)["Policy"])


def test_setup_bucket_adds_the_write_once_statement_beside_the_others(
        tmp_path, s3_server, bucket):
    project = Project(tmp_path, s3_server, bucket)
    project.write_list(tmp_path)
    auditor = {"Sid": "AuditorReads", "Effect": "Allow",
               "Principal": {"AWS": "arn:aws:iam::111122223333:user/auditor"},
               "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    stale = {**ours(bucket), "Resource": f"arn:aws:s3:::{bucket}/2026-backup/*"}
    project.s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": [auditor, stale]}))
    before = project.run("check")
    assert "WARNING the bucket policy does not refuse overwrites" in before.stdout
    assert "run 'doit setup_bucket'" in before.stdout
    setup = project.run("setup_bucket")
    assert setup.returncode == 0, setup.stdout + setup.stderr
    again = project.run("setup_bucket")
    check = project.run("check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "ok      Object Lock is off, versioning off (optional: 'doit setup_bucket " \
           "--object-lock 180')" in check.stdout
    if s3_server.kind == "moto":  # it refuses even conditional writes under the policy
        cannot = "No write-once statement: this S3 server cannot evaluate its " \
                 "condition and refused a write with If-None-Match: * under it, so " \
                 "every backup would fail with 403"
        assert cannot in setup.stdout and cannot in again.stdout
        assert policy_of(project)["Statement"] == [auditor, stale]  # left as it was
        assert "WARNING the bucket policy does not refuse overwrites" in check.stdout
        return
    # LocalStack, as AWS: the statement is added; it lets every write through, as the
    # probe shows, and check says so (AWS refuses the plain write: "ok" there)
    assert "Added a bucket policy statement refusing every write without " \
           "If-None-Match: *" in setup.stdout
    policy = policy_of(project)
    assert policy["Statement"] == [auditor, ours(bucket)]  # the other one kept as it was
    assert "Added" not in again.stdout and policy_of(project) == policy
    unenforced = "a write without If-None-Match: * to the probe key went through"
    assert f"This S3 server does not enforce the write-once statement: {unenforced}" \
        in again.stdout
    assert "WARNING the bucket policy's write-once statement is not enforced: " \
           f"{unenforced}" in check.stdout
    assert "ok      the bucket policy" not in check.stdout


def test_object_lock_on_a_new_bucket_and_an_existing_one(tmp_path, s3_server, bucket):
    (tmp_path / "new").mkdir()
    new = Project(tmp_path / "new", s3_server, f"locked-{os.urandom(5).hex()}")
    new.write_list(tmp_path)
    setup = new.run("setup_bucket", "--object-lock", "180")
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert f"Created bucket {new.bucket} with Object Lock enabled" in setup.stdout
    assert "Set Object Lock's default retention: each new object is locked 180 days, " \
           "GOVERNANCE mode" in setup.stdout
    lock = new.s3.get_object_lock_configuration(
        Bucket=new.bucket)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    assert lock["Rule"]["DefaultRetention"]["Mode"] == "GOVERNANCE"
    assert lock["Rule"]["DefaultRetention"]["Days"] == 180
    assert new.s3.get_bucket_versioning(Bucket=new.bucket)["Status"] == "Enabled"
    assert new.run("setup_bucket", "--object-lock", "180").stdout.strip().endswith(
        "nothing changed")
    assert new.run("setup_bucket").stdout.strip().endswith("nothing changed")  # 0: as is
    check = new.run("check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "ok      Object Lock is on: each new object is locked 180 days, GOVERNANCE " \
           "mode (versioning on)" in check.stdout
    # the delete probe names a version on a versioned bucket: it leaves no marker
    assert "WARNING these credentials can delete objects" in check.stdout
    assert "DeleteMarkers" not in new.s3.list_object_versions(Bucket=new.bucket,
                                                              Prefix=PROBE)
    assert "ok      no older object versions or delete markers" in check.stdout
    longer = new.run("setup_bucket", "--object-lock", "200")
    assert "Changed Object Lock's default retention to 200 days, GOVERNANCE mode (was " \
           "180 days, GOVERNANCE mode)" in longer.stdout
    # (after the change above: moto changes a lock only on an empty bucket)
    # a delete without a version id (someone's `aws s3 rm`) hides the data, still billed
    new.s3.put_object(Bucket=new.bucket, Key="2026-backup/x.tar", Body=b"x" * 1000,
                      ChecksumAlgorithm="CRC64NVME")
    new.s3.delete_object(Bucket=new.bucket, Key="2026-backup/x.tar")
    hidden = new.run("check")
    assert "WARNING 1 older object version (1.0 KB, billed) and 1 delete marker" \
        in hidden.stdout

    existing = Project(tmp_path, s3_server, bucket)  # plain, unversioned, empty
    existing.write_list(tmp_path)
    setup = existing.run("setup_bucket", "--object-lock", "180")
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "Turned on versioning" in setup.stdout
    assert "Turned on Object Lock: each new object is locked 180 days, GOVERNANCE " \
           "mode; it cannot be turned off again" in setup.stdout
    wrong = existing.run("setup_bucket", "--object-lock", "-5")
    assert wrong.returncode == 1 and "--object-lock -5: a number of days" in wrong.stderr
    assert "Traceback" not in wrong.stderr


def make_atoms(data, *names):
    for name in names:
        (data / name).mkdir(parents=True, exist_ok=True)
        (data / name / "blob").write_bytes(os.urandom(3_000_000))


def versions(project, key) -> dict:
    """What S3 still keeps of a key: versions and delete markers, however hidden."""
    found = project.s3.list_object_versions(Bucket=project.bucket, Prefix=key)
    return {"versions": [v for v in found.get("Versions", []) if v["Key"] == key],
            "markers": [m for m in found.get("DeleteMarkers", []) if m["Key"] == key]}


def test_a_locked_bag_waits_and_a_released_one_is_deleted_by_version(
        tmp_path, s3_server, bucket):
    """Prune under Object Lock: nothing held is deleted (not an error, still history,
    a candidate again next time); what the lock releases is deleted by version, so no
    delete marker hides a still billed bag."""
    today = datetime.date.today()  # the server stamps uploads and retention by its clock

    def day(n):
        return (today + datetime.timedelta(days=n)).isoformat()
    data = tmp_path / "data"
    make_atoms(data, "A", "B", "C")
    project = Project(tmp_path, s3_server, bucket)
    project.write_config("target_bag_gb = 0.004\nkeep_years = 1")
    project.write_list(data)
    assert project.run("setup_bucket", "--object-lock", "180").returncode == 0
    first = project.run("backup", GLACIER_TODAY=day(0))
    assert first.returncode == 0, first.stdout + first.stderr
    bags = project.inventory["atoms"]
    a, b = bags[f"{data}/A"]["archive_key"], bags[f"{data}/B"]["archive_key"]
    stored = project.s3.head_object(Bucket=bucket, Key=a)
    assert stored["ObjectLockMode"] == "GOVERNANCE"
    locked_for = stored["ObjectLockRetainUntilDate"] - stored["LastModified"]
    assert datetime.timedelta(days=179) < locked_for <= datetime.timedelta(days=181)
    make_atoms(data, "A", "B")  # changed: next year's run supersedes both bags
    second = project.run("backup", GLACIER_TODAY=day(365))
    assert second.returncode == 0, second.stdout + second.stderr
    companions = {key: [key.replace("-backup/", "-backup/manifests/")[:-4] + ext
                        for ext in (".txt", ".idx")] for key in (a, b)}
    doomed = {a, b, *companions[a], *companions[b]}
    assert doomed <= set(project.objects())
    assert {a, b} <= set(project.inventory["history"])

    # history (keep_years) and Object Lock both keep them: the dry run and --delete
    # say it alike, history first, the lock beside it
    dry = project.run("prune", GLACIER_TODAY=day(400))
    kept = project.run("prune", "--delete", GLACIER_TODAY=day(400))
    assert dry.returncode == kept.returncode == 0, dry.stdout + dry.stderr + kept.stderr
    for key in doomed:
        said = next(line for line in dry.stdout.splitlines() if key in line)
        assert said.startswith("History until ") and \
            "; also Object Lock (GOVERNANCE) until " in said, said
        assert f"Kept {key}: history until " in kept.stdout and \
            "; also Object Lock (GOVERNANCE) until " in kept.stdout
        assert f"Would delete {key}" not in dry.stdout
    assert "Freed 0 B in all: 0 objects deleted" in kept.stdout
    dry = project.run("prune", "--force", GLACIER_TODAY=day(400))  # says so before --delete
    assert dry.returncode == 0, dry.stdout + dry.stderr
    for key in doomed:
        assert f"Waits {key}: Object Lock (GOVERNANCE) until " in dry.stdout, key
        assert f"Would delete {key}" not in dry.stdout
    held = project.run("prune", "--delete", "--force", GLACIER_TODAY=day(400))
    assert held.returncode == 0, held.stdout + held.stderr
    assert "Deleted" not in held.stdout
    for key in doomed:
        assert f"Waits {key}: Object Lock (GOVERNANCE) until " in held.stdout, key
    until = min(project.s3.head_object(Bucket=bucket, Key=k)["ObjectLockRetainUntilDate"]
                for k in doomed).astimezone(datetime.timezone.utc)
    assert "6 objects wait for S3's Object Lock, not deleted; the first can go from " \
           f"{until:%Y-%m-%d %H:%M} UTC: run 'doit prune --delete' again then" \
           in held.stdout
    assert doomed <= set(project.objects())
    assert {a, b} <= set(project.inventory["history"])  # still history: not deleted

    # the retention ends now: S3 takes only a future date, and shortens GOVERNANCE
    # only with the bypass header; then wait (by S3's clock, this machine's) until then
    soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2)
    for key in doomed:
        project.s3.put_object_retention(
            Bucket=bucket, Key=key, BypassGovernanceRetention=True,
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": soon})
    while datetime.datetime.now(datetime.timezone.utc) <= soon:
        time.sleep(0.2)
    project.s3.put_object_legal_hold(Bucket=bucket, Key=b, LegalHold={"Status": "ON"})
    pruned = project.run("prune", "--delete", "--force", GLACIER_TODAY=day(400))
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    for key in (a, *companions[a]):
        assert f"Deleted {key}" in pruned.stdout
        assert versions(project, key) == {"versions": [], "markers": []}, key
    assert f"Waits {b}: a legal hold, until someone releases it" in pruned.stdout
    for key in companions[b]:
        assert f"Waits {key}: kept with its bag {b}" in pruned.stdout
    assert "3 objects wait for S3's Object Lock, not deleted; release their legal " \
           "holds" in pruned.stdout
    history = project.inventory["history"]
    assert a not in history and b in history

    project.s3.put_object_legal_hold(Bucket=bucket, Key=b, LegalHold={"Status": "OFF"})
    last = project.run("prune", "--delete", "--force", GLACIER_TODAY=day(400))
    assert last.returncode == 0, last.stdout + last.stderr
    assert "Waits" not in last.stdout
    for key in (b, *companions[b]):
        assert f"Deleted {key}" in last.stdout
        assert versions(project, key) == {"versions": [], "markers": []}, key
    assert b not in project.inventory.get("history", {})
