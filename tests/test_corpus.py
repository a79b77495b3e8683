"""A corpus of malformed configurations (tests/corpus, one pyproject.toml each, its first line
naming the key or words the message must hold) and hostile overrides: each must end in one clear
message, never a traceback, never a wheel."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import pytest

from tests.helpers import Venv, assert_failed_with, clean_env, pip_wheel
from torchpins.cli import main
from torchpins.facts import FACTS, env_var

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(CORPUS.glob("*.toml"))


def expectation(path: Path) -> str:
    first = path.read_bytes().removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0]
    text = first.decode("utf-8", "replace")
    assert text.startswith("# expect: "), path
    return text.removeprefix("# expect: ")


def resolve_in_process(directory: Path, *arguments: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(["resolve", str(directory), *arguments])
    return code, err.getvalue()


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 60


@pytest.mark.parametrize("case", CASES, ids=[path.stem for path in CASES])
def test_malformed_configuration_gets_one_clear_message(case: Path, tmp_path: Path) -> None:
    shutil.copy(case, tmp_path / "pyproject.toml")
    code, err = resolve_in_process(tmp_path, "--set", "torch=2.8.0")
    assert code == 1, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("torchpins: error: ")
    assert expectation(case) in lines[0]
    assert len(lines[0]) < 2000  # a huge value is not echoed whole


# One of each family, through a real build: one line from pip, no traceback, no wheel. (Invalid
# TOML is left out: pip parses pyproject.toml itself before any backend runs.)
BUILT = [
    "dependencies-newline", "when-unknown-fact", "pins-single-equals", "row-duplicated",
    "dependencies-huge-invalid", "extras-control-character-key", "project-static-dependencies",
    "guard-absolute-path",
]  # fmt: skip


@pytest.mark.parametrize("name", BUILT)
def test_malformed_configuration_fails_a_real_build_cleanly(
    venv: Venv, tmp_path: Path, name: str
) -> None:
    project = tmp_path / "project"
    (project / "src" / "corpus").mkdir(parents=True)
    (project / "src" / "corpus" / "__init__.py").write_text("")
    text = (CORPUS / f"{name}.toml").read_bytes()
    build_system = (
        b'[build-system]\nrequires = ["torchpins"]\nbuild-backend = "torchpins.build_meta"\n'
    )
    (project / "pyproject.toml").write_bytes(build_system + text)
    out = tmp_path / "out"
    result = pip_wheel(venv, project, out, clean_env(TORCHPINS_TORCH="2.8.0"))
    assert_failed_with(result, "torchpins: error: ", expectation(CORPUS / f"{name}.toml"))
    assert not list(out.glob("*")) if out.exists() else True


HOSTILE = ["2.8.0\nRequires-Dist: evil", "2.8.0\r", "x\x00", "\x1b[31m", "12.8\u2028", "\t\x7f"]


@pytest.mark.parametrize("fact", list(FACTS))
@pytest.mark.parametrize("value", HOSTILE, ids=["newline", "cr", "nul", "escape", "u2028", "del"])
def test_hostile_override_is_refused_naming_the_variable(
    tmp_path: Path, fact: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "h"\nversion = "1"\ndynamic = ["dependencies"]\n'
        '[tool.torchpins]\ndependencies = ["a"]\n'
    )
    code, err = resolve_in_process(tmp_path, "--set", f"{fact}={value}")
    assert code == 1
    assert err.startswith(f"torchpins: error: --set {fact}: ")
    assert len(err.strip().splitlines()) == 1
    if "\x00" not in value:  # environment variables cannot hold NUL
        monkeypatch.setenv(env_var(fact), value)
        code, err = resolve_in_process(tmp_path)
        assert code == 1
        assert err.startswith(f"torchpins: error: {env_var(fact)}: ")
        assert len(err.strip().splitlines()) == 1
