"""The install recipes the README gives, run as written: a uv project with
no-build-isolation-package, and what uv's match-runtime refuses for dynamic metadata. Everything
comes from a local find-links directory (the fake torch as a wheel; setuptools and packaging
fetched once from the registry)."""

from __future__ import annotations

import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers import Venv, clean_env, run
from tests.test_frontends import TORCH, _tiny_wheel, _torch_wheel

PINNED_APP = """
[build-system]
requires = ["torchpins"]
build-backend = "torchpins.build_meta"

[project]
name = "pinned-app"
version = "1.0"
dynamic = ["dependencies"]

[tool.torchpins]
dependencies = ["dummydep>=1"]

[tool.torchpins.torch]
pin = "none"

[[tool.torchpins.matrix]]
when = { torch = "<2.8" }
pins = { dummydep = "==1.0" }
"""


def uv(*args: str, cwd: Path) -> tuple[int, str]:
    """The uv binary itself: ``python -m uv`` would set VIRTUAL_ENV to the test environment,
    and a ``uv pip install`` without --python would then install into it."""
    from uv import find_uv_bin

    env = clean_env(UV_NO_PROGRESS="1")
    env.pop("VIRTUAL_ENV", None)
    result = run([find_uv_bin(), *args], env=env, cwd=cwd)
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="module")
def links(venv: Venv, torchpins_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("recipes")
    links = root / "links"
    links.mkdir()
    shutil.copy(torchpins_wheel, links)
    _torch_wheel(venv, root, links)
    for version in ("1.0", "2.0"):
        _tiny_wheel(venv, root, "dummydep", version, links)
    fetched = venv.run("-m", "pip", "download", "-q", "--no-deps", "-d", str(links),
                       "setuptools", "packaging", "tomli")  # fmt: skip
    assert fetched.returncode == 0, fetched.stderr
    app = root / "pinned-app"
    (app / "src" / "pinned_app").mkdir(parents=True)
    (app / "src" / "pinned_app" / "__init__.py").write_text("")
    (app / "pyproject.toml").write_text(PINNED_APP)
    built = venv.run("-m", "build", "--no-isolation", "--sdist", "-o", str(links), str(app))
    assert built.returncode == 0, built.stderr
    return links


def consumer(tmp_path: Path, links: Path, uv_table: str, dependencies: str) -> Path:
    project = tmp_path / "consumer"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [project]
            name = "consumer"
            version = "0.1"
            requires-python = ">=3.10"
            dependencies = [{dependencies}]

            [tool.uv]
            find-links = ["{links.as_posix()}"]
            no-index = true
            package = false
            """
        )
        + textwrap.dedent(uv_table)
    )
    return project


def test_uv_project_recipe_with_no_build_isolation_package(links: Path, tmp_path: Path) -> None:
    """The README's uv recipe: build requirements into the project venv first, then sync; the
    package builds in that venv and gets the pins of the torch there."""
    project = consumer(
        tmp_path,
        links,
        'no-build-isolation-package = ["pinned-app"]\n',
        f'"pinned-app", "torch=={TORCH}", "torchpins", "setuptools"',
    )
    python = sys.executable
    assert uv("venv", "-q", "--python", python, cwd=project)[0] == 0
    # (python -m uv sets VIRTUAL_ENV to the running venv, so name the target explicitly)
    venv_python = project / ".venv" / "bin" / "python"
    code, output = uv("pip", "install", "-q", "--python", str(venv_python), "--no-index",
                      "--find-links", str(links), f"torch=={TORCH}", "torchpins", "setuptools",
                      cwd=project)  # fmt: skip
    assert code == 0, output
    code, output = uv("sync", cwd=project)
    assert code == 0, output
    site = next((project / ".venv").glob("lib/python3*/site-packages"))
    assert sorted(p.name for p in site.glob("dummydep-*.dist-info")) == ["dummydep-1.0.dist-info"]
    assert (site / "pinned_app-1.0.dist-info" / "torchpins.json").is_file()


def test_uv_match_runtime_is_refused_for_dynamic_metadata(links: Path, tmp_path: Path) -> None:
    """What the README says match-runtime does not support: uv refuses it for a package whose
    metadata is dynamic, which every torchpins package's is."""
    project = consumer(
        tmp_path,
        links,
        """
        [tool.uv.extra-build-dependencies]
        pinned-app = [{ requirement = "torch", match-runtime = true }]
        """,
        f'"pinned-app", "torch=={TORCH}"',
    )
    code, output = uv("lock", "--python", sys.executable, cwd=project)
    assert code != 0
    assert "match-runtime = true" in output
    assert "does not declare static metadata" in output
