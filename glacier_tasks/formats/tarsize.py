"""How many bytes GNU tar (`--format=gnu --sparse`, as backup/pack.py runs it) writes.

A bag is planned, staged, billed and shown at this size, so it must be tar's own count,
not the files' contents: 200,000 files of 32 bytes are 204.8 MB of tar, not 6.4 MB.
Per member, checked against GNU tar 1.34:
- one 512-byte header (a file, folder, symlink, hard link, fifo or device);
- a name over 100 bytes (a folder's counts its trailing '/') first gets a long-name
  member ('L'): a header, then the name and a NUL rounded up to 512; a link target
  over 100 bytes likewise a long-link member ('K');
- a file's content rounded up to 512; a sparse file's data segments only, its map in
  the header (4 entries) and in extension blocks of 21 entries each, one entry per
  segment plus the one that records the file's size;
- a hard link to a member already written: its header alone.
The archive ends with two zero blocks, padded to a whole record of 10,240 bytes.
"""

BLOCK = 512
RECORD = 20 * BLOCK  # tar's default blocking factor
NAME_FIELD = 100
SPARSE_IN_HEADER, SPARSE_PER_EXTENSION = 4, 21
FORMAT = "gnu-tar"  # what an atom's `size` counts (its hash file says so)


def padded(size: int) -> int:
    """`size` bytes of content in whole blocks."""
    return (size + BLOCK - 1) // BLOCK * BLOCK


def long_name(length: int) -> int:
    """The long-name (or long-link) member a name of `length` bytes needs, if any."""
    return 0 if length <= NAME_FIELD else BLOCK + padded(length + 1)


def member(name_length: int, content: int = 0, link_length: int = 0) -> int:
    """A plain member: header, long name and long link if needed, content."""
    return BLOCK + long_name(name_length) + long_name(link_length) + padded(content)


def sparse_member(name_length: int, data: int, segments: int) -> int:
    """A sparse file stored as `segments` runs of data holding `data` bytes in all."""
    entries = segments + 1
    extensions = max(0, entries - SPARSE_IN_HEADER + SPARSE_PER_EXTENSION - 1) \
        // SPARSE_PER_EXTENSION
    return BLOCK * (1 + extensions) + long_name(name_length) + padded(data)


def archive(members: int) -> int:
    """A whole tar holding `members` bytes of members: end blocks and record padding."""
    return (members + 2 * BLOCK + RECORD - 1) // RECORD * RECORD
