"""glacier-tasks: yearly backups of big folders into S3 Glacier Deep Archive.

Words used everywhere in this package:

- molecule: one line of ``list.txt``, a folder to back up (local path or user@host:/path).
- atom: a top-level subfolder of a molecule; never split. The files lying directly in
  the molecule's folder form one more atom, named ``.``.
- bag: one plain GNU tar object in S3 holding one or more whole atoms of one molecule.
- manifest: a plain-text list of every file in a bag, kept in S3 Standard.
- inventory: ``inventory.json``, mapping every atom to the bag that holds it.

The rooms, each importing only those below it (tests/test_layers.py keeps it so):

- ``errors``, ``statefile``, ``units``: the ground every room stands on.
- ``formats/``: what the bucket and the disk hold, byte for byte (keys, inventory,
  manifests, member indexes, tar streams, encryption). No S3, no doit.
- ``bucket/``: the only room that speaks S3 (boto3); what the others ask of its objects
  is ``objects.ObjectStore``, passed in (``run.store``). ``cost`` and ``config`` read
  prices and settings on top of it.
- ``backup/``: scan -> plan -> pack -> bag steps; a bag's state is its ledger.
  ``restore/``: find -> plan ->
  restorer, and bootstrap. Neither imports the other.
- ``report/``: what the tool says about the archive; ``run``, ``prune``, ``verify``:
  one invocation's state and the two checks built from both rooms.
- ``commands/``: one module per user command (doit task generators, thin), and
  ``cli`` (the ``glacier`` command). doit lives only there.
"""

__version__ = "0.1.0"
