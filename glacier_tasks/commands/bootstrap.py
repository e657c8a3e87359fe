"""`doit bootstrap [--year YYYY]`: an empty machine's state, rebuilt from the bucket."""

from .. import bootstrap
from ..run import load_run
from ..store import store_for
from .base import current_run, locked, param, say, user_errors


@user_errors
@locked
def bootstrap_action(config, year):
    run = load_run(config)
    say(bootstrap.bootstrap(run.settings, store_for(run.settings), year, run.bootstrap_dir))


BOOTSTRAP_PARAMS = [param("year", int, None, "the year's system folder to use (default: "
                                            "the latest)")]


def task_bootstrap():
    """rebuild inventory, list and manifests of an empty machine from the bucket"""
    return {"actions": [(bootstrap_action, [current_run().config_file])],
            "task_dep": ["_lock"], "uptodate": [False], "params": BOOTSTRAP_PARAMS}
