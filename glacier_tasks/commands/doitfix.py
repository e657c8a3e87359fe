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
3. An option doit's parser does not know, or a value of the wrong type, ended in a
   600-character dump of the parser's options. It is one line now, naming the command
   and the option, with the closest known one: `restore: unknown option --too (did you
   mean --to?)`. The `glacier` command checks its options with the same words first.
"""

import difflib
import getopt

from doit.cmdparse import CmdOption, CmdParse, CmdParseError
from doit.control import TaskControl, TaskDispatcher
from doit.task import Task

from ..errors import command

_gen_node = TaskDispatcher._gen_node
_parse_only = CmdParse.parse_only
_str2type = CmdOption.str2type
_init_options = Task.init_options


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


def option_flags(options) -> dict:
    """'--long', '--inverse' and '-s' -> the CmdOption each names."""
    flags = {}
    for option in options:
        for flag in (option.long and "--" + option.long, option.short and "-" + option.short,
                     option.inverse and "--" + option.inverse):
            if flag:
                flags[flag] = option
    return flags


def unknown_option(word: str, flags) -> str:
    close = difflib.get_close_matches(word.partition("=")[0], list(flags), n=1,
                                    cutoff=0.7)
    return f"unknown option {word}" + (f" (did you mean {close[0]}?)" if close else "")


def getopt_message(err: getopt.GetoptError, options, also=()) -> str:
    """getopt's complaint in the user's words (its .opt drops the dashes; the message
    keeps them: 'option --too not recognized'); `also`: more flags to suggest."""
    words = err.msg.split()
    word = words[1] if len(words) > 1 else err.opt
    if err.msg.endswith("not recognized"):
        return unknown_option(word, [*option_flags(options), *also])
    if err.msg.endswith("requires argument"):
        return f"{word} needs a value"
    if err.msg.endswith("must not have an argument"):
        return f"{word} takes no value"
    if err.msg.endswith("not a unique prefix"):
        matches = [f for f in option_flags(options) if f.startswith(word)]
        return f"{word} could be any of {', '.join(sorted(matches))}"
    return err.msg


def value_error(flag: str, kind, value: str) -> str | None:
    """What is wrong with an option's value, or None: `--year abc` wants a number."""
    wanted = {int: "a whole number", float: "a number"}.get(kind)
    if wanted is None:
        return None
    try:
        kind(value)
    except ValueError:
        return f"{flag} needs {wanted}, not {value!r}"
    return None


def parse_only(self, in_args, params=None):
    """doit's CmdParse.parse_only; a getopt error says what was wrong in one line."""
    try:
        return _parse_only(self, in_args, params)
    except CmdParseError as err:
        if isinstance(err.__context__, getopt.GetoptError):
            raise CmdParseError(getopt_message(err.__context__, self.options)) from None
        raise


def str2type(self, str_val):
    """doit's CmdOption.str2type; a value of the wrong type says so in one line."""
    problem = isinstance(str_val, str) and value_error(
        "--" + self.long if self.long else self.name, self.type, str_val)
    if problem:
        raise CmdParseError(problem)
    return _str2type(self, str_val)


def init_options(self, args=None):
    """doit's Task.init_options; its parse errors name the command they belong to."""
    try:
        return _init_options(self, args)
    except CmdParseError as err:
        dry = [a for a in args or () if a in ("-n", "--dry-run")]
        if self.name == "backup" and dry:  # glacier's habit, typed to doit
            raise CmdParseError(f"{command('backup')}: {dry[0]}: here the dry run is "
                                f"'{command('dryrun')}' (and doit's -n N, before the "
                                "task, its number of workers)") from None
        raise CmdParseError(f"{command(self.name)}: {err}") from None


def install() -> None:
    TaskDispatcher._gen_node = _gen_node_of_delayed
    TaskControl.add_implicit_task_dep = staticmethod(add_implicit_task_dep)
    CmdParse.parse_only = parse_only
    CmdOption.str2type = str2type
    Task.init_options = init_options
