"""Every `regionkit <verb ...>` and `--flag` that regionkit or its docs tell a user about exists in the real CLI.

Where mentions are looked for: in regionkit/'s string literals (messages, hints, help, docstrings; f-strings
with their placeholders as `X`), the spans in backticks, which is how messages quote a command, and any
`regionkit -C ...` command line; in README.md and docs/*.md, every code span and every line of a code block.
Prose that merely names the tool ("regionkit reads it") is no command and is not in backticks.

A mention is followed down the command tree of `regionkit.cli.app` (typer's click) as far as its words are
commands; the first word after `regionkit` must be one, and a group may only be followed by one of its commands. The
`--flag`s after the command must be options of it. A `--flag` quoted on its own must be an option of some
command, or belong to another tool the docs show (listed below, with why).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import typer

from regionkit.cli import app

ROOT = Path(__file__).parent.parent
TREE = typer.main.get_command(app)
# Flags of other tools that messages and docs quote, each with where it comes from.
OTHER_TOOLS = {
    "--vault-password-file": "ansible-playbook's (docs/playbooks.md shows the command regionkit runs)",
    "--check": "ansible-playbook's dry run",
    "--diff": "ansible-playbook's",
    "--extra-vars": "ansible-playbook's",
    "--profile": "ansible-lint's",
    "--offline": "ansible-lint's",
    "--no-deps": "pip's",
    "--require-hashes": "pip's",
    "--no-index": "pip's",
    "--find-links": "pip's",
    "--only-binary": "pip's",
    "--dest": "pip download's",
    "--dry-run": "pip install's",
    "--strict": "sha256sum's",
    "--quiet": "sha256sum's",
}
# Quoted texts that start with the word regionkit but are no command line, each with why.
NOT_COMMANDS = {
    "regionkit reference workload": "the label of the kit's demo artifacts (artifacts.WORKLOAD_LABEL)",
}


def _options(command: Any) -> set[str]:
    return {o for p in command.params for o in (*p.opts, *p.secondary_opts)} | {"--help", "-h"}


def _all_options(command: Any) -> set[str]:
    found = _options(command)
    for sub in getattr(command, "commands", {}).values():
        found |= _all_options(sub)
    return found


def _python_texts():
    """(where, text) for every string literal of regionkit/, f-strings whole with `X` for each placeholder."""
    for path in sorted((ROOT / "regionkit").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        inside_fstrings = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                text = "".join(v.value if isinstance(v, ast.Constant) else "X" for v in node.values)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in inside_fstrings:
                text = node.value
            else:
                continue
            yield f"{path.relative_to(ROOT)}:{node.lineno}", text


def _markdown_texts():
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        for block in re.findall(r"```[^\n]*\n(.*?)```", text, re.S):
            for line in block.splitlines():
                yield f"{path.relative_to(ROOT)}", line.split(" #")[0]
        for span in re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S)):
            yield f"{path.relative_to(ROOT)}", span


def mentions() -> list[tuple[str, str]]:
    """(where, quoted text): the code the user is told about."""
    found = []
    for where, text in _python_texts():
        found += [(where, span) for span in re.findall(r"`([^`]+)`", text)]
        found += [(where, m) for m in re.findall(r"regionkit -C [^`]*", text)]
    return found + list(_markdown_texts())


def check(text: str) -> list[str]:
    """What in `text` the CLI does not have (empty when all of it exists)."""
    problems = []
    if text.strip() in NOT_COMMANDS or re.match(r"\s*(from|import) regionkit\b", text):  # not a command line
        return []
    for match in re.finditer(r"(?:^|[\s(|;&$])regionkit((?:\s+\S+)*)", text):
        words = match.group(1).split()
        command, path = TREE, ["regionkit"]
        while words and words[0] == "-C":
            words = words[2:]
        while words and hasattr(command, "commands") and re.fullmatch(r"[a-z][a-z0-9-]*", words[0]):
            if words[0] not in command.commands:
                problems.append(f"`{' '.join(path)} {words[0]}`: no such command")
                break
            command, path = command.commands[words[0]], path + [words.pop(0)]
        for word in words:
            flag = word.split("=")[0].rstrip(".,;:)")
            if flag.startswith("--") and flag not in _options(command):
                problems.append(f"`{' '.join(path)}` has no {flag}")
    if not re.search(r"(?:^|[\s(|;&$])regionkit\b", text):
        known = _all_options(TREE)
        for flag in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text):
            if flag not in known and flag not in OTHER_TOOLS:
                problems.append(f"no command has {flag}")
    return problems


def test_the_check_catches_what_does_not_exist():
    assert check("regionkit apps add --preset x") == []
    assert check("regionkit -C DIR apps add ID") == []
    assert check("regionkit catalog schema") == ["`regionkit catalog schema`: no such command"]
    assert check("regionkit status --limit web1") == ["`regionkit status` has no --limit"]
    assert check("regionkit deploy --limit web1") == []
    assert check("give --no-such-flag") == ["no command has --no-such-flag"]
    assert any("catalog" in text for _, text in mentions())


def test_every_command_and_flag_named_to_a_user_exists():
    found = mentions()
    assert len(found) > 300  # messages, help and docs quote hundreds of commands and flags
    wrong = [f"{where}: {text.strip()}: {'; '.join(problems)}" for where, text in found if (problems := check(text))]
    assert wrong == [], "\n".join(wrong)
