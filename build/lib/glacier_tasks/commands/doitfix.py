"""Two small fixes of doit 0.37's dependency bookkeeping, installed when the tool loads
(commands.namespace). Same semantics as doit's own code; only what it could not do.

1. A delayed task may name, in its task_dep, a subtask of another delayed creator that
   has not run yet: `tar:bag_004` waits for `upload:bag_002`. doit then fails with a
   KeyError (control.py, TaskDispatcher._gen_node). For a name typed on the command
   line doit already has the answer (TaskControl._filter_tasks): a placeholder task
   whose loader runs the creator first. The same rule is applied to a task_dep, so
   `doit tar:NAME` alone works whichever creator runs first.
2. TaskControl.add_implicit_task_dep looks each file_dep up in the task's task_dep
   list: quadratic in the number of tasks whose targets it names (`doit list` at
   10,000 atoms: 0.9 s for that loop alone). A set does the same in linear time.
"""

from doit.control import TaskControl, TaskDispatcher
from doit.task import Task

_gen_node = TaskDispatcher._gen_node


def _gen_node_of_delayed(self, parent, task_name):
    if task_name not in self.tasks:
        base = task_name.partition(":")[0]
        loader = getattr(self.tasks.get(base), "loader", None)
        if loader:
            loader.basename = base
            self.tasks[task_name] = Task(task_name, None, loader=loader)
    return _gen_node(self, parent, task_name)


def add_implicit_task_dep(targets, task, deps_list):
    """add implicit task_dep for `task` for newly added `file_dep` (doit's, with a set)"""
    known = set(task.task_dep)
    for dep in deps_list:
        name = targets.get(dep)
        if name is not None and name not in known:
            task.task_dep.append(name)
            known.add(name)


def install() -> None:
    TaskDispatcher._gen_node = _gen_node_of_delayed
    TaskControl.add_implicit_task_dep = staticmethod(add_implicit_task_dep)
