"""First run and bucket hardening: init, the old INI config, setup_bucket, check, policy."""

import json
import tomllib
import uuid

from .helpers import Project


def test_init_writes_a_starter_and_never_overwrites(tmp_path, s3_server, bucket):
    project = Project(tmp_path, s3_server, bucket)
    config = tmp_path / "fresh" / "glacier.toml"
    env = {"GLACIER_CONFIG": str(config)}
    result = project.run("init", "--bucket", "my-glacier-bucket", **env)  # no terminal
    assert result.returncode == 0, result.stdout + result.stderr
    settings = tomllib.loads(config.read_text())["settings"]
    assert settings["s3_bucket"] == "my-glacier-bucket" and "# required" in config.read_text()
    assert (config.parent / "list.txt").exists()
    config.write_text(config.read_text().replace("my-glacier-bucket", "mine"))
    again = project.run("init", **env)
    assert again.returncode == 0 and "exists: left as it is" in again.stdout
    assert "mine" in config.read_text()
    missing = project.run("backup", GLACIER_CONFIG=str(tmp_path / "none" / "glacier.toml"))
    assert missing.returncode == 3 and "config file not found" in missing.stderr


def test_init_converts_the_original_ini_config(tmp_path, s3_server, bucket):
    project = Project(tmp_path, s3_server, bucket)
    cfg = tmp_path / "glacier.cfg"
    cfg.write_text("[settings]\ns3_bucket = greenc-bucket\ntarget_bag_gb = 12.5\n"
                   "staging_dir = /home/greenc/glacier/stage\n"
                   "manifest_dir = /home/greenc/glacier/manifests\n"
                   "inventory_file = /home/greenc/glacier/inventory.json\n"
                   "mnt_base = /home/greenc/mnt\n")
    config = tmp_path / "converted" / "glacier.toml"
    result = project.run("init", "--from-cfg", str(cfg), GLACIER_CONFIG=str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    settings = tomllib.loads(config.read_text())["settings"]
    assert settings["s3_bucket"] == "greenc-bucket" and settings["target_bag_gb"] == 12.5
    assert settings["staging_dir"] == "/home/greenc/glacier/stage"
    assert settings["mnt_base"] == "/home/greenc/mnt"
    cfg.write_text("[settings]\ns3_bucket = b\ncolour = blue\n")
    bad = project.run("init", "--from-cfg", str(cfg),
                      GLACIER_CONFIG=str(tmp_path / "other" / "glacier.toml"))
    assert bad.returncode == 1 and "unknown key 'colour'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_setup_bucket_then_check_passes(tmp_path, s3_server):
    project = Project(tmp_path, s3_server, f"new-{uuid.uuid4().hex[:10]}")
    project.write_list(tmp_path)
    before = project.run("check")
    assert before.returncode == 1 and "does not exist" in before.stdout
    setup = project.run("setup_bucket")
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "Created bucket" in setup.stdout  # (AWS blocks public access on new ones)
    assert project.run("setup_bucket").stdout.strip().endswith("nothing changed")
    s3 = s3_server.client()
    block = s3.get_public_access_block(Bucket=project.bucket)
    assert all(block["PublicAccessBlockConfiguration"].values())
    rules = s3.get_bucket_lifecycle_configuration(Bucket=project.bucket)["Rules"]
    assert rules[0]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 7
    check = project.run("check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "PROBLEM" not in check.stdout and check.stdout.count("ok ") >= 6
    # the test server enforces no IAM: these credentials may delete, which is said
    assert "WARNING these credentials can delete objects" in check.stdout


def test_check_names_a_bucket_without_the_public_access_block(tmp_path, s3_server, bucket):
    project = Project(tmp_path, s3_server, bucket)  # created plainly, not hardened
    project.write_list(tmp_path)
    # AWS (and LocalStack) give a new bucket the block since 2023: someone removed it
    project.s3.delete_public_access_block(Bucket=bucket)
    check = project.run("check")
    assert check.returncode == 1
    assert "PROBLEM public access is not fully blocked" in check.stdout
    assert "Traceback" not in check.stdout + check.stderr


def test_policy_is_least_privilege_for_the_bucket(tmp_path, s3_server, bucket):
    project = Project(tmp_path, s3_server, bucket)
    project.write_list(tmp_path)
    arn = f"arn:aws:s3:::{bucket}"
    roles = {}
    for args in ((), ("--role", "backup"), ("--role", "prune")):
        result = project.run("policy", *args)
        assert result.returncode == 0, result.stderr
        roles[args[-1] if args else "default"] = json.loads(result.stdout)
    assert roles["default"] == roles["backup"]
    for role, policy in roles.items():
        allowed = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
        resources = {r for s in policy["Statement"] for r in
                     ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])}
        assert all(r == arn or r.startswith(arn + "/") for r in resources), resources
        assert "*" not in resources
        actions = {a for s in allowed for a in s["Action"]}
        assert "s3:*" not in actions and "s3:RestoreObject" in actions
        assert "s3:AbortMultipartUpload" in actions and "s3:DeleteBucket" not in actions
        assert ("s3:DeleteObject" in actions) == (role == "prune"), role
    delete = next(s for s in roles["prune"]["Statement"] if s["Effect"] == "Allow"
                  and "s3:DeleteObject" in s["Action"])
    assert delete["Resource"] == f"{arn}/*-backup/*"
    denied = next(s for s in roles["prune"]["Statement"] if s["Effect"] == "Deny")
    assert denied["Resource"] == f"{arn}/*-backup/system/*"
    wrong = project.run("policy", "--role", "admin")
    assert wrong.returncode == 1 and "--role admin" in wrong.stderr
