"""The `glacier` command: the same commands as `doit TASK`, with Unix habits.

    glacier --help | -h          this tool's commands, one line each
    glacier --version            the tool's version (and doit's)
    glacier COMMAND --help       the command's options
    glacier restore PATH, glacier pin ATOM, glacier find PATTERN   positional arguments
    glacier help [COMMAND]       the same as --help
    glacier backup -n            the dry run (--dry-run), as rsync and restic have it
    glacier --config FILE COMMAND    that config file (anywhere on the line)
    glacier backup -v 0          doit's run options (-v, --processes N, -P, --continue)

Values containing '=' are values here (doit alone reads NAME=VALUE as a variable).
`doit COMMAND` from the project folder keeps doit's own words: there `doit dryrun` is
the dry run, `doit -n N` the number of workers and $GLACIER_CONFIG the config.
"""

import getopt
import os
import sys
from pathlib import Path

from doit.cmd_base import DoitCmdBase, NamespaceTaskLoader
from doit.cmdparse import CmdOption, CmdParse
from doit.cmd_info import Info
from doit.cmd_list import List
from doit.doit_cmd import DoitMain
from doit.version import VERSION as DOIT_VERSION

from . import __version__, errors
from .commands import COMMANDS, doitfix, namespace, task_generators
from .commands.base import say, stop_message
from .commands.listing import BagList, NowInfo
from .errors import UsageError

POSITIONAL = {"restore": "path", "pin": "path", "drop": "molecule"}  # the word after it
RUN_OPTIONS = {"-v": True, "--verbosity": True, "--process": True,
               "--processes": True, "--jobs": True, "-j": True,
               "-P": True, "--parallel-type": True, "-c": False, "--continue": False,
               "-a": False, "--always-execute": False}  # doit's, True: takes a value
STEPS = ("scan", "plan", "tar", "upload", "manifest", "bag", "inventory",
         "system")  # shown apart: parts of backup
BAG_STEPS = ("tar", "upload", "manifest", "bag")
METAVAR = {"molecule": "MOLECULE", "to": "DIR", "from_file": "BAG.tar", "from_cfg": "glacier.cfg", "year": "YYYY",
           "tier": "TIER", "path": "PATH"}


class Loader(NamespaceTaskLoader):
    """The task generators and DOIT_CONFIG, read when doit asks (not at import)."""

    def __init__(self, argv):
        super().__init__()
        self.argv = argv

    def setup(self, opt_values):
        self.namespace = namespace(self.argv)


class GlacierMain(DoitMain):
    BIN_NAME = "glacier"
    DOIT_CMDS = tuple({List: BagList, Info: NowInfo}.get(cmd, cmd)
                      for cmd in DoitMain.DOIT_CMDS)

    def process_args(self, cmd_args):
        return list(cmd_args)  # 'year=2024' is a value, never a doit variable


def commands() -> dict:
    """name -> (one-line description, params) of every public command."""
    found = {"list": ("the bags of the last plan first, then the commands "
                      "(--status: R pending, U done)", [])}
    params = {name: value for module in COMMANDS for name, value in vars(module).items()
              if name.endswith("_PARAMS")}
    for name, generator in task_generators().items():
        command = name.removeprefix("task_")
        if command.startswith("_"):
            continue
        doc = (generator.__doc__ or "").strip().splitlines()[0]
        found[command] = (doc, params.get(f"{command.upper()}_PARAMS", []))
    return found


def overview() -> str:
    known = commands()
    width = max(map(len, known)) + 2
    main = [f"  {name:<{width}}{doc}" for name, (doc, _) in sorted(known.items())
            if name not in STEPS]
    steps = ", ".join(s for s in STEPS if s not in BAG_STEPS)
    return "\n".join([
        "usage: glacier COMMAND [ARGS]    (the same commands as `doit COMMAND`)",
        "", "Yearly backups of big folders into S3 Glacier Deep Archive.", "",
        "commands:", *main,
        f"  {'':<{width}}(the steps of backup: {steps}; per bag: "
        f"{', '.join(f'{s}:NAME' for s in BAG_STEPS)})", "",
        "glacier help COMMAND (or glacier COMMAND --help) shows its options; glacier "
        "--version the version.",
        "Config: --config FILE, else $GLACIER_CONFIG, ./glacier.toml or "
        "~/.config/glacier-tasks/glacier.toml"])


def command_help(command: str) -> str:
    doc, params = commands()[command]
    positional = {"restore": " [PATH]", "pin": " [ATOM]", "find": " PATTERN...",
                  "drop": " MOLECULE"}
    lines = [f"usage: glacier {command}{positional.get(command, '')} [OPTIONS]", "",
             doc[0].upper() + doc[1:], ""]
    rows = []  # (flag, what it does); None: the "options:" heading
    for p in params:
        flag = f"--{p['long']}" + ("" if p["type"] is bool else
                                   f" {p.get('metavar') or METAVAR.get(p['name'], 'N')}")
        default = "" if p["type"] is bool or p["default"] in (None, "") or \
            "default" in p["help"] else f" (default {p['default']})"
        rows.append((flag, f"{p['help']}{default}"))
    if command == "list":
        rows += [("--status", "mark each bag R (pending) or U (done)"),
                 ("--json", "the bags as JSON (README: JSON output)"),
                 ("--all", "also the commands and the steps behind them")]
    elif command != "init":
        if command == "backup":
            rows.append(("-n, --dry-run", "plan only, upload nothing (the same as "
                                          "'glacier dryrun')"))
        rows += [("-v 0|1|2", "verbosity (default 2: progress bars live)"),
                 ("--processes N", "steps run at once (default 2: one bag packs while "
                                   "another uploads)"),
                 ("--continue", "go on with other tasks after one failed")]
    rows.append(("--config FILE", "the config file (default: $GLACIER_CONFIG, "
                                  "./glacier.toml, ~/.config/...)"))
    width = max(24, max(len(flag) for flag, _ in rows) + 2)
    lines.append("options:")
    lines += [f"  {flag:<{width}}{text}" for flag, text in rows]
    return "\n".join(lines)


def doit_args(command: str, rest: list) -> list:
    """The doit command line for `glacier COMMAND REST`; an option the command does not
    have is a UsageError, in one line, before anything loads."""
    if command == "list":
        check_options(rest, BagList.cmd_options + DoitCmdBase.base_options)
        return ["list", *rest]
    if command == "backup" and any(w in DRY_RUN or w[:2] == "-n" and w[2:].isdigit()
                                   for w in rest):
        return doit_args("dryrun", _dry_run(rest))
    run_options, task_args, params = [], [], commands().get(command, ("", []))[1]
    takes_value = {f"--{p['long']}" for p in params if p["type"] is not bool}
    words = iter(rest)
    for word in words:
        if word in RUN_OPTIONS:
            run_options.append(WORKERS.get(word, word))
            if RUN_OPTIONS[word]:
                run_options.append(_value(word, words))
        elif word.partition("=")[0] in WORKERS:  # --processes=4: doit's -n 4
            run_options += ["-n", word.partition("=")[2]]
        elif word.partition("=")[0] in ("--verbosity", "--process", "--parallel-type") \
                or (RUN_OPTIONS.get(word[:2]) and word[2:3] not in ("", "-")):
            # --verbosity=1, -v1, -j4: the value attached
            run_options.append(WORKERS[word[:2]] + word[2:] if word[:2] in WORKERS else word)
        elif command in POSITIONAL and not word.startswith("-"):
            task_args += [f"--{POSITIONAL[command]}", word]
        else:
            task_args.append(word)
            if word in takes_value:
                task_args.append(_value(word, words))
    if command in commands():  # `tar:NAME` and the like: doit checks those
        check_options(task_args, params, doit_options=list(RUN_OPTIONS))
    return [*run_options, command, *task_args]


DRY_RUN = ("-n", "--dry-run")
WORKERS = {"--processes": "-n", "--jobs": "-n", "-j": "-n"}  # doit's -n: workers


def _dry_run(rest: list) -> list:
    """`backup -n` is the dry run; `-n 4` was doit's number of workers, which would
    now read as a dry run and a stray word."""
    for at, word in enumerate(rest):
        workers = word[2:] if word[:2] == "-n" and word[2:].isdigit() else \
            rest[at + 1] if word in DRY_RUN and rest[at + 1:at + 2] and \
            rest[at + 1].isdigit() else None
        if workers:
            raise UsageError(f"-n is the dry run; --processes {workers} sets the number "
                             "of workers")
    return [w for w in rest if w not in DRY_RUN]


def check_options(words: list, params, doit_options=()) -> None:
    """Parse as doit will (getopt, so `--dele` is `--delete`) and say in one line what
    it would choke on: an unknown option, with the closest known one, or a value of the
    wrong type."""
    options = [CmdOption(p) for p in params]
    parser = CmdParse(options)
    try:
        found, _ = getopt.getopt(words, parser.get_short(), parser.get_long())
    except getopt.GetoptError as err:
        raise UsageError(doitfix.getopt_message(err, options, doit_options)) from None
    for flag, value in found:
        option, _ = parser.get_option(flag)
        problem = option.type is not bool and doitfix.value_error(flag, option.type, value)
        if problem:
            raise UsageError(problem)


def _value(option: str, words) -> str:
    value = next(words, None)
    if value is None:
        raise UsageError(f"{option} needs a value")
    return value


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    invoked, errors.INVOKED = errors.INVOKED, "glacier"  # messages say `glacier backup`
    config = os.environ.get("GLACIER_CONFIG")
    try:
        argv = config_option(argv)
        return run_command(argv)
    except UsageError as err:
        sys.stderr.write(f"glacier: {err}\n")
        return 3
    finally:
        errors.INVOKED = invoked
        if config is None:
            os.environ.pop("GLACIER_CONFIG", None)
        else:
            os.environ["GLACIER_CONFIG"] = config


def config_option(argv: list) -> list:
    """`--config FILE` (or `--config=FILE`), anywhere before `--`: the config file to
    use, as $GLACIER_CONFIG would name it. The rest of the line, without it."""
    rest, words, chosen = [], iter(argv), None
    for word in words:
        if word == "--config":
            chosen = _value(word, words)
        elif word.startswith("--config="):
            chosen = word.partition("=")[2]
        else:
            rest.append(word)
    if chosen is None:
        return argv
    path = Path(chosen).expanduser().absolute()
    if not path.is_file() and "init" not in rest[:1]:
        raise UsageError(f"--config {chosen}: no such file ('glacier --config {chosen} "
                         "init' writes a starter there)")
    os.environ["GLACIER_CONFIG"] = str(path)
    return rest


def run_command(argv: list) -> int:
    doitfix.install()  # `glacier tar:NAME --x`: doit's parser says it in one line too
    if argv[:1] == ["help"] and argv[1:]:  # `glacier help restore`
        if argv[1] not in commands():
            sys.stderr.write(f"glacier help: no command '{argv[1]}'; 'glacier help' "
                             "lists them\n")
            return 3
        say([command_help(argv[1])])
        return 0
    if not argv or argv[0] in ("-h", "--help", "help"):
        say([overview()])
        return 0
    if argv[0] == "--version":
        say([f"glacier-tasks {__version__} (doit {'.'.join(map(str, DOIT_VERSION))})"])
        return 0
    command, rest = argv[0], argv[1:]
    known = commands()
    if command not in known and ":" not in command and not command.startswith("_"):
        sys.stderr.write(f"glacier: no command '{command}'; 'glacier --help' lists them\n")
        return 3
    if "-h" in rest or "--help" in rest:
        say([command_help(command) if command in known else overview()])
        return 0
    try:
        args = doit_args(command, rest)
    except UsageError as err:
        sys.stderr.write(f"glacier {command}: {err}\n")
        return 3
    try:
        return GlacierMain(Loader([command, *rest]), config_filenames=()).run(args)
    except KeyboardInterrupt as stop:
        sys.stderr.write(stop_message(stop) + "\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
