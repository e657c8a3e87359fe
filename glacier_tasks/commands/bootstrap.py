"""`doit bootstrap [--year YYYY]`: an empty machine's state, rebuilt from the bucket
(which it only reads: it never claims the host name)."""

from ..restore import bootstrap
from ..bucket import hosts
from .. import statefile
from ..errors import GlacierError
from ..run import load_run
from .base import current_run, locked, param, say, user_errors


@user_errors
@locked
def bootstrap_action(config, year, host):
    run = load_run(config)
    store = run.store
    lines = bootstrap.bootstrap(run.settings, store, year, run.bootstrap_dir, host or None)
    statefile.write_bytes(run.bootstrapped_file, b"prune --delete waits for a backup\n")
    # it only reads: a drill on a spare machine must not lock the real one out, so
    # the name stays whose it is until a writing command here asks for it explicitly
    owner = _owner(store, run) if host in ("", run.settings.host) else None
    if owner is not None:
        lines.insert(-1, f"Host name '{run.settings.host}' belongs to "
                         f"{hosts.describe(owner)} in the bucket, and stays its: if this "
                         f"machine replaces it, its first backup needs "
                         f"{hosts.TAKE_OVER}=1 (a drill needs nothing more)")
    say(lines)


def _owner(store, run):
    """The other machine that owns this host name, if any; the state is already
    rebuilt, so a claim that cannot be read only leaves that line out."""
    try:
        return hosts.owner_of(store, run.settings.host, run.state_dir)
    except GlacierError:
        return None


BOOTSTRAP_PARAMS = [
    param("year", int, None, "the year's system folder to use (default: the latest)"),
    param("host", str, "", "another machine's (default: this one's, the config's host)")]


def task_bootstrap():
    """rebuild inventory, list and manifests of an empty machine from the bucket (--host)"""
    return {"actions": [(bootstrap_action, [current_run().config_file])],
            "task_dep": ["_lock"], "uptodate": [False], "params": BOOTSTRAP_PARAMS}
