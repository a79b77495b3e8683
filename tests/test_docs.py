"""The documentation site builds strictly, holds the generated references, and its examples are
valid configurations."""

from __future__ import annotations

import contextlib
import html
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT
from torchpins import schema
from torchpins.cli import _parser, main

pytest.importorskip("mkdocs")  # the [docs] extra; the test extra installs it


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    return out


def text_of(site: Path, page: str) -> str:
    """A built page's text, tags dropped and entities decoded."""
    raw = (site / page / "index.html").read_text(encoding="utf-8")
    return html.unescape(re.sub(r"<[^>]+>", "", raw))


def test_the_configuration_page_lists_every_declared_key(site: Path) -> None:
    page = text_of(site, "configuration")
    for path, key in schema._walk(schema.TOOL, "tool.torchpins"):
        assert path in page, path
        assert key.help.split(".")[0] in page, path


def test_the_cli_page_has_every_command_with_its_options(site: Path) -> None:
    page = text_of(site, "cli")
    parser = _parser()
    commands = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    assert set(commands.choices) >= {"probe", "resolve", "check", "table", "inspect", "install",
                                     "init", "ci-matrix", "schema"}  # fmt: skip
    for name, sub in commands.choices.items():
        assert f"torchpins {name}" in page, name
        for action in sub._actions:
            for option in action.option_strings:
                assert option in page, (name, option)


def test_the_rendered_tables_are_what_torchpins_table_prints(site: Path) -> None:
    out = io.StringIO()
    example = str(ROOT / "examples" / "finetune-app")
    with contextlib.redirect_stdout(out):
        assert main(["table", example, "--markers"]) == 0
    header = [cell.strip() for cell in out.getvalue().splitlines()[0].strip("|").split("|")]
    page = (site / "cli" / "index.html").read_text(encoding="utf-8")
    headers = re.findall(r"<thead>(.*?)</thead>", page, re.S)
    cells = [[html.unescape(c.strip()) for c in re.findall(r"<th[^>]*>(.*?)</th>", h, re.S)]
             for h in headers]  # fmt: skip
    assert header in cells


def test_getting_started_is_the_readme_quick_start(site: Path) -> None:
    page = text_of(site, "getting-started")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme[
        readme.index("<!-- quick-start: start -->") : readme.index("<!-- quick-start: end")
    ]
    for line in block.splitlines():
        if line.startswith(("python -m", "torchpins ", "git clone")):
            assert line in page, line


def test_the_readme_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\((docs/[^)#]+)", readme)
    assert len(targets) >= 6
    for target in targets:
        assert (ROOT / target).is_file(), target


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index("**2. Install what the tests need") :]
    command = block.split("```sh\n", 1)[1].split("\n", 1)[0]
    assert command.endswith("python -m pytest")
    assert command in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def _porting_configurations() -> list[str]:
    text = (ROOT / "docs" / "porting.md").read_text(encoding="utf-8")
    return [b for b in re.findall(r"```toml\n(.*?)```", text, re.S) if "[tool.torchpins]" in b]


@pytest.mark.parametrize("body", _porting_configurations())
def test_every_porting_guide_configuration_passes_check(tmp_path: Path, body: str) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["torchpins"]\nbuild-backend = "torchpins.build_meta"\n\n'
        '[project]\nname = "ported"\nversion = "1.0"\n'
        'dynamic = ["dependencies", "optional-dependencies"]\n\n' + body
    )
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["check", str(tmp_path)])
    assert code == 0, out.getvalue() + err.getvalue()
    assert "error:" not in out.getvalue()


def test_the_porting_guide_has_its_patterns() -> None:
    assert len(_porting_configurations()) == 4


def _whole_projects() -> list[str]:
    found = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        text = page.read_text(encoding="utf-8")
        found += [b for b in re.findall(r"```toml\n(.*?)```", text, re.S) if "[build-system]" in b]
    return found


@pytest.mark.parametrize("body", _whole_projects())
def test_every_sample_project_in_the_docs_passes_check_and_resolves(
    tmp_path: Path, body: str
) -> None:
    """A sample a reader copies must lint clean and build on the quick start's torch."""
    (tmp_path / "pyproject.toml").write_text(body)
    for command in (["check"], ["resolve", "--set", "torch=2.13.0+cpu"],
                    ["resolve", "--set", "torch=2.7.1+cu126"]):  # fmt: skip
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([command[0], str(tmp_path), *command[1:]])
        assert code == 0, (command, out.getvalue() + err.getvalue())
        assert "error:" not in out.getvalue() + err.getvalue(), command


def test_the_docs_have_a_sample_project() -> None:
    assert len(_whole_projects()) >= 1
