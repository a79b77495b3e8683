"""The README's quick start, run as written in a new directory and a new venv.

The only change: ``git clone https://github.com/torchpins/torchpins`` copies this checkout
instead (CI has no network beyond the package registries, and the copy is what is under test).
Command 2 is what ``.ci/run`` runs (``tests/test_docs.py`` holds it to that).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import ROOT, clean_env

CLONE = "git clone https://github.com/torchpins/torchpins"


def readme_part(start: str, end: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text[text.index(start) : text.index(end)]


def shell_blocks(text: str) -> list[str]:
    return [block.split("```", 1)[0] for block in text.split("```sh\n")[1:]]


@pytest.mark.real_torch
def test_the_quick_start_works_as_written(tmp_path: Path) -> None:
    part = readme_part("<!-- quick-start: start -->", "**2. Install what the tests need")
    blocks = shell_blocks(part)
    assert len(blocks) == 2  # the clone and venv, then command 1
    assert blocks[0].startswith(CLONE + "\n")
    source = tmp_path / "source"
    skipped = (".git", ".venv", ".nox", "dist", "build", "*.egg-info", "__pycache__", ".*_cache")
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*skipped))
    script = "set -euo pipefail\n" + "".join(blocks).replace(CLONE, f"cp -r '{source}' torchpins")
    env = clean_env()
    env.pop("VIRTUAL_ENV", None)
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    shown = readme_part("<!-- quick-start-output: start -->", "<!-- quick-start-output: end -->")
    expected = shown.split("```text\n", 1)[1].split("```", 1)[0].splitlines()
    printed = result.stdout.splitlines()
    start = printed.index(expected[0])
    assert printed[start : start + len(expected)] == expected
    assert printed[-1] == "matches: yes"
    assert (tmp_path / "torchpins" / "dist" / "finetune_app-0.3.0-py3-none-any.whl").is_file()
