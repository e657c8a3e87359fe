"""doit reporter: the tasks speak for themselves (one line per bag); failures are one
line each, with a traceback only for errors that are bugs rather than user mistakes.

A backup that reached its bags always ends with its summary: when `_report` did not
run (a task failed, the network went, Ctrl-C), the reporter, which doit calls at the
end of every run in its main process, prints it (commands/bags.py closing_lines)."""

import sys

from doit.exceptions import TaskFailed, UnmetDependency
from doit.reporter import ConsoleReporter

from .. import statefile


class GlacierReporter(ConsoleReporter):
    desc = "glacier-tasks: one line per bag, failures without tracebacks"

    def __init__(self, outstream, options):
        super().__init__(outstream, options)
        self.started = set()  # tasks whose actions began, from any worker
        self.selected = ()
        self.said = set()  # failure messages printed: each once

    def initialize(self, tasks, selected_tasks):
        self.selected = tuple(selected_tasks or ())
        if "backup" in self.selected:
            from .ending import begin_backup
            begin_backup()

    def execute_task(self, task):
        self.started.add(task.name)

    def skip_uptodate(self, task):
        pass

    def add_failure(self, task, fail):
        if not fail.report:
            return
        self.failures.append({"task": task, "exception": fail})
        if isinstance(fail, UnmetDependency):
            return  # `--continue`: a task whose dependency failed; that one said why
        if isinstance(fail, TaskFailed) and not fail.traceback:
            if fail.message in self.said:
                return  # `--continue` beside a running backup: each task meets the lock
            self.said.add(fail.message)
            sys.stderr.write(f"glacier: {self._shown(task.name)}: {fail.message}\n")
        else:
            sys.stderr.write(f"glacier: {task.name} crashed (a bug, please report it):\n"
                             f"{fail.get_msg()}\n")

    def complete_run(self):
        if self.runtime_errors:
            sys.stderr.write("glacier: " + "\n".join(self.runtime_errors) + "\n")
        if "_bucket" in self.started:  # a backup (or a bag's step) ran
            self._close_backup(summary="backup" in self.selected
                               and "_report" not in self.started)
        if "backup" in self.selected:
            from .ending import end_backup
            stopped = isinstance(sys.exc_info()[1], KeyboardInterrupt)
            end_backup(self._reasons(), exit_status=130 if stopped else 1)

    def _reasons(self) -> list[str]:
        """Why this run failed, one line each, for last-run.json and the alert."""
        reasons = []
        for failure in self.failures:
            fail = failure["exception"]
            if isinstance(fail, UnmetDependency):
                continue
            text = fail.message if isinstance(fail, TaskFailed) and not fail.traceback \
                else (fail.get_msg().strip().splitlines() or ["crashed"])[-1]
            if not any(r.endswith(": " + text) for r in reasons):
                reasons.append(f"{self._shown(failure['task'].name)}: {text}")
        stop = sys.exc_info()[1]  # doit calls complete_run on its way out of Ctrl-C
        if isinstance(stop, KeyboardInterrupt) and not reasons:
            reasons.append(f"stopped by {str(stop) or 'Ctrl-C'}")
        return reasons + list(self.runtime_errors)

    def _shown(self, name: str) -> str:
        """A task's name as a user may read it: an internal step (`_bucket`, `_report`,
        `_lock`) is named by the command typed, which the user knows."""
        if not name.startswith("_"):
            return name
        if not self.selected:
            return "dryrun"  # no task named: the default one
        typed = [n for n in self.selected if not n.startswith("_")]
        return typed[0] if typed else name  # `doit _walk`: the user typed that name

    def _close_backup(self, summary: bool) -> None:
        from .bags import closing_lines
        from .base import current_run, say
        try:
            run = current_run()
        except Exception:  # noqa: BLE001  (the run's end must never fail here)
            return
        run.progress.finish()
        if summary and statefile.holds_lock(run.lock_file):  # not one refused by the lock
            say(closing_lines(run.config_file))
