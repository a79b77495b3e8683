"""``torchpins init``: real-shaped setuptools projects converted in place, then built for real."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import pytest

from tests.helpers import (
    Venv,
    clean_env,
    only,
    parse_metadata,
    pip_wheel,
    requirements,
    wheel_metadata_text,
)
from torchpins.cli import main

pytest.importorskip("tomlkit")  # the [init] extra; the test extra installs it

#: An axolotl-shaped project: many pins, extras, comments, a src layout.
FINETUNER = """\
# A fine-tuning toolkit, packaged with plain setuptools.
[build-system]
requires = ["setuptools>=77", "wheel"]  # what builds it
build-backend = "setuptools.build_meta"

[project]
name = "finetuner"
version = "0.9.1"
description = "Fine-tune models"
requires-python = ">=3.10"
dependencies = [
    "transformers>=4.50",  # keep in step with peft
    "peft>=0.15",
    "bitsandbytes==0.49.1",
]

[project.optional-dependencies]
deepspeed = ["deepspeed==0.17.5"]
vllm = ["vllm>=0.10"]

[tool.setuptools.packages.find]
where = ["src"]

[tool.ruff]
line-length = 100
"""

#: No [build-system] at all (pip then assumes setuptools), no extras.
BARE = """\
[project]
name = "bare-tool"
version = "1.0"
dependencies = ["numpy>=1.26"]

[tool.setuptools]
packages = ["bare_tool"]
"""

#: Requirements computed in setup.py, as flash-attention and DeepSpeed do.
COMPUTED_PYPROJECT = """\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "kernels"
version = "2.0"
dependencies = ["einops"]

[tool.setuptools]
packages = ["kernels"]
"""
COMPUTED_SETUP = """\
from setuptools import setup

import os

def torch_requirement():
    return "torch==" + os.environ.get("TORCH_VERSION", "2.8") + ".*"

setup(install_requires=[torch_requirement(), "ninja"])
"""


def cli(*args: str, torch: str | None = "2.8.0+cu128") -> tuple[int, str, str]:
    """The real command line, in process, with the installed torch named by TORCHPINS_TORCH
    (empty: none installed)."""
    out, err = io.StringIO(), io.StringIO()
    saved = os.environ.get("TORCHPINS_TORCH")
    os.environ["TORCHPINS_TORCH"] = torch or ""
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        if saved is None:
            del os.environ["TORCHPINS_TORCH"]
        else:
            os.environ["TORCHPINS_TORCH"] = saved
    return code, out.getvalue(), err.getvalue()


def project(tmp_path: Path, text: str, package: str, layout: str = "") -> Path:
    directory = tmp_path / package
    source = directory / layout / package.replace("-", "_")
    source.mkdir(parents=True)
    (source / "__init__.py").write_text("")
    (directory / "pyproject.toml").write_text(text)
    return directory


def built_requirements(venv: Venv, directory: Path, out: Path, torch: str) -> set[str]:
    result = pip_wheel(venv, directory, out, clean_env(TORCHPINS_TORCH=torch))
    assert result.returncode == 0, result.stderr
    return requirements(parse_metadata(wheel_metadata_text(only(out, "*.whl"))))


def test_a_finetuner_is_converted_keeping_its_comments_and_builds(
    venv: Venv, tmp_path: Path
) -> None:
    directory = project(tmp_path, FINETUNER, "finetuner", "src")
    code, out, err = cli("init", str(directory))
    assert code == 0, err
    assert "moved project.dependencies (3) into tool.torchpins.dependencies" in out
    text = (directory / "pyproject.toml").read_text()
    # comments and unrelated tables survive, in place
    assert text.startswith("# A fine-tuning toolkit, packaged with plain setuptools.\n")
    assert '"transformers>=4.50",  # keep in step with peft' in text
    assert 'requires = ["setuptools>=77", "wheel", "torchpins"]  # what builds it' in text
    assert "[tool.ruff]\nline-length = 100" in text
    assert 'dynamic = ["dependencies", "optional-dependencies"]' in text
    assert 'build-backend = "torchpins.build_meta"' in text
    assert "where torch 2.8.0+cu128 is installed" in text
    code, out, err = cli("check", str(directory))
    assert code == 0, out + err
    assert "no problems found" in err
    got = built_requirements(venv, directory, tmp_path / "out", "2.8.0+cu128")
    assert got == {
        "transformers>=4.50", "peft>=0.15", "bitsandbytes==0.49.1", "torch==2.8.*",
        'deepspeed==0.17.5; extra == "deepspeed"', 'vllm>=0.10; extra == "vllm"',
    }  # fmt: skip
    # the starter row: an older torch is refused with the row's message
    failed = pip_wheel(venv, directory, tmp_path / "old", clean_env(TORCHPINS_TORCH="2.7.1"))
    assert failed.returncode != 0
    assert "finetuner is tested with torch 2.8 and newer" in failed.stdout + failed.stderr


def test_a_project_without_build_system_gets_one(venv: Venv, tmp_path: Path) -> None:
    directory = project(tmp_path, BARE, "bare-tool")
    code, _, err = cli("init", str(directory))
    assert code == 0, err
    text = (directory / "pyproject.toml").read_text()
    assert '[build-system]\nrequires = ["torchpins", "setuptools>=77"]' in text
    assert built_requirements(venv, directory, tmp_path / "out", "2.8.0+cpu") == {
        "numpy>=1.26",
        "torch==2.8.*",
    }


def test_requirements_computed_in_setup_py_are_named_as_left_to_do(tmp_path: Path) -> None:
    directory = project(tmp_path, COMPUTED_PYPROJECT, "kernels")
    (directory / "setup.py").write_text(COMPUTED_SETUP)
    code, out, err = cli("init", str(directory))
    assert code == 0, err
    assert err.strip() == (
        "torchpins init: left for you: setup.py passes install_requires=..., which torchpins "
        "init cannot move (it is computed in code) and a torchpins build refuses: write what it "
        "computes as tool.torchpins.dependencies plus matrix rows (the porting guide shows the "
        "usual patterns), then delete the argument from setup.py"
    )
    code, out, _ = cli("check", str(directory))
    assert code == 1
    assert "setup.py: passes install_requires=..." in out


def test_dry_run_shows_a_diff_and_writes_nothing(tmp_path: Path) -> None:
    directory = project(tmp_path, FINETUNER, "finetuner", "src")
    code, out, err = cli("init", "--dry-run", str(directory))
    assert code == 0, err
    assert (directory / "pyproject.toml").read_text() == FINETUNER
    assert out.startswith(f"--- {directory / 'pyproject.toml'} (now)\n+++ ")
    assert '\n-build-backend = "setuptools.build_meta"\n' in out
    assert '\n+build-backend = "torchpins.build_meta"\n' in out
    assert "+[tool.torchpins]\n" in out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (FINETUNER.replace("setuptools.build_meta", "hatchling.build"),
         "build-backend is 'hatchling.build'; torchpins wraps setuptools"),
        (FINETUNER + '\n[tool.torchpins]\ndependencies = ["a"]\n',
         "already uses torchpins ([tool.torchpins] or build-backend"),
        (FINETUNER.replace('dependencies = [\n    "transformers>=4.50",  # keep in step with peft\n'
                           '    "peft>=0.15",\n    "bitsandbytes==0.49.1",\n]\n',
                           'dynamic = ["dependencies"]\n')
         + '[tool.setuptools.dynamic]\ndependencies = { file = ["requirements.txt"] }\n',
         "project.dynamic lists 'dependencies', so they come from "
         "tool.setuptools.dynamic.dependencies"),
        ("[tool.black]\nline-length = 100\n", "there is no [project] table with a name"),
    ],
    ids=["other-backend", "already-torchpins", "dependencies-from-a-file", "no-project"],
)  # fmt: skip
def test_what_init_refuses_leaves_the_file_as_it_was(
    tmp_path: Path, text: str, message: str
) -> None:
    directory = project(tmp_path, text, "finetuner", "src")
    code, _, err = cli("init", str(directory))
    assert code == 1
    assert message in err
    assert err.startswith("torchpins: error: ")
    assert len(err.strip().splitlines()) == 1
    assert (directory / "pyproject.toml").read_text() == text


def test_no_pyproject_and_no_torch(tmp_path: Path) -> None:
    code, _, err = cli("init", str(tmp_path))
    assert code == 1
    assert "there is no pyproject.toml to convert" in err
    directory = project(tmp_path, BARE, "bare-tool")
    code, out, err = cli("init", str(directory), torch=None)
    assert code == 0, err
    text = (directory / "pyproject.toml").read_text()
    assert "# No torch is installed here, so no starter row was written." in text
    assert "[[tool.torchpins.matrix]]\n" not in text.replace("# [[tool.torchpins.matrix]]", "")
    assert "no torch is installed here: no starter matrix row" in out


def test_init_keeps_every_other_line_in_order(tmp_path: Path) -> None:
    """init touches only what it moves: every line of the original outside the moved tables
    is still there, in order."""
    directory = project(tmp_path, FINETUNER, "finetuner", "src")
    assert cli("init", str(directory))[0] == 0
    after = (directory / "pyproject.toml").read_text().splitlines()
    starts = ("#", "name", "version", "description", "requires-python", "[tool.ruff]", "where")
    kept = [line for line in FINETUNER.splitlines() if line.startswith(starts)]
    positions = [after.index(line) for line in kept]
    assert positions == sorted(positions)
