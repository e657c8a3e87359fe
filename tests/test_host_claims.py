"""The lines a refused writer reads about a host name's claim (bucket/hosts.py)."""

from types import SimpleNamespace

from glacier_tasks.bucket import hosts

STORE = SimpleNamespace(bucket="b")


def test_a_machine_that_lost_its_name_is_told_by_whom_when_and_what_to_do():
    owner = {"machine": "x", "claimed_at": "2027-01-05T10:11:12+00:00",
             "name": "spare", "state_dir": "/srv/glacier/.glacier-state"}
    line = hosts.refusal(STORE, "nas", owner, held_before=True)
    assert "was taken over from this machine" in line
    assert "machine spare (state folder /srv/glacier/.glacier-state)" in line
    assert "2027-01-05 10:11 UTC" in line and "GLACIER_TAKE_OVER_HOST=1" in line
    first = hosts.refusal(STORE, "nas", owner, held_before=False)
    assert "already used" in first and "GLACIER_TAKE_OVER_HOST=1" in first


def test_a_forged_claim_cannot_break_the_line_or_the_terminal():
    owner = {"name": "evil\n\x1b[2Jrm -rf", "state_dir": ["x"], "claimed_at": 5}
    line = hosts.refusal(STORE, "nas", owner, held_before=False)
    assert "\n" not in line and "\x1b" not in line
    assert hosts.describe({"machine": "old"}) == "another machine"  # an older claim
