"""doit reporter: the tasks speak for themselves (one line per bag); failures are one
line each, with a traceback only for errors that are bugs rather than user mistakes."""

import sys

from doit.exceptions import TaskFailed
from doit.reporter import ConsoleReporter


class GlacierReporter(ConsoleReporter):
    desc = "glacier-tasks: one line per bag, failures without tracebacks"

    def execute_task(self, task):
        pass

    def skip_uptodate(self, task):
        pass

    def add_failure(self, task, fail):
        if not fail.report:
            return
        self.failures.append({"task": task, "exception": fail})
        if isinstance(fail, TaskFailed) and not fail.traceback:
            sys.stderr.write(f"glacier: {task.name}: {fail.message}\n")
        else:
            sys.stderr.write(f"glacier: {task.name} crashed (a bug, please report it):\n"
                             f"{fail.get_msg()}\n")

    def complete_run(self):
        if self.runtime_errors:
            sys.stderr.write("glacier: " + "\n".join(self.runtime_errors) + "\n")
