"""The yearly run: list.txt -> scan (an atom's metadata hash) -> plan (atoms into bags)
-> pack (a bag's tar and manifest) -> bag_steps (tar, upload, manifest) -> inventory.

ledger: one bag's state (its marker, failure, repair, occupied keys, staged tar);
marker: what of a bag is done; staging: room for staged tars; taken_keys: which keys a
bag may take; remote: molecules over sshfs; progress: what a person watching sees.
"""
