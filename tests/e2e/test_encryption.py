"""Client-side encryption with age: nothing readable leaves the machine, and both the
tool and plain `age -d | tar -xS` restore the bytes."""

import hashlib
import json
import os
import shutil
import subprocess

import pytest

from .helpers import Project, tree_snapshot

MARKER = b"TOP SECRET PLAINTEXT MARKER"


def age_key(path):
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    return next(line.split()[-1] for line in path.read_text().splitlines()
                if line.startswith("# public key:"))


@pytest.fixture
def project(tmp_path, s3_server, bucket):
    if not shutil.which("age"):
        pytest.fail("the age command is missing: .ci/run installs Debian's age package")
    data = tmp_path / "data"
    (data / "Secret" / "sub").mkdir(parents=True)
    (data / "Secret" / "sub" / "plans.txt").write_bytes(MARKER * 100)
    (data / "Secret" / "disk.img").write_bytes(b"")
    with open(data / "Secret" / "disk.img", "r+b") as f:
        f.truncate(30_000_000)
        f.seek(29_000_000)
        f.write(MARKER)
    # real bytes, not holes: a bag of its own, whatever sparse files count for
    (data / "Secret" / "bulk.bin").write_bytes(os.urandom(5_000_000))
    (data / "Other").mkdir()
    (data / "Other" / "note.txt").write_bytes(MARKER)
    p = Project(tmp_path, s3_server, bucket)
    p.public = age_key(tmp_path / "key.txt")
    p.encrypt = lambda recipients: p.write_config(
        f'target_bag_gb = 0.004\nencryption = "age"\nage_recipients = {recipients!r}\n'
        f'age_identity_file = "key.txt"'.replace("'", '"'))
    p.encrypt([p.public])
    p.write_list(data)
    p.data = data
    return p


def every_object(project) -> dict:
    found = {}
    for key, (_, storage_class) in project.objects().items():
        if storage_class == "DEEP_ARCHIVE":
            project.s3.restore_object(Bucket=project.bucket, Key=key,
                                      RestoreRequest={"Days": 1})
        found[key] = project.s3.get_object(Bucket=project.bucket, Key=key)["Body"].read()
    return found


def test_nothing_readable_leaves_and_both_ways_restore(project, tmp_path):
    result = project.run("backup")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "protected only by AWS" not in result.stdout
    objects = every_object(project)
    assert any(k.endswith("system/testhost/inventory.000001.json.age") for k in objects)
    for key, body in objects.items():
        assert MARKER not in body, key
        assert str(project.data).encode() not in body or key.endswith("glacier.toml"), key
    for bag in project.inventory["bags"].values():
        assert bag["encryption"] == {"method": "age", "recipients": [project.public]}
    # no metadata confirms a guess of the plain text: no hash of it is readable there
    plain = [(project.root / "inventory.json").read_bytes(),
             (project.root / "list.txt").read_bytes()]
    plain += [p.read_bytes() for p in (project.root / "manifests").rglob("*.txt")]
    hashes = {hashlib.sha256(text).hexdigest() for text in plain}
    assert len(plain) >= 4
    for key in objects:
        metadata = project.s3.head_object(Bucket=project.bucket, Key=key)["Metadata"]
        assert not hashes & set(metadata.values()), key

    by_tool = tmp_path / "by-tool"
    restored = project.run("restore", "--path", str(project.data), "--yes", "--to",
                           str(by_tool))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert tree_snapshot(by_tool) == tree_snapshot(project.data)

    by_hand = tmp_path / "by-hand"
    by_hand.mkdir()
    for key in project.inventory["bags"]:
        bag = tmp_path / key.rpartition("/")[2]
        bag.write_bytes(objects[key])
        age = subprocess.Popen(["age", "-d", "-i", str(tmp_path / "key.txt"), str(bag)],
                               stdout=subprocess.PIPE)
        subprocess.run(["tar", "-xS", "-C", str(by_hand)], stdin=age.stdout, check=True)
        assert age.wait() == 0
    assert tree_snapshot(by_hand) == tree_snapshot(project.data)


def test_find_reads_encrypted_manifests(project):
    assert project.run("backup").returncode == 0
    shutil.rmtree(project.root / "manifests")
    found = project.run("find", "plans.txt")
    assert found.returncode == 0, found.stderr
    assert f"{project.data}/Secret/sub/plans.txt\t" in found.stdout
    verified = project.run("verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_new_recipients_apply_to_new_bags_only(project, tmp_path):
    assert project.run("backup").returncode == 0
    first = project.inventory
    second_key = age_key(tmp_path / "second.txt")
    project.encrypt([project.public, second_key])
    unchanged = project.run("backup")
    assert unchanged.returncode == 0 and ", 0 uploaded," in unchanged.stdout
    (project.data / "Other" / "note.txt").write_bytes(b"changed")
    changed = project.run("backup", GLACIER_TODAY="2027-01-10")
    assert changed.returncode == 0, changed.stdout + changed.stderr
    atoms = project.inventory["atoms"]
    other = project.inventory["bags"][atoms[f"{project.data}/Other"]["archive_key"]]
    secret_key = atoms[f"{project.data}/Secret"]["archive_key"]
    assert secret_key == first["atoms"][f"{project.data}/Secret"]["archive_key"]
    assert project.inventory["bags"][secret_key]["encryption"]["recipients"] == \
        [project.public]
    assert other["encryption"]["recipients"] == [project.public, second_key]


def test_without_encryption_one_line_says_so(tmp_path, s3_server, bucket):
    data = tmp_path / "data"
    (data / "A").mkdir(parents=True)
    (data / "A" / "f").write_text("x")
    project = Project(tmp_path, s3_server, bucket)
    project.write_list(data)
    result = project.run("backup")
    assert result.returncode == 0
    assert [line for line in result.stdout.splitlines() if "protected only by AWS" in line]


def test_lost_state_without_bootstrap_sends_encrypted_bags_anew(project):
    """age never encrypts twice alike, and an object's metadata is whatever its writer
    chose: after lost state an encrypted bag cannot be proved, so it is sent again
    under a new name (the old objects stay for prune). `bootstrap` is the way back
    that sends nothing (test_bootstrap_decrypts_the_system_folder_and_manifests)."""
    assert project.run("backup").returncode == 0
    before = set(project.inventory["bags"])
    puts = len(project.bag_puts())
    shutil.rmtree(project.state)
    (project.root / "inventory.json").unlink()
    again = project.run("backup")
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(project.bag_puts()) == 2 * puts
    assert not before & set(project.inventory["bags"])
    for bag in project.inventory["bags"].values():
        assert bag["encryption"] == {"method": "age", "recipients": [project.public]}


def test_a_stopped_encrypted_run_adopts_its_own_upload(project):
    """Killed after an upload, before its marker said so: the staged tar is still
    there, and S3's CRC of the object equals ours: adopted, not sent again."""
    (project.data / "Extra").mkdir()
    (project.data / "Extra" / "big.bin").write_bytes(os.urandom(5_000_000))
    assert project.run("backup").returncode == 0
    (project.data / "Extra" / "more.bin").write_bytes(os.urandom(1_000_000))
    assert project.run("dryrun").returncode == 0
    assert project.run("tar:" + _uploading(project)).returncode == 0
    name = _uploading(project)
    staged = project.root / "stage" / f"{name}.tar"
    marker = json.loads((project.state / "bags" / f"{name}.json").read_text())
    key = next(b["archive_key"] for b in json.loads(
        (project.state / "plan.json").read_text())["bags"] if b["name"] == name)
    metadata = {"sha256": marker["packed"]["sha256"], "size": str(marker["packed"]["size"]),
                "crc64nvme": marker["packed"]["crc64nvme"],
                "content-key": marker["packed"]["content_key"], "encryption": "age"}
    # the upload that finished as the run was killed, before the marker was written
    project.s3.put_object(Bucket=project.bucket, Key=key, Body=staged.read_bytes(),
                          StorageClass="DEEP_ARCHIVE", Metadata=metadata,
                          ChecksumAlgorithm="CRC64NVME", IfNoneMatch="*")
    (project.state / "plan.json").unlink()  # the plan is made again, as after kill -9
    (project.state / "doit-db.json").unlink(missing_ok=True)
    puts = len(project.bag_puts())
    again = project.run("backup")
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(project.bag_puts()) == puts and "adopted" in again.stdout
    assert key in project.inventory["bags"]


def _uploading(project) -> str:
    plan = json.loads((project.state / "plan.json").read_text())
    return next(b["name"] for b in plan["bags"] if b["action"] == "upload")


def test_bootstrap_decrypts_the_system_folder_and_manifests(project):
    assert project.run("backup").returncode == 0
    original = project.inventory
    puts = len(project.bag_puts())
    for gone in ("inventory.json", "inventory.json.bak", "list.txt"):
        (project.root / gone).unlink(missing_ok=True)
    shutil.rmtree(project.state)
    shutil.rmtree(project.root / "manifests")
    result = project.run("bootstrap")
    assert result.returncode == 0, result.stdout + result.stderr
    assert project.inventory == original
    assert (project.root / "list.txt").read_text() == f"{project.data}\n"
    manifests = list((project.root / "manifests").rglob("*.txt"))
    assert manifests and all(b"Secret" in m.read_bytes() or b"Other" in m.read_bytes()
                             for m in manifests)
    assert project.run("backup").returncode == 0
    assert len(project.bag_puts()) == puts


def test_obscure_keys_hide_the_paths_and_survive_a_new_machine(project, tmp_path):
    project.write_config('target_bag_gb = 0.004\nobscure_keys = true\n'
                         'encryption = "age"\n'
                         f'age_recipients = ["{project.public}"]\n'
                         'age_identity_file = "key.txt"\n')
    assert project.run("backup").returncode == 0
    slug = "data"  # the molecule's path ends in data: keys must not say so
    keys = list(project.objects())
    assert all(slug not in k for k in keys if "system/" not in k), keys
    puts = len(project.bag_puts())
    for gone in ("inventory.json", "list.txt"):
        (project.root / gone).unlink()
    shutil.rmtree(project.state)
    shutil.rmtree(project.root / "manifests")
    assert project.run("bootstrap").returncode == 0
    again = project.run("backup")
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(project.bag_puts()) == puts  # same names from the kept salt: no upload


def test_obscure_keys_first_run_stopped_before_its_inventory_keeps_its_salt(project):
    """The salt lives in the inventory; until one is written it is kept in the state
    folder, so the bags a stopped first run sent are adopted, not sent again."""
    project.write_config('target_bag_gb = 0.004\nobscure_keys = true\n')
    assert project.run("backup").returncode == 0
    puts = len(project.bag_puts())
    (project.root / "inventory.json").unlink()  # as if stopped before the inventory
    again = project.run("backup")
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(project.bag_puts()) == puts  # same names: nothing sent again
