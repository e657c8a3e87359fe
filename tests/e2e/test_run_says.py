"""What a run says (issue 26): a backup's first and last lines, prune's words and JSON,
the prices' region, init's day-one questions, and list --status after bootstrap."""

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib

from glacier_tasks import cost
from glacier_tasks.units import human

from . import json_shapes as shapes
from .helpers import Project
from .test_history import old_bag, three_years


def manifest_files(project) -> int:
    """The files (not folders) the bucket's manifests list: what a user counts."""
    count = 0
    for key in project.objects():
        if "/manifests/" in key and key.endswith(".txt"):
            body = project.s3.get_object(Bucket=project.bucket, Key=key)["Body"].read()
            count += sum(1 for line in body.decode().splitlines()
                         if not line.split("\t")[0].endswith("/"))
    return count


STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} "


def test_a_backup_log_starts_with_the_plan_and_ends_with_what_it_sent(project):
    run = project.glacier("backup")  # piped: a log
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    tars = [size for key, (size, _) in project.objects().items() if key.endswith(".tar")]
    assert len(tars) == 2
    first = re.fullmatch(STAMP + r"To upload: 2 bags, (.+), 4 PUT requests, fee about "
                         r"\$(\d\.\d{4}) \(backup \d{4}: 2 bags, 0 unchanged\)", lines[0])
    assert first, lines[0]
    fee = cost.upload_estimate(tars, "DEEP_ARCHIVE")["fee"]
    assert first.group(2) == f"{fee:.4f}"
    # the last line: files, bags and bytes really sent (the bucket's), requests, fee
    files = manifest_files(project)
    assert files == 7
    assert re.fullmatch(rf"Sent: 7 files in 2 bags, {re.escape(human(sum(tars)))}, 4 "
                        rf"requests, fee about \${fee:.4f}; the run took \d+ s",
                        lines[-1]), lines[-1]
    record = json.loads((project.state / "last-run.json").read_text())
    assert record["sent"]["files"] == 7 and record["sent"]["bytes"] == sum(tars)

    again = project.glacier("backup")
    assert again.returncode == 0, again.stderr
    lines = again.stdout.splitlines()
    assert re.fullmatch(STAMP + r"To upload: 0 bags, 0 B, 0 PUT requests, fee about "
                        r"\$0\.0000 \(backup \d{4}: 2 bags, 2 unchanged\)", lines[0])
    assert lines[-1].startswith("Sent: 0 files in 0 bags, 0 B, 0 requests, fee about "
                                "$0.0000; the run took ")


def test_prune_says_older_version_ends_with_the_total_freed_and_speaks_json(
        tmp_path, s3_server, bucket):
    # increments off: prune speaks of bags superseded by atoms moving whole
    project, first = three_years(tmp_path, s3_server, bucket, keep_years=0,
                                 extra="increment_below = 0")
    today = "2028-06-16"
    books, photos = old_bag(first, project, "Books"), old_bag(first, project, "Photos")
    dry = project.glacier("prune", GLACIER_TODAY=today)
    assert dry.returncode == 0, dry.stderr
    said = {key: next(line for line in dry.stdout.splitlines() if key + " " in line)
            for key in (books, photos)}
    # notes.txt was edited at home: its old copy is an older version, not a lost file
    assert "1 older version (" in said[books] and "of files edited since: " \
        "Books/sub/notes.txt" in said[books], said[books]
    assert "in no newer bag" not in said[books]
    assert "1 file (1.5 MB) exists in no newer bag: Photos/été à Zürich.jpg" \
        in said[photos]

    listed = project.glacier("prune", "--json", GLACIER_TODAY=today)
    assert listed.returncode == 0, listed.stderr
    shape = shapes.check(json.loads(listed.stdout), shapes.PRUNE)
    objects = {o["key"]: o for o in shape["objects"]}
    assert {o["verdict"] for o in objects.values()} == {"delete"}
    assert set(objects) <= set(project.objects())
    assert objects[books]["loses"]["older_versions"] == 1
    assert objects[books]["loses"]["older_examples"] == ["Books/sub/notes.txt"]
    assert objects[photos]["loses"]["deleted_examples"] == ["Photos/été à Zürich.jpg"]
    assert shape["deleted"] == {"objects": 0, "bytes": 0} and not shape["delete"]

    before = project.objects()
    done = project.glacier("prune", "--delete", GLACIER_TODAY=today)
    assert done.returncode == 0, done.stderr
    gone = set(before) - set(project.objects())
    assert gone == set(objects)
    freed = sum(before[key][0] for key in gone)
    assert done.stdout.splitlines()[-1] == \
        f"Freed {human(freed)} in all: {len(gone)} objects deleted"
    after = project.glacier("prune", "--json", GLACIER_TODAY=today)
    assert shapes.check(json.loads(after.stdout), shapes.PRUNE)["objects"] == []


def write_config(project, region: str, extra: str = "") -> None:
    project.config.write_text(
        "[settings]\n"
        f's3_bucket = "{project.bucket}"\n'
        f'endpoint_url = "{project.server.endpoint}"\n'
        f'region = "{region}"\n'
        'host = "testhost"\n'
        'target_bag_gb = 0.004\n' + extra)


def test_a_region_other_than_the_prices_is_said_once(project):
    note = "Prices: AWS's list for us-east-1 (2026-01-15), but region is eu-west-1: " \
        "put eu-west-1's prices in glacier.toml's [prices] table"
    write_config(project, "eu-west-1")
    for command in ("dryrun", "backup"):
        run = project.glacier(command)
        assert run.returncode == 0, run.stdout + run.stderr
        assert run.stdout.count(note) == 1, (command, run.stdout)
    bill = project.glacier("cost")
    assert bill.returncode == 0 and bill.stdout.count(note) == 1, bill.stdout
    estimate = project.glacier("restore", str(project.data / "Books"))
    assert estimate.returncode == 0 and estimate.stdout.count(note) == 1, estimate.stdout
    write_config(project, "eu-west-1", "[prices]\nstorage_deep_archive = 0.0018\n")
    assert "Prices: " not in project.glacier("dryrun").stdout  # its own prices: quiet
    write_config(project, "us-east-1")
    assert "Prices: " not in project.glacier("dryrun").stdout


def init(project, *args, cwd, **kwargs):
    env = {**project.env(), "GLACIER_CONFIG": str(cwd / "glacier.toml")}
    return subprocess.run([sys.executable, "-m", "glacier_tasks.cli", "init", *args],
                          env=env, cwd=cwd, capture_output=True, text=True, timeout=120,
                          **kwargs)


def test_init_without_a_terminal_writes_no_placeholder(tmp_path, s3_server, bucket):
    project = Project(tmp_path, s3_server, bucket)
    home = tmp_path / "new"
    home.mkdir()
    refused = init(project, cwd=home, stdin=subprocess.DEVNULL)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "--bucket NAME" in refused.stderr
    assert "stdin is not a terminal" in refused.stderr
    assert not (home / "glacier.toml").exists() and not (home / "list.txt").exists()

    made = init(project, "--bucket", bucket, "--target-bag-gb", "0.004", "--encryption",
                "none", cwd=home, stdin=subprocess.DEVNULL)
    assert made.returncode == 0, made.stderr
    for step in ("glacier setup_bucket", "glacier policy", "glacier check"):
        assert step in made.stdout, step
    settings = tomllib.loads((home / "glacier.toml").read_text())["settings"]
    assert settings["s3_bucket"] == bucket and settings["target_bag_gb"] == 0.004
    assert "encryption" not in settings  # said, commented out: a day-one decision
    assert '# encryption = "age"' in (home / "glacier.toml").read_text()
    # the config it wrote works: a dry run against the bucket
    (home / "data" / "A").mkdir(parents=True)
    (home / "data" / "A" / "f").write_text("x\n")
    (home / "list.txt").write_text(f"{home / 'data'}\n")
    env = {**project.env(), "GLACIER_CONFIG": str(home / "glacier.toml"),
           "AWS_ENDPOINT_URL_S3": s3_server.endpoint}
    dry = subprocess.run([sys.executable, "-m", "glacier_tasks.cli", "dryrun"], env=env,
                         cwd=home, capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0 and "To upload: 1 bag" in dry.stdout, dry.stdout + dry.stderr

    other = tmp_path / "new2"
    other.mkdir()
    bad = init(project, "--bucket", "b", "--encryption", "age", cwd=other,
               stdin=subprocess.DEVNULL)
    assert bad.returncode == 1 and "--age-recipient KEY" in bad.stderr
    assert not (other / "glacier.toml").exists()


def test_init_on_a_terminal_asks_bag_size_and_encryption(tmp_path, s3_server, bucket):
    project = Project(tmp_path, s3_server, bucket)
    home = tmp_path / "asked"
    home.mkdir()
    leader, follower = os.openpty()  # a real terminal on stdin, as a person types
    answers = ["my-photos", "eu-central-1", "lots", "25", "y", "age1notreal",
               "~/.config/glacier-tasks/age-key.txt"]
    os.write(leader, "".join(a + "\n" for a in answers).encode())
    try:
        asked = init(project, cwd=home, stdin=follower)
    finally:
        os.close(follower)
        os.close(leader)
    assert asked.returncode == 0, asked.stdout + asked.stderr
    for question in ("s3_bucket [", "region [", "target_bag_gb", "Encrypt with age",
                     "age public key", "private key file"):
        assert question in asked.stdout, question
    assert "target_bag_gb lots: a number of GB" in asked.stdout  # asked again
    settings = tomllib.loads((home / "glacier.toml").read_text())["settings"]
    assert (settings["s3_bucket"], settings["region"], settings["target_bag_gb"]) == \
        ("my-photos", "eu-central-1", 25.0)
    assert settings["encryption"] == "age" and settings["age_recipients"] == ["age1notreal"]
    assert settings["age_identity_file"] == "~/.config/glacier-tasks/age-key.txt"
    assert "glacier setup_bucket" in asked.stdout


def test_list_status_after_bootstrap_shows_the_inventorys_bags(project):
    assert project.glacier("backup").returncode == 0
    bags = sorted("bag:" + key.rpartition("/")[2][:-4]
                  for key in project.inventory["bags"])
    # a new machine: the same config, nothing else
    for path in (project.root / "inventory.json", project.root / "inventory.json.bak"):
        path.unlink(missing_ok=True)
    shutil.rmtree(project.state)
    shutil.rmtree(project.root / "manifests")
    before = project.glacier("list", "--status")
    assert "No bags planned yet" in before.stdout, before.stdout
    booted = project.glacier("bootstrap")
    assert booted.returncode == 0, booted.stdout + booted.stderr
    listed = project.glacier("list", "--status")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    shown = sorted(line.split()[1] for line in lines if line.startswith("U "))
    assert shown == bags, listed.stdout
    assert lines[-1] == ("0 of 2 bags pending: the inventory's, no plan here yet; "
                         "'glacier dryrun' plans from it (nothing is uploaded)")
    as_json = shapes.check(json.loads(project.glacier("list", "--json").stdout),
                           shapes.LIST)
    assert sorted("bag:" + b["name"] for b in as_json["bags"]) == bags, as_json
    assert as_json["pending"] == 0 and not any(b["pending"] for b in as_json["bags"])
    assert {b["archive_key"] for b in as_json["bags"]} == set(project.inventory["bags"])
    # `doit list` from the project folder says the same
    assert sorted(line.split()[1] for line in project.doit_here("list", "--status").stdout
                  .splitlines() if line.startswith("U ")) == bags
