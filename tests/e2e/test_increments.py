"""Issue 27: a changed atom is sent as an increment bag holding only its new and
modified entries, plus a deletion list; GNU tar alone (and `xargs -0 rm -rf --` for
the deletions) gives the atom back exactly, year after year, and a chain that grew
past increment_below is packed whole again (a re-base), its old bags history.

One atom over five years: new, modified and deleted files, a renamed folder, a file
that becomes a folder, a sparse file, a hard link, a symlink and odd names."""

import os
import subprocess
from pathlib import Path

from .helpers import Project, sha256_file, tree_snapshot

KB = 1000
ODD = os.fsdecode(b"odd \\ name\n\xff")


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
            subprocess.run(f"xargs -0 rm -rf -- < '{deletions}'", shell=True, cwd=dest,
                           check=True)
        subprocess.run(["tar", "-xSf", str(tar), "-C", str(dest)], check=True)
    return chain


def check_year(project, tmp_path, atom_key: str, year: int) -> list:
    """By hand and with the tool, the atom comes back as it is on disk."""
    dest = tmp_path / f"by-hand-{year}"
    chain = restore_by_hand(project, atom_key, dest)
    assert tree_snapshot(dest / "Photos") == tree_snapshot(project.data / "Photos")
    tool = tmp_path / f"tool-{year}"
    done = project.run("restore", "--path", atom_key, "--yes", "--to", str(tool))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all match the manifest" in done.stdout, done.stdout
    assert tree_snapshot(tool / "Photos") == tree_snapshot(project.data / "Photos")
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
    backup(project, 2026)
    chain = check_year(project, tmp_path, key, 2026)
    assert chain[0] == base[0] and len(chain) == 2
    assert tar_bytes(project, chain[1]) < 250 * KB
    assert project.inventory["bags"][chain[1]]["increment_of"]

    # year 3: a file deleted, a folder renamed, a file that becomes a folder
    (atom / "gone.txt").unlink()
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
