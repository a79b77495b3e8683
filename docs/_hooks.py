"""MkDocs hooks: the pages' generated parts, from the code that enforces them.

``<!-- generated: NAME -->`` in a page is replaced when the site is built:

- ``configuration-reference``: every settings key, from the declaration in ``torchpins.schema``
  (the source of the shipped JSON schema too);
- ``cli-reference``: every command's ``--help``, from the command line's own parser;
- ``table FLAGS``: ``torchpins table examples/finetune-app FLAGS`` as a table of environments;
- ``readme SECTION``: the README's part between ``<!-- SECTION: start -->`` and its end mark (the
  quick start lives once, on the front page, and is tested there).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
_MARK = re.compile(r"<!-- generated: ([a-z-]+)(?: ([^>]*?))? -->")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return _MARK.sub(lambda match: _generate(match.group(1), match.group(2) or ""), markdown)


def _generate(name: str, arguments: str) -> str:
    if name == "configuration-reference":
        from torchpins.schema import reference_markdown

        return reference_markdown()
    if name == "cli-reference":
        return _cli_reference()
    if name == "table":
        return _table(shlex.split(arguments))
    if name == "readme":
        return _readme(arguments.strip())
    raise ValueError(f"docs: no generator called {name!r}")


def _cli_reference() -> str:
    from torchpins.cli import _parser

    parser = _parser()
    sections = [_help("torchpins", parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command, sub in action.choices.items():
                sections.append(_help(f"torchpins {command}", sub))
    return "\n".join(sections)


def _help(title: str, parser: argparse.ArgumentParser) -> str:
    text = parser.format_help().replace(parser.prog, title, 1)
    return f"### `{title}`\n\n```text\n{text.rstrip()}\n```\n"


def _table(arguments: list[str]) -> str:
    from torchpins.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["table", str(ROOT / "examples" / "finetune-app"), *arguments])
    if code != 0:
        raise RuntimeError(f"docs: torchpins table {' '.join(arguments)} exited {code}")
    return out.getvalue()


def _readme(section: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"<!-- {section}: start -->")
    end = text.index(f"<!-- {section}: end -->", start)
    return text[text.index("\n", start) + 1 : end]
