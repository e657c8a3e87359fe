"""Issue 27: a changed atom is sent as an increment bag holding only its new and
modified entries, plus a deletion list; GNU tar alone (and `xargs -0 rm -rf --` for
the deletions) gives the atom back exactly, year after year, and a chain that grew
past increment_below is packed whole again (a re-base), its old bags history.

One atom over five years: new, modified and deleted files, a renamed folder, a file
that becomes a folder, a sparse file, a hard link, a symlink and odd names."""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from tests.support.proxy import LoopbackProxy

from .helpers import Project, restore_all, sha256_file, tree_snapshot
from .invariant import check_invariant, check_written_once

KB = 1000
ODD = os.fsdecode(b"odd \\ name\n\xff")
ODD_GONE = os.fsdecode(b"gone \\ odd\n\xfe")


def year_env(year: int) -> dict:
    return {"GLACIER_TODAY": f"{year}-03-01"}


def backup(project, year: int):
    done = project.run("backup", **year_env(year))
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def write(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))


def first_year(atom: Path) -> None:
    for n in range(20):
        write(atom / "2019" / f"img{n:02d}.jpg", 100 * KB)
    write(atom / "old_name" / "a.txt", 10 * KB)
    write(atom / "old_name" / "deep" / "b.txt", 10 * KB)
    write(atom / "gone.txt", 5 * KB)
    write(atom / "becomes_folder", 1 * KB)
    with open(atom / "sparse.img", "wb") as f:  # holes tar --sparse keeps as holes
        f.truncate(8_000_000)
        f.seek(4_000_000)
        f.write(os.urandom(10 * KB))
    os.link(atom / "2019" / "img00.jpg", atom / "2019" / "same_as_img00.jpg")
    os.symlink("2019/img01.jpg", atom / "latest")
    write(atom / ODD, 2 * KB)


def restore_by_hand(project, atom_key: str, dest: Path) -> list:
    """README's restore by hand for an atom with increments: extract its base, then
    for each increment in order: remove what its .del lists, extract it."""
    entry = project.inventory["atoms"][atom_key]
    chain = [entry["archive_key"], *entry.get("increments", [])]
    dest.mkdir(parents=True)
    downloads = project.root / "downloads"
    for key in chain:
        tar = project.thaw_and_download(key, downloads / Path(key).name)
        assert sha256_file(tar) == project.inventory["bags"][key]["sha256"], key
        if key != chain[0]:
            deletions = project.download(key.replace("-backup/", "-backup/manifests/")
                                         .removesuffix(".tar") + ".del",
                                         downloads / (Path(key).stem + ".del"))
            # the README's line: (cd DIR && xargs -0 -r rm -rf --) < NAME.del
            subprocess.run(f"(cd '{dest}' && xargs -0 -r rm -rf --) < '{deletions}'",
                           shell=True, check=True)
        subprocess.run(["tar", "-xSf", str(tar), "-C", str(dest)], check=True)
    return chain


def check_year(project, tmp_path, atom_key: str, year: int) -> list:
    """By hand and with the tool, the atom comes back as it is on disk."""
    dest = tmp_path / f"by-hand-{year}"
    chain = restore_by_hand(project, atom_key, dest)
    assert tree_snapshot(dest / "Photos") == tree_snapshot(project.data / "Photos")
    files = sum(len(names) for _, _, names in os.walk(project.data / "Photos"))
    assert project.inventory["atoms"][atom_key]["files"] == files
    tool = tmp_path / f"tool-{year}"
    done = project.run("restore", "--path", atom_key, "--yes", "--to", str(tool))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all match the manifest" in done.stdout, done.stdout
    assert tree_snapshot(tool / "Photos") == tree_snapshot(project.data / "Photos")
    again = project.run("restore", "--path", atom_key, "--yes", "--to", str(tool))
    assert again.returncode == 0, again.stdout + again.stderr  # done: nothing comes back
    assert tree_snapshot(tool / "Photos") == tree_snapshot(project.data / "Photos")
    check_invariant(project)
    for restored in (dest, tool):  # the sparse file came back sparse
        found = os.stat(restored / "Photos" / "sparse.img")
        assert found.st_blocks * 512 < found.st_size
    return chain


def restore_one(project, tmp_path, path: str, name: str):
    """The tool's restore of a file or folder inside the atom; what it downloaded."""
    dest = tmp_path / name
    done = project.run("restore", "--path", f"{project.data}/{path}", "--yes", "--to",
                       str(dest))
    assert done.returncode == 0, done.stdout + done.stderr
    source = project.data / path
    if source.is_dir():
        assert tree_snapshot(dest / path) == tree_snapshot(source)
    else:
        assert (dest / path).read_bytes() == source.read_bytes()
    return done.stdout


def tar_bytes(project, key: str) -> int:
    return project.objects()[key][0]


def test_five_years_of_increments(tmp_path, s3_server, bucket):
    data = tmp_path / "data"
    atom = data / "Photos"
    first_year(atom)
    project = Project(tmp_path, s3_server, bucket)
    project.write_config("target_bag_gb = 0.05\nincrement_below = 0.5")
    project.write_list(data)
    project.data = data
    key = f"{data}/Photos"

    backup(project, 2025)
    base = check_year(project, tmp_path, key, 2025)
    assert len(base) == 1

    # year 2: a new photo, one modified: the increment holds those two (and their
    # folder), not the 2 MB of the atom
    write(atom / "2019" / "img20.jpg", 100 * KB)
    write(atom / "2019" / "img05.jpg", 100 * KB)
    write(atom / "2019" / ODD_GONE, 1 * KB)
    os.remove(atom / "latest")  # a symlink pointed elsewhere
    os.symlink("2019/img20.jpg", atom / "latest")
    os.link(atom / "2019" / "img20.jpg", atom / "img20_linked.jpg")  # both new: a link
    backup(project, 2026)
    chain = check_year(project, tmp_path, key, 2026)
    assert chain[0] == base[0] and len(chain) == 2
    assert tar_bytes(project, chain[1]) < 250 * KB  # the new link stored as a link
    assert project.inventory["bags"][chain[1]]["increment_of"]

    # year 3: a file deleted, a folder renamed, a file that becomes a folder
    (atom / "gone.txt").unlink()
    (atom / "2019" / ODD_GONE).unlink()  # raw in the deletion list
    os.rename(atom / "old_name", atom / "new_name")
    (atom / "becomes_folder").unlink()
    write(atom / "becomes_folder" / "inside.txt", 1 * KB)
    backup(project, 2027)
    chain = check_year(project, tmp_path, key, 2027)
    assert len(chain) == 3
    # a renamed folder and a modified file, restored alone: the file from the one
    # bag holding its newest version, ranged
    restore_one(project, tmp_path, "Photos/new_name", "folder-2027")
    said = restore_one(project, tmp_path, "Photos/2019/img05.jpg", "file-2027")
    assert Path(chain[1]).name in said and Path(chain[0]).name not in said, said
    found = project.run("find", "img05")
    assert found.returncode == 0, found.stdout + found.stderr
    assert found.stdout.count("img05.jpg") == 1 and Path(chain[1]).stem in found.stdout
    gone = project.run("find", "gone.txt")
    assert gone.returncode == 1, gone.stdout  # deleted files are not shown
    every = project.run("find", "img05", "--all-years")  # history: every version
    assert every.returncode == 0, every.stdout + every.stderr
    assert every.stdout.count("img05.jpg") == 2, every.stdout

    # year 4: the sparse file rewritten, a new hard link whose partner is not in the
    # increment (restored as a file of the same bytes), the odd name modified
    with open(atom / "sparse.img", "r+b") as f:
        f.seek(1_000_000)
        f.write(os.urandom(10 * KB))
    os.link(atom / "2019" / "img03.jpg", atom / "img03_again.jpg")
    write(atom / ODD, 3 * KB)
    backup(project, 2028)
    chain = check_year(project, tmp_path, key, 2028)
    assert len(chain) == 4
    # as the 2026 run archived it: that year's chain, from its system folder
    then = tmp_path / "year-2026"
    done = project.run("restore", "--path", key, "--yes", "--to", str(then),
                       "--year", "2026")
    assert done.returncode == 0, done.stdout + done.stderr
    assert tree_snapshot(then) == tree_snapshot(tmp_path / "by-hand-2026")
    assert tar_bytes(project, chain[3]) < 200 * KB
    for key_ in chain:  # every bag of the live chain is referenced: prune keeps it
        assert key in project.inventory["bags"][key_]["atoms"]
    listing = project.run("prune", **year_env(2028))
    assert listing.returncode == 0, listing.stdout + listing.stderr
    assert not any(Path(k).name in listing.stdout for k in chain), listing.stdout

    # year 5: most photos rewritten: past increment_below, packed whole (a re-base);
    # the old increments leave for history
    for n in range(15):
        write(atom / "2019" / f"img{n:02d}.jpg", 100 * KB)
    backup(project, 2029)
    rebased = check_year(project, tmp_path, key, 2029)
    assert len(rebased) == 1 and rebased[0] not in chain
    history = project.inventory.get("history", {})
    assert all(k in history for k in chain[1:]), history


def small_project(tmp_path, s3_server, bucket, extra=""):
    data = tmp_path / "data"
    for n in range(20):
        write(data / "Photos" / f"img{n:02d}.jpg", 100 * KB)
    write(data / "Docs" / "a.txt", 10 * KB)
    write(data / "readme.txt", 20 * KB)  # the loose files' atom
    write(data / "notes.txt", 1 * KB)
    project = Project(tmp_path, s3_server, bucket)
    project.write_config(f"target_bag_gb = 0.05\nincrement_below = 0.5\n{extra}")
    project.write_list(data)
    project.data = data
    return project


def test_kill_9_during_an_increments_upload(tmp_path, s3_server, bucket):
    """Killed while the increment uploads, the rerun finishes it (adopted or resumed,
    never a second object); the atom restores exactly, by hand and with the tool."""
    project = small_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    write(project.data / "Photos" / "new.jpg", 600 * KB)
    line = LoopbackProxy(s3_server.port, rate=200_000)  # 3 s for the increment
    project.config.write_text(project.config.read_text().replace(
        s3_server.endpoint, line.endpoint))
    written = {}
    check_written_once(project, written)
    try:
        proc = project.popen("backup", **year_env(2026))
        seen = b""
        while b" upload " not in seen or b"started" not in seen.split(b" upload ")[-1]:
            chunk = proc.stdout.readline()
            assert chunk, seen.decode(errors="replace")
            seen += chunk
        time.sleep(1)  # inside the upload
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        assert proc.returncode == -signal.SIGKILL
    finally:
        line.stop()
    project.config.write_text(project.config.read_text().replace(
        line.endpoint, s3_server.endpoint))
    done = backup(project, 2026)
    key = f"{project.data}/Photos"
    chain = project.inventory["atoms"][key]["increments"]
    assert len(chain) == 1 and project.objects()[chain[0]][0] < 700 * KB
    check_written_once(project, written)
    # the cut PUT never completed: the rerun's is the one object, written once
    assert project.inventory["bags"][chain[0]]["sha256"] == \
        sha256_file(project.thaw_and_download(chain[0], tmp_path / "inc.tar"))
    dest = tmp_path / "by-hand"
    restore_all(project, dest)  # every bag as the README says, chains included
    assert tree_snapshot(dest) == tree_snapshot(project.data)
    check_invariant(project)
    assert done.returncode == 0


def test_prune_keeps_a_live_chain_and_deletes_a_superseded_one_after_history(
        tmp_path, s3_server, bucket):
    project = small_project(tmp_path, s3_server, bucket, "keep_years = 1")
    backup(project, 2025)
    key = f"{project.data}/Photos"
    write(project.data / "Photos" / "img00.jpg", 100 * KB)
    (project.data / "notes.txt").unlink()  # an increment of deletions alone
    backup(project, 2026)
    loose = project.inventory["atoms"][f"{project.data}/."]
    assert len(loose["increments"]) == 1
    write(project.data / "Photos" / "img01.jpg", 100 * KB)
    (project.data / "Photos" / "img02.jpg").unlink()
    backup(project, 2027)
    live = [project.inventory["atoms"][key]["archive_key"],
            *project.inventory["atoms"][key]["increments"]]
    assert len(live) == 3
    deletions = [k.replace("-backup/", "-backup/manifests/").removesuffix(".tar") + ".del"
                 for k in live[1:]]
    late = project.run("prune", "--delete", "--force", GLACIER_TODAY="2031-01-01")
    assert late.returncode == 0, late.stdout + late.stderr
    objects = project.objects()
    assert all(k in objects for k in live + deletions), late.stdout
    # a re-base: most of the atom rewritten; the old chain becomes history
    for n in range(3, 18):
        write(project.data / "Photos" / f"img{n:02d}.jpg", 100 * KB)
    backup(project, 2028)
    assert not project.inventory["atoms"][key].get("increments")
    history = project.inventory["history"]
    assert all(k in history for k in live[1:])
    kept = project.run("prune", "--delete", GLACIER_TODAY="2028-12-01")
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert all(k in project.objects() for k in live[1:] + deletions)  # keep_years
    gone = project.run("prune", "--delete", GLACIER_TODAY="2029-06-01")
    assert gone.returncode == 0, gone.stdout + gone.stderr
    objects = project.objects()
    assert not any(k in objects for k in live[1:] + deletions), gone.stdout
    check_invariant(project)
    dest = tmp_path / "after"
    restore_all(project, dest)
    assert tree_snapshot(dest) == tree_snapshot(project.data)
    tool = tmp_path / "tool"
    done = project.run("restore", "--all", "--yes", "--to", str(tool))
    assert done.returncode == 0, done.stdout + done.stderr
    assert tree_snapshot(next(tool.iterdir())) == tree_snapshot(project.data)


def test_after_bootstrap_a_chain_restores_and_the_next_change_re_bases(
        tmp_path, s3_server, bucket):
    """A machine rebuilt from the bucket has the chain in its inventory but not the
    state its increments were computed against: it restores the chain, verifies it,
    and packs the atom whole at its next change."""
    project = small_project(tmp_path, s3_server, bucket)
    backup(project, 2025)
    write(project.data / "Photos" / "img00.jpg", 100 * KB)
    (project.data / "Photos" / "img01.jpg").unlink()
    backup(project, 2026)
    key = f"{project.data}/Photos"
    chain = [project.inventory["atoms"][key]["archive_key"],
             *project.inventory["atoms"][key]["increments"]]
    assert len(chain) == 2
    page = tmp_path / "report.html"  # the report and cost count the increment as a bag
    made = project.glacier("report", "--to", str(page), **year_env(2026))
    assert made.returncode == 0, made.stdout + made.stderr
    assert "an increment of an atom of" in page.read_text()
    billed = project.glacier("cost", "--json", **year_env(2026))
    assert billed.returncode == 0, billed.stdout + billed.stderr
    archived = [row for row in json.loads(billed.stdout)["storage"]
                if row["storage_class"] == "DEEP_ARCHIVE"]
    assert archived[0]["objects"] == len(project.inventory["bags"]) == 2, archived
    by_hand = project.thaw_and_download(chain[1], tmp_path / Path(chain[1]).name)
    alone = project.run("restore", "--from-file", str(by_hand), "--path", key, "--to",
                        str(tmp_path / "from-file"))
    assert alone.returncode == 0, alone.stdout + alone.stderr
    assert "is an increment" in alone.stdout
    shutil.rmtree(project.state)
    (project.root / "inventory.json").unlink()
    shutil.rmtree(project.root / "manifests")
    booted = project.run("bootstrap", **year_env(2026))
    assert booted.returncode == 0, booted.stdout + booted.stderr
    assert project.run("verify", **year_env(2026)).returncode == 0
    dest = tmp_path / "booted"
    done = project.run("restore", "--path", key, "--yes", "--to", str(dest))
    assert done.returncode == 0, done.stdout + done.stderr
    assert tree_snapshot(dest / "Photos") == tree_snapshot(project.data / "Photos")
    write(project.data / "Photos" / "img02.jpg", 100 * KB)
    backup(project, 2027)
    entry = project.inventory["atoms"][key]
    assert not entry.get("increments") and entry["archive_key"] not in chain
    assert all(k in project.inventory["history"] for k in chain[1:])
    check_invariant(project)
