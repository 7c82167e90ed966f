"""labkit.cli_support: one line per expected error, quiet on a closed pipe and Ctrl+C, bugs keep tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from labkit.cli_support import CommandError, UsageError, command, parser
from labkit.jvm import JvmError
from labkit.settings import SettingsError, load_settings


def _run(exc: BaseException) -> int:
    @command("labkit demo")
    def cmd(argv: list[str]) -> int:
        raise exc

    return cmd([])


@pytest.mark.parametrize(
    "exc, code, line",
    [
        (CommandError("no such thing"), 2, "labkit demo: no such thing"),
        (CommandError("it failed", 1), 1, "labkit demo: it failed"),
        (UsageError("--x 3: use 1 or 2"), 2, "labkit demo: error: --x 3: use 1 or 2"),
        (SettingsError("LAB_X='y' is bad"), 2, "labkit demo: bad setting: LAB_X='y' is bad"),
        (JvmError("jar missing"), 1, "labkit demo: jar missing"),
    ],
)
def test_expected_errors_are_one_line(capsys, exc, code, line):
    assert _run(exc) == code
    assert capsys.readouterr().err.strip() == line


def test_a_bad_knob_value_is_a_settings_error():
    with pytest.raises(SettingsError, match="LAB_PORT_OFFSET"):
        load_settings({"LAB_PORT_OFFSET": "lots"})


def test_a_bug_keeps_its_traceback():
    with pytest.raises(ZeroDivisionError):
        _run(ZeroDivisionError("division by zero"))
    with pytest.raises(ValueError):  # a plain ValueError is not a lab error
        _run(ValueError("oops"))


def test_ctrl_c_is_130(capsys):
    assert _run(KeyboardInterrupt()) == 130
    assert capsys.readouterr().err.strip() == "labkit demo: interrupted"


def test_bad_arguments_are_one_line_naming_the_top_program(capsys):
    p = parser("labdemo", "demo")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("go").add_argument("--n", type=int)
    with pytest.raises(SystemExit) as done:
        p.parse_args(["go", "--n", "x"])
    assert done.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("labdemo: error: argument --n") and "labdemo go --help" in err[0]


def test_a_closed_pipe_exits_141_without_a_traceback(tmp_path):
    code = (
        "from labkit.cli_support import command\n"
        "@command('demo')\n"
        "def main():\n"
        "    for i in range(200000):\n"
        "        print('line', i)\n"
        "raise SystemExit(main())\n"
    )
    env = {**os.environ, "LAB_HOME": str(tmp_path)}
    producer = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    producer.stdout.readline()
    producer.stdout.close()  # the reader goes away, as `| head -1` does
    err = producer.stderr.read().decode()
    producer.stderr.close()
    assert producer.wait(timeout=30) == 141, err
    assert err == ""
