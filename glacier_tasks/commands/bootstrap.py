"""`doit bootstrap [--year YYYY]`: an empty machine's state, rebuilt from the bucket."""

from ..restore import bootstrap
from ..bucket import hosts
from .. import statefile
from ..run import load_run
from ..bucket.store import store_for
from .base import current_run, locked, param, say, user_errors


@user_errors
@locked
def bootstrap_action(config, year, host):
    run = load_run(config)
    store = store_for(run.settings)
    say(bootstrap.bootstrap(run.settings, store, year, run.bootstrap_dir, host or None))
    statefile.write_bytes(run.bootstrapped_file, b"prune --delete waits for a backup\n")
    if host in ("", run.settings.host):  # this machine now writes that namespace
        hosts.claim_host(store, run.settings.host, hosts.machine_id(run.state_dir),
                         take_over=True)


BOOTSTRAP_PARAMS = [
    param("year", int, None, "the year's system folder to use (default: the latest)"),
    param("host", str, "", "another machine's (default: this one's, the config's host)")]


def task_bootstrap():
    """rebuild inventory, list and manifests of an empty machine from the bucket (--host)"""
    return {"actions": [(bootstrap_action, [current_run().config_file])],
            "task_dep": ["_lock"], "uptodate": [False], "params": BOOTSTRAP_PARAMS}
