"""The bucket's write-once policy, its IAM policies and Object Lock words (hardening.py),
and what prune leaves to Object Lock (prune.holds), worked by hand."""

import datetime
import json

from glacier_tasks.bucket import hardening
from glacier_tasks import prune
from glacier_tasks.commands.prune import held_lines
from glacier_tasks.bucket.objects import ObjectInfo

BUCKET = "my-archive"
# AWS's "Enforce conditional writes" (S3 user guide), spelled out here on purpose, so
# a change in hardening.py cannot change what the test expects along with it
OURS = {"Sid": "GlacierTasksDenyOverwrites", "Effect": "Deny", "Principal": "*",
        "Action": "s3:PutObject", "Resource": "arn:aws:s3:::my-archive/*",
        "Condition": {"Null": {"s3:if-none-match": "true"},
                      "Bool": {"s3:ObjectCreationOperation": "true"}}}
AUDITOR = {"Sid": "AuditorReads", "Effect": "Allow",
           "Principal": {"AWS": "arn:aws:iam::111122223333:user/auditor"},
           "Action": "s3:GetObject", "Resource": "arn:aws:s3:::my-archive/*"}


def test_the_statement_is_awss_enforce_conditional_writes_for_every_principal():
    assert hardening.write_once_statement(BUCKET) == OURS


def test_merge_keeps_other_statements_and_replaces_only_ours_by_its_sid():
    assert hardening.with_write_once({}, BUCKET) == {"Version": "2012-10-17",
                                                      "Statement": [OURS]}
    stale = {**OURS, "Resource": "arn:aws:s3:::my-archive/2026-backup/*"}
    policy = {"Version": "2012-10-17", "Id": "mine", "Statement": [stale, AUDITOR]}
    merged = hardening.with_write_once(policy, BUCKET)
    assert merged == {"Version": "2012-10-17", "Id": "mine", "Statement": [OURS, AUDITOR]}
    single = hardening.with_write_once({"Version": "2012-10-17", "Statement": AUDITOR},
                                       BUCKET)
    assert single["Statement"] == [AUDITOR, OURS]


def test_enforced_only_by_a_statement_as_strong_as_ours():
    def enforced(**change):
        return hardening.enforces_write_once({"Statement": [AUDITOR, {**OURS, **change}]},
                                             BUCKET)
    assert enforced() and enforced(Sid="Renamed") and enforced(Principal={"AWS": "*"})
    assert enforced(Action=["s3:PutObject"], Resource=["arn:aws:s3:::my-archive/*"])
    assert enforced(Condition={"Null": {"s3:if-none-match": ["true"]},
                               "Bool": {"s3:objectcreationoperation": "TRUE"}})
    assert not enforced(Effect="Allow")
    assert not enforced(Principal={"AWS": "arn:aws:iam::111122223333:role/backup"})
    assert not enforced(Resource="arn:aws:s3:::my-archive/2026-backup/*")
    assert not enforced(Resource="*")
    assert not enforced(Condition={"Null": {"s3:if-none-match": "true"}})  # multipart:
    # CreateMultipartUpload and UploadPart would be refused, every big bag with them
    assert not enforced(Condition={"Null": {"s3:if-none-match": "false"},
                                   "Bool": {"s3:ObjectCreationOperation": "true"}})
    assert not hardening.enforces_write_once({}, BUCKET)


def test_iam_policies_delete_versions_only_for_prune_and_never_bypass_a_lock():
    backup = json.loads(hardening.least_privilege_policy(BUCKET, "backup"))
    prune_role = json.loads(hardening.least_privilege_policy(BUCKET, "prune"))
    def actions(policy, effect="Allow"):
        return {a for s in policy["Statement"] if s["Effect"] == effect
                for a in s["Action"]}
    reads = {"s3:GetBucketPolicy", "s3:GetBucketVersioning",
             "s3:GetBucketObjectLockConfiguration"}  # what `check` reads
    assert reads <= actions(backup) and reads <= actions(prune_role)
    assert not {"s3:DeleteObject", "s3:DeleteObjectVersion"} & actions(backup)
    assert {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:GetObjectRetention",
            "s3:GetObjectLegalHold"} <= actions(prune_role)
    assert actions(prune_role, "Deny") == {"s3:DeleteObject", "s3:DeleteObjectVersion"}
    for policy in (backup, prune_role):
        text = json.dumps(policy)
        assert "Bypass" not in text and "PutBucketPolicy" not in text
        assert "PutObjectRetention" not in text and "PutObjectLegalHold" not in text


def test_lock_words():
    assert hardening.lock_words({}) is None
    assert hardening.lock_words({"ObjectLockEnabled": "Enabled"}) is None
    rule = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {
        "Mode": "GOVERNANCE", "Days": 180, "Years": 0}}}
    assert hardening.lock_words(rule) == "180 days, GOVERNANCE mode"
    rule["Rule"]["DefaultRetention"] = {"Mode": "COMPLIANCE", "Years": 1}
    assert hardening.lock_words(rule) == "1 year, COMPLIANCE mode"


NOW = datetime.datetime(2027, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)
DAY = datetime.timedelta(days=1)


def head(key, until=None, hold=False):
    return ObjectInfo(key=key, size=1, storage_class="DEEP_ARCHIVE", last_modified=NOW,
                      version_id="v1", lock_mode="GOVERNANCE" if until else None,
                      retain_until=until, legal_hold=hold)


def test_holds_follow_s3s_clock_legal_holds_and_the_bag():
    bag, manifest, index = ("2026-backup/h_m_bag_001.tar",
                            "2026-backup/manifests/h_m_bag_001.txt",
                            "2026-backup/manifests/h_m_bag_001.idx")
    passed = {k: head(k, NOW - DAY) for k in (bag, manifest, index)}
    assert prune.holds(passed, NOW) == {}
    assert prune.holds({bag: head(bag)}, NOW) == {}  # no lock at all
    ahead = prune.holds({**passed, bag: head(bag, NOW + 30 * DAY)}, NOW)
    assert ahead == {bag: prune.Held(bag, NOW + 30 * DAY, "GOVERNANCE"),
                     manifest: prune.Held(manifest, bag=bag),
                     index: prune.Held(index, bag=bag)}
    held = prune.holds({**passed, bag: head(bag, NOW - DAY, hold=True)}, NOW)
    assert held[bag] == prune.Held(bag, legal_hold=True) and set(held) == set(passed)
    lone = prune.holds({manifest: head(manifest, NOW + DAY), bag: head(bag)}, NOW)
    assert set(lone) == {manifest}  # a held manifest does not hold its bag


def test_held_lines_name_each_and_the_first_date():
    held = [prune.Held("a.tar", NOW + 30 * DAY, "GOVERNANCE"),
            prune.Held("b.tar", NOW + 10 * DAY, "GOVERNANCE", legal_hold=True),
            prune.Held("c.tar", NOW + 20 * DAY, "COMPLIANCE")]
    lines = held_lines(held)
    assert lines[0] == "Waits a.tar: Object Lock (GOVERNANCE) until 2027-03-31 12:00 UTC"
    assert lines[1] == ("Waits b.tar: Object Lock (GOVERNANCE) until 2027-03-11 12:00 "
                        "UTC; a legal hold, until someone releases it")
    assert lines[-1].startswith("3 objects wait for S3's Object Lock, not deleted; the "
                                "first can go from 2027-03-21 12:00 UTC")
    only_holds = held_lines([prune.Held("d.tar", legal_hold=True)])
    assert only_holds[-1].endswith("release their legal holds, then run 'doit prune "
                                   "--delete'")
    assert held_lines([]) == []
