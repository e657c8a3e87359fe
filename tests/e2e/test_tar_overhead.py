"""Bags are planned at the size GNU tar writes (issue 21, case 13): 20,000 files of 32
bytes were planned as 640 KB and packed into one bag of 20 MB, ten times the target;
staging, fees, bag fill and progress all read that plan."""

import json
import re

from glacier_tasks.units import human

from .helpers import Project

TARGET_GB = 0.002  # 2 MB: about three atoms of 500 tiny files each
ATOMS, FILES = 40, 500


def tiny_files(data) -> None:
    for a in range(ATOMS):
        atom = data / f"atom{a:02d}"
        atom.mkdir(parents=True)
        for n in range(FILES):
            (atom / f"note{n:03d}.txt").write_bytes(b"%032d" % n)


def test_tiny_files_fill_bags_up_to_the_target_as_uploaded(tmp_path, s3_server, bucket):
    data = tmp_path / "data"
    tiny_files(data)
    project = Project(tmp_path, s3_server, bucket, target_gb=TARGET_GB)
    project.write_list(data)
    target = int(TARGET_GB * 1e9)

    dry = project.run("dryrun")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    plan = {b["archive_key"]: b for b in
            json.loads((project.state / "plan.json").read_text())["bags"]}
    listed = project.glacier("list").stdout
    assert len(plan) > 1, listed
    # an atom is 500 headers and 500 blocks of content, not 16 KB
    atom_size = max(a["size"] for a in json.loads(
        (project.root / "inventory_dryrun.json").read_text())["atoms"].values())
    assert atom_size >= FILES * 1024

    run = project.run("backup")
    assert run.returncode == 0, run.stdout + run.stderr
    uploaded = {key: size for key, (size, _) in project.objects().items()
                if key.endswith(".tar") and "/system/" not in key}
    assert set(uploaded) == set(plan)
    for key, size in uploaded.items():
        # every bag within its target (one atom's worth over at most), planned as sent
        assert size <= target + atom_size, (key, size)
        assert abs(size - plan[key]["size"]) <= 10_240, (key, size, plan[key]["size"])
        # `glacier list` showed the size the bucket now holds
        line = next(line for line in listed.splitlines()
                    if line.startswith(f"bag:{plan[key]['name']}"))
        assert f"  {human(size)}  " in line, line
    # the dry run's total is what went up (a record per bag, at most)
    shown = re.search(r"To upload: (\d+) bags, ([\d.]+ [KMG]?B),", dry.stdout)
    assert shown and int(shown[1]) == len(uploaded), dry.stdout
    assert shown[2] == human(sum(uploaded.values())), (shown[2], dry.stdout)
