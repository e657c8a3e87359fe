"""Find files in the manifests, without thawing anything.

Manifests are read line by line (never loaded whole); one missing locally is fetched
from S3 Standard first. A pattern is a substring, a glob if it holds * ? or [, or with
--regex a regular expression; it is matched against the file's full original path.
"""

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

from ..formats import crypto, layout, manifest
from .. import statefile
from ..errors import UsageError


@dataclass(frozen=True)
class Match:
    path: str
    bag: str
    archive_key: str
    size: int
    mtime: str


def fetch_manifest(settings, store, bag: dict) -> Path:
    """The bag's manifest in manifest_dir, downloaded if it is not there yet."""
    path = layout.local_manifest(settings.manifest_dir, bag["manifest_key"])
    if not path.exists():
        data = store.get_bytes(bag["manifest_key"])
        if crypto.is_encrypted(data):
            data = crypto.decrypt_bytes(data, settings.age_identity_file)
        statefile.write_bytes(path, data)
    return path


def matcher(pattern: str, regex: bool):
    if regex:
        try:
            return re.compile(pattern).search
        except re.error as err:
            raise UsageError(f"--regex {pattern!r}: not a regular expression ({err})") \
                from None
    if any(c in pattern for c in "*?["):
        compiled = re.compile(fnmatch.translate(pattern))
        return lambda text: compiled.match(text) or compiled.match(text.rpartition("/")[2])
    return lambda text: pattern in text


def search(settings, store, inventory: dict, pattern: str, regex: bool = False):
    """Yield a Match for every manifest line whose full path matches."""
    matches = matcher(pattern, regex)
    for key, bag in sorted(inventory["bags"].items()):
        prefix = bag["molecule"].rstrip("/") + "/"
        name = layout.bag_name(key)
        with open(fetch_manifest(settings, store, bag), encoding="utf-8") as lines:
            for line in lines:
                path, _, rest = line.rstrip("\n").partition("\t")
                full = prefix + path
                if matches(full):
                    size, _, mtime = rest.partition("\t")
                    mtime = mtime.replace("\t", " ")  # keeps a 'skipped: socket' note
                    yield Match(full, name, key, int(size or 0), mtime)


def member_exists(manifest_path: Path, member: bytes) -> bool:
    """Is `member` (a path inside the bag) a file or folder listed in this manifest?"""
    folder = member + b"/"
    with open(manifest_path, encoding="utf-8") as lines:
        for line in lines:
            name = manifest.parse_line(line)[0].rstrip(b"/")
            if name == member or name.startswith(folder):
                return True
    return False
