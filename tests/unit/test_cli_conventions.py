"""What users of comparable tools expect of the command line: --version, --debug,
examples in every --help, COLUMNS honoured, and the course's words (never "seeds")."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from clirun import handlers_kept

from labctl import __version__
from labctl.cli import entry as cli

ROOT = Path(__file__).resolve().parents[2]


def _commands(group, prefix: str = ""):
    """(path, command) of every leaf command (the root's are loaded as they run)."""
    ctx = group.make_context("labctl", [], resilient_parsing=True)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if hasattr(command, "commands"):
            yield from _commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", command


def _help(path: str) -> str:
    result = subprocess.run([sys.executable, "-m", "labctl.cli", *path.split(), "--help"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60,
                            env={**os.environ, "COLUMNS": "100"})
    assert result.returncode == 0, result.stderr
    return result.stdout


def _command_help(command, path: str) -> str:
    return command.get_help(command.context_class(command, info_name=f"labctl {path}"))


def test_every_command_has_examples_in_its_help():
    commands = dict(_commands(cli.labctl))
    assert {"up", "down", "status", "check", "images build", "token add"} <= set(commands)
    for path, command in commands.items():
        text = _command_help(command, path)
        assert "Examples:" in text, path
        examples = text.split("Examples:")[1]
        assert f"labctl {path}" in examples, path  # an example of this very command


def test_examples_are_printed_as_lines():
    text = _help("up")
    assert "\n    labctl up handshake-lab\n    labctl up ./labs/udp-lab -i pair2" in text


def _user_facing_texts() -> dict[str, str]:
    from labctl.lab import schema
    texts = {f"labctl {path} --help": _command_help(command, path)
             for path, command in _commands(cli.labctl)}
    texts["labctl --help"] = _help("")
    texts["labctl schema"] = schema.schema_text()
    # The node's services and clients print their docstrings (--help) and their lines.
    for pattern in ("README.md", "docs/*.md", "labs/*/*.md", "labs/*/*.yaml",
                    "labctl/lab/templates/**/*", "labctl/node/**/*.py", "labctl/lab/model.py",
                    "labctl/lab/model_parts.py"):
        for path in ROOT.glob(pattern):
            if path.is_file():
                texts[str(path.relative_to(ROOT))] = path.read_text()
    return texts


def test_no_user_facing_text_says_seeds():
    said = [name for name, text in _user_facing_texts().items() if "seed" in text.lower()]
    assert said == []


# Words that describe the state of the work, not the product: a user reads them as promises.
STATUS_PHRASES = re.compile(r"(?i:\bthis round\b|\bnot yet\b|\bfor now\b|\bin a later\b|"
                            r"\bcoming soon\b|\bthe next step\b|\bnot implemented\b)"
                            r"|\bTODO\b|\bFIXME\b")


def test_no_user_facing_text_describes_the_state_of_the_work():
    said = {name: match.group(0) for name, text in _user_facing_texts().items()
            if (match := STATUS_PHRASES.search(text)) is not None}
    assert said == {}


def test_the_status_phrases_are_caught():
    for text in ("This round the server is in place", "Not yet: use curl", "For now, use curl",
                 "in a later release", "TODO: fix", "Coming soon", "that is the next step"):
        assert STATUS_PHRASES.search(text), text
    for text in ("running; not checked yet", "a todo list", "the round-trip time"):
        assert not STATUS_PHRASES.search(text), text


def test_version():
    result = subprocess.run([sys.executable, "-m", "labctl.cli", "--version"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0 and result.stdout == f"labctl {__version__}\n"


def test_completion_is_switched_on():
    text = _help("")
    assert "--install-completion" in text and "--show-completion" in text


@pytest.mark.parametrize(("columns", "width"), [("57", 57), (None, 80)])
def test_width_follows_columns_also_in_pipes(columns, width):
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    if columns:
        env["COLUMNS"] = columns
    result = subprocess.run([sys.executable, "-c",
                             "from labctl import console; print(console.out.width)"],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert result.stdout.strip() == str(width)  # a pipe: never a forced 200


def _main(monkeypatch, *argv: str) -> int:
    monkeypatch.setattr(sys, "argv", ["labctl", *argv])
    with handlers_kept(), pytest.raises(SystemExit) as exit_:
        cli.main()
    return exit_.value.code


def test_debug_shows_the_traceback_of_an_unexpected_error(monkeypatch, capsys):
    def broken():
        raise ValueError("boom")
    monkeypatch.delenv("LABCTL_DEBUG", raising=False)
    monkeypatch.setattr("labctl.runtime.connect", broken)
    assert _main(monkeypatch, "status") == 3
    assert "internal error: ValueError: boom (run with --debug" in capsys.readouterr().err
    with pytest.raises(ValueError, match="boom"):
        _main(monkeypatch, "--debug", "status")
    assert _main(monkeypatch, "status") == 3  # --debug does not stick to the next run
