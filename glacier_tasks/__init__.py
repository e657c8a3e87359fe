"""glacier-tasks: yearly backups of big folders into S3 Glacier Deep Archive.

Words used everywhere in this package:

- molecule: one line of ``list.txt``, a folder to back up (local path or user@host:/path).
- atom: a top-level subfolder of a molecule; never split. The files lying directly in
  the molecule's folder form one more atom, named ``.``.
- bag: one plain GNU tar object in S3 holding one or more whole atoms of one molecule.
- manifest: a plain-text list of every file in a bag, kept in S3 Standard.
- inventory: ``inventory.json``, mapping every atom to the bag that holds it.
"""

__version__ = "0.1.0"
