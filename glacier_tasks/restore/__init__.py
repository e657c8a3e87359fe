"""Getting files back: find (in manifests, nothing thawed) -> plan (which bags, which
members, what it costs; space: the room on disk it needs) -> restorer (thaw, download,
extract, check) -> state (a request's progress on disk); bootstrap rebuilds an empty
machine's local state.
"""
