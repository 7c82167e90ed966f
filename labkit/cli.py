"""The `labkit` command: one entry point, each subcommand implemented in its own module.

Each subcommand is ``name -> ("module:function", "help")``; the function takes the argument list
after the subcommand (``list[str]``), parses it with :func:`labkit.cli_support.parser`, is wrapped
by :func:`labkit.cli_support.command` (one-line errors, quiet on a closed pipe and Ctrl+C) and
returns an exit code. Modules are imported lazily so that `labkit status` does not pay for
importing Spark or Feast.
"""

from __future__ import annotations

import importlib
import sys

from labkit.cli_support import UsageError, command

COMMANDS: dict[str, tuple[str, str]] = {
    "up": (
        "labkit.stack_cli:cmd_up",
        "start the stack (docker compose if a Docker engine answers, else embedded servers)",
    ),
    "down": ("labkit.stack_cli:cmd_down", "stop the stack; data is kept"),
    "status": ("labkit.stack_cli:cmd_status", "what runs where, and whether each service answers its protocol"),
    "doctor": ("labkit.stack_cli:cmd_doctor", "check Java, ports, binaries and versions; print a fix for each problem"),
    "reset": ("labkit.stack_cli:cmd_reset", "stop the stack and wipe lab data (installs are kept)"),
    "jupyter": ("labkit.stack_cli:cmd_jupyter", "start JupyterLab on the lab's port and print its URL"),
    "env": ("labkit.stack_cli:cmd_env", "print the settings in use (secrets masked)"),
    "jars": ("labkit.jvm:cmd_jars", "install, check or re-lock the JVM artifacts (Kafka) from jvm/*.lock"),
    "labs": ("labkit.labs:cmd_labs", "regenerate labs/ from solutions/"),
    "run-notebooks": ("labkit.runner:cmd_run_notebooks", "execute notebooks with papermill at a given scale"),
    "bench": ("labkit.bench:cmd_bench", "run the benchmarks and write the report"),
    "quiz": (
        "labkit.interview:cmd_quiz",
        "interview practice: due questions, typed or --partner answers, scored 0-4 by rubric; --progress",
    ),
    "preflight": (
        "labkit.preflight:cmd_preflight",
        "workshop smoke test: doctor's checks, the stack answers, notebook 00 and exercise 00a run",
    ),
}


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: labkit <command> [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run `labkit <command> --help` for a command's options."]
    return "\n".join(lines)


@command("labkit")
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        raise UsageError(f"unknown command {name!r}; choose from {', '.join(COMMANDS)} (see `labkit --help`)")
    target, _ = COMMANDS[name]
    module_name, func_name = target.split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    return func(rest)


if __name__ == "__main__":
    sys.exit(main())
