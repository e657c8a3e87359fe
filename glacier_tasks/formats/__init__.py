"""What the bucket and the disk hold, byte for byte, for a stranger in twenty years.

layout: every key (and `parse`, the one reader of them); inventory: which bag holds
each atom, in the typed records of `records`; manifest: one line per file;
memberindex: where each member starts in a bag; tarstream, crypto, checksum: reading
and sealing those bytes. No S3 and no doit here.
"""
