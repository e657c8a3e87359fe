"""How numbers, times and names read in every message, page and record: one format each."""

import datetime

from .formats.manifest import escape_name


def human(size: float) -> str:
    """Bytes in decimal units, as the price list counts them: 1.5 GB, 200 B."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def iso_utc(when: float | datetime.datetime | None = None) -> str:
    """A moment as UTC to the second (2026-01-15T03:00:01Z), as every record keeps it;
    `when` is seconds since the epoch or an aware datetime; None is now."""
    if when is None:
        when = datetime.datetime.now(datetime.timezone.utc)
    elif not isinstance(when, datetime.datetime):
        when = datetime.datetime.fromtimestamp(int(when), datetime.timezone.utc)
    return when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def printable(name: str) -> str:
    """A molecule or atom as a line may show it: bytes that are not UTF-8 (kept as
    surrogates) are escaped as in manifests, so a strict UTF-8 output never chokes."""
    return escape_name(name.encode("utf-8", "surrogateescape"))
