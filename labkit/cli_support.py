"""One style for every command line of the lab: `labkit <command>`, `labdata`, `python -m ...`.

Every parser comes from :func:`parser` and every entry point (``cmd_*``, ``main``) is wrapped by
:func:`command`::

    @command("labkit jars")
    def cmd_jars(argv: list[str]) -> int:
        args = parser("labkit jars", "The JVM artifacts the lab runs.").parse_args(argv)
        ...

What the wrapper does with what escapes the entry point:

- the lab's expected errors (:data:`EXPECTED`: a bad setting, a stack or process that will not
  start, a missing jar, a malformed question or exercise file) and :class:`CommandError` become
  ONE line ``<prog>: <message>`` on stderr and a non-zero exit code: 2 when the learner's input
  (a setting, an argument, a file) must change, 1 when something the lab drives failed;
- a closed output pipe (``labkit quiz --progress | head``) exits quietly with 141, what a shell
  reports for SIGPIPE; Ctrl+C prints one line and exits with 130;
- anything else is a bug in the lab and keeps its traceback.

Bad arguments are one line too: ``<prog>: error: <message> (see `<prog> --help`)``, exit 2.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable
from typing import Any

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 1, 2, 130, 141

# The lab's expected errors: (module, class, exit code, message prefix). Looked up in sys.modules
# when an error escapes (an exception of a class means its module is loaded), so this module
# imports none of them: no import cost for `labkit status`, no import cycle.
EXPECTED: tuple[tuple[str, str, int, str], ...] = (
    ("labkit.settings", "SettingsError", EXIT_USAGE, "bad setting: "),
    ("labkit.interview", "QuestionFormatError", EXIT_USAGE, ""),
    ("labkit.labs", "LabError", EXIT_USAGE, ""),
    ("labkit.stack.servers", "StackError", EXIT_FAILED, ""),
    ("labkit.processes", "ProcessError", EXIT_FAILED, ""),
    ("labkit.jvm", "JvmError", EXIT_FAILED, ""),
    ("labkit.runner", "NotebookError", EXIT_FAILED, ""),
)


class CommandError(Exception):
    """A problem the command found and the learner can fix: ``<prog>: <message>``, exit ``code``."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


class UsageError(CommandError):
    """The command line itself is wrong: said like argparse's own errors, ``<prog>: error: ...``."""


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, command: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.command = command or self.prog  # errors start with the top-level program's name

    def add_subparsers(self, **kwargs: Any):
        kwargs.setdefault("parser_class", functools.partial(_Parser, command=self.command))
        return super().add_subparsers(**kwargs)

    def error(self, message: str):  # argparse prints usage + message on two lines; we want one
        print(f"{self.command}: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def parser(prog: str, description: str | None = None, **kwargs: Any) -> argparse.ArgumentParser:
    """The argument parser of a command: argparse, with bad arguments reported on one line."""
    return _Parser(prog=prog, description=description, **kwargs)


def _expected(exc: BaseException) -> tuple[int, str] | None:
    """(exit code, prefix) when ``exc`` is one of the lab's expected errors, else None (a bug)."""
    if isinstance(exc, UsageError):
        return exc.code, "error: "
    if isinstance(exc, CommandError):
        return exc.code, ""
    for module, name, code, prefix in EXPECTED:
        cls = getattr(sys.modules.get(module), name, None)
        if cls is not None and isinstance(exc, cls):
            return code, prefix
    return None


def _silence_stdout() -> None:
    """stdout's reader is gone: point stdout at /dev/null so the final flush does not complain."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # stdout replaced by something without a file
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (lives until the process exits)
    finally:
        os.close(devnull)


def command(prog: str, *, interrupted: str = "") -> Callable[[Callable[..., int | None]], Callable[..., int]]:
    """Wrap an entry point of ``prog`` (see the module docstring); ``interrupted`` is added to the
    Ctrl+C line (e.g. what was left behind)."""

    def wrap(func: Callable[..., int | None]) -> Callable[..., int]:
        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> int:
            try:
                return int(func(*args, **kwargs) or 0)
            except BrokenPipeError:
                _silence_stdout()
                return EXIT_BROKEN_PIPE
            except KeyboardInterrupt:
                print(f"\n{prog}: interrupted{interrupted}", file=sys.stderr)
                return EXIT_INTERRUPTED
            except Exception as exc:
                known = _expected(exc)
                if known is None:
                    raise
                code, prefix = known
                print(f"{prog}: {prefix}{exc}", file=sys.stderr)
                return code

        return run

    return wrap
