"""Manifest names and lines: one entry a line, whatever bytes a name holds."""

import calendar
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glacier_tasks.formats.manifest import (entry_line, escape_name, manifest_line, read_entry,
                                            unescape_name)

# a file name: any bytes but NUL and '/'
names = st.binary(min_size=1, max_size=40).map(
    lambda b: b.replace(b"\0", b"").replace(b"/", b"")).filter(bool)
# a path inside a bag: names joined by '/'
paths = st.lists(names, min_size=1, max_size=4).map(b"/".join)


@given(paths)
def test_escape_round_trip(raw):
    assert unescape_name(escape_name(raw)) == raw


@given(paths)
def test_escaped_name_is_one_clean_field(raw):
    text = escape_name(raw)
    assert "\n" not in text and "\t" not in text and "\r" not in text
    text.encode("utf-8")  # no lone surrogates: writable as UTF-8 text


@given(st.text(alphabet=st.characters(blacklist_characters="\0/\\\t\n\r",
                                      blacklist_categories=("Cs",)), min_size=1))
def test_plain_utf8_names_are_left_alone(name):
    assert escape_name(name.encode("utf-8")) == name


@pytest.mark.parametrize("raw, escaped", [
    (b"tab\there", "tab\\there"),
    (b"two\nlines", "two\\nlines"),
    (b"cr\rhere", "cr\\rhere"),
    (b"back\\slash", "back\\\\slash"),
    (b"latin1 caf\xe9", "latin1 caf\\xe9"),
    (b"\xff\xfe", "\\xff\\xfe"),
    ("café ✓".encode(), "café ✓"),
    (b"literal \\x41", "literal \\\\x41"),
])
def test_known_escapes(raw, escaped):
    assert escape_name(raw) == escaped
    assert unescape_name(escaped) == raw


def utc_ns(year, month, day, hour, minute, second, nanos=0) -> int:
    return calendar.timegm((year, month, day, hour, minute, second)) * 10**9 + nanos


def test_file_line(tmp_path):
    path = tmp_path / "report.txt"
    path.write_bytes(b"hello")
    when = utc_ns(2026, 1, 15, 12, 34, 56, 999_999_999)
    os.utime(path, ns=(when, when))
    line = manifest_line(b"Books/report.txt", os.lstat(path))
    assert line == "Books/report.txt\t5\t2026-01-15T12:34:56Z\n"
    entry = read_entry(line)
    assert (entry.name, entry.size, entry.mtime, entry.folder) == \
        (b"Books/report.txt", 5, "2026-01-15T12:34:56Z", False)


def test_folder_line_ends_with_slash_and_counts_no_size(tmp_path):
    folder = tmp_path / "Books"
    folder.mkdir()
    (folder / "a").write_bytes(b"x" * 100)
    when = utc_ns(1999, 12, 31, 23, 59, 59)
    os.utime(folder, ns=(when, when))
    assert manifest_line(b"Books", os.lstat(folder)) == "Books/\t0\t1999-12-31T23:59:59Z\n"


def test_symlink_line_has_no_size(tmp_path):
    link = tmp_path / "link"
    link.symlink_to("some/far/away/target")
    when = utc_ns(2020, 2, 29, 0, 0, 0)
    os.utime(link, ns=(when, when), follow_symlinks=False)
    assert manifest_line(b"Books/link", os.lstat(link)) == \
        "Books/link\t0\t2020-02-29T00:00:00Z\n"


def test_awkward_name_stays_on_one_line(tmp_path):
    raw = b"Books/a\tb\nc\\d\xff"
    path = tmp_path / "f"
    path.write_bytes(b"12345678")
    when = utc_ns(2026, 6, 1, 8, 0, 0)
    os.utime(path, ns=(when, when))
    line = manifest_line(raw, os.lstat(path))
    assert line.count("\n") == 1 and line.endswith("\n")
    assert line.count("\t") == 2
    assert line == "Books/a\\tb\\nc\\\\d\\xff\t8\t2026-06-01T08:00:00Z\n"
    assert (read_entry(line).name, read_entry(line).size) == (raw, 8)


@given(paths, st.integers(0, 2**50))
def test_read_entry_round_trip(raw, size):
    when = "2026-01-15T00:00:00Z"
    line = f"{escape_name(raw)}\t{size}\t{when}\n"
    entry = read_entry(line)
    assert (entry.name, entry.size, entry.mtime, entry.note, entry.sha256) == \
        (raw, size, when, "", None)


def test_read_entry_keeps_a_note_and_the_content_checksum_apart():
    skipped = read_entry("Mail/sock\t0\t2026-01-15T00:00:00Z\tskipped: socket\n")
    assert (skipped.skipped, skipped.note, skipped.sha256) == (True, "skipped: socket", None)
    folder = read_entry("Mail/new/\t0\t2026-01-15T00:00:00Z\n")
    assert (folder.folder, folder.name, folder.skipped) == (True, b"Mail/new", False)
    digest = "ab" * 32
    line = entry_line(b"Mail/a", 0o100644, 3, 0, sha256=digest)
    assert (read_entry(line).sha256, read_entry(line).note) == (digest, "")
