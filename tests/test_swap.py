"""Installs that never swap torch (the README's first recipe), with real pip and uv caches.

A wheel of the project is built and cached under torch A; then an environment with torch B
installs the project with ``torchpins install`` (``--uv`` for uv). The installed torch must
still be B afterwards, and the project must either carry B's pins or the command must have
stopped with a message naming the fix, which, followed, gives B's pins.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.helpers import Venv, clean_env, only, run
from tests.test_frontends import _torch_wheel

SWAP_APP = """
[build-system]
requires = ["torchpins"]
build-backend = "torchpins.build_meta"

[project]
name = "swap-app"
version = "1.0"
dynamic = ["dependencies"]

[tool.torchpins]
dependencies = []
"""
TORCH_A, TORCH_B = "2.7.1+cpu", "2.8.0+cpu"


def uv_bin() -> str:
    from uv import find_uv_bin

    return str(find_uv_bin())


@pytest.fixture(scope="module")
def links(venv: Venv, torchpins_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A find-links folder: two fake torch wheels, torchpins, its needs, the project's sdist."""
    root = tmp_path_factory.mktemp("swap")
    links = root / "links"
    links.mkdir()
    shutil.copy(torchpins_wheel, links)
    for version in (TORCH_A, TORCH_B):
        _torch_wheel(venv, root, links, version, cuda=None)
    fetched = venv.run("-m", "pip", "download", "-q", "--no-deps", "-d", str(links),
                       "setuptools", "packaging", "tomli")  # fmt: skip
    assert fetched.returncode == 0, fetched.stderr
    app = root / "swap-app"
    (app / "swap_app").mkdir(parents=True)
    (app / "swap_app" / "__init__.py").write_text("")
    (app / "pyproject.toml").write_text(SWAP_APP)
    built = venv.run("-m", "build", "--no-isolation", "--sdist", "-o", str(links), str(app))
    assert built.returncode == 0, built.stderr
    return links


def environment(root: Path, torch: str, links: Path, env: dict[str, str]) -> Venv:
    """A fresh venv (with pip) holding ``torch``, torchpins and setuptools from ``links``."""
    assert run([sys.executable, "-m", "venv", str(root)]).returncode == 0
    made = Venv(root)
    installed = made.run("-m", "pip", "install", "-q", "--no-index", "-f", str(links),
                         f"torch=={torch}", "torchpins", "setuptools", env=env)  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    return made


def torch_here(venv: Venv) -> str:
    code = "import importlib.metadata as m; print(m.version('torch'))"
    return venv.run("-c", code).stdout.strip()


def swap_app_requires(venv: Venv) -> list[str]:
    code = "import importlib.metadata as m; print(m.requires('swap-app'))"
    return venv.run("-c", code).stdout.strip().strip("[]").replace("'", "").split(", ")


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_a_cached_wheel_for_another_torch_never_replaces_the_installed_torch(
    links: Path, tmp_path: Path, installer: str
) -> None:
    env = clean_env(PIP_CACHE_DIR=str(tmp_path / "pip-cache"), UV_CACHE_DIR=str(tmp_path / "uv"))
    env.pop("VIRTUAL_ENV", None)
    find = ["--no-index", "-f", str(links)]
    # 1. Built and cached under torch A, the way users install it.
    first = environment(tmp_path / "a", TORCH_A, links, env)
    if installer == "pip":
        done = first.run("-m", "pip", "install", "--no-build-isolation", *find, "swap-app", env=env)
    else:
        done = run([uv_bin(), "pip", "install", "--python", first.python, "--no-build-isolation",
                    *find, "swap-app"], env=env)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert swap_app_requires(first) == ["torch==2.7.*"]
    # 2. Another environment, torch B, the same cache: the recipe.
    second = environment(tmp_path / "b", TORCH_B, links, env)
    recipe = ["-m", "torchpins", "install", *(["--uv"] if installer == "uv" else []),
              "swap-app", *find]  # fmt: skip
    result = second.run(*recipe, env=env)
    output = result.stdout + result.stderr
    assert torch_here(second) == TORCH_B, output  # never swapped
    if result.returncode != 0:
        # stopped: the message names the fix; following it gives B's pins
        fix = "pip cache remove swap_app" if installer == "pip" else "uv cache clean swap-app"
        assert (
            f"torchpins: error: {installer} stopped rather than replace torch {TORCH_B}" in output
        )
        assert "swap-app wants torch==2.7.*" in output, output
        assert fix in output
        assert "Traceback" not in output
        if installer == "pip":
            cleaned = second.run("-m", "pip", "cache", "remove", "swap_app", env=env)
        else:
            cleaned = run([uv_bin(), "cache", "clean", "swap-app"], env=env)
        assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
        result = second.run(*recipe, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
    assert torch_here(second) == TORCH_B
    assert swap_app_requires(second) == ["torch==2.8.*"]
    record = only(second.root / "lib", "python*/site-packages/swap_app-1.0.dist-info")
    assert (record / "torchpins.json").is_file()


def test_install_without_torch_says_what_to_do(links: Path, tmp_path: Path) -> None:
    env = clean_env(PIP_CACHE_DIR=str(tmp_path / "pip-cache"))
    assert run([sys.executable, "-m", "venv", str(tmp_path / "v")]).returncode == 0
    bare = Venv(tmp_path / "v")
    got = bare.run("-m", "pip", "install", "-q", "--no-index", "-f", str(links), "torchpins",
                   env=env)  # fmt: skip
    assert got.returncode == 0, got.stderr
    result = bare.run("-m", "torchpins", "install", "swap-app", env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("torchpins: error: no torch is installed for ")
    assert "install the torch you want first" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
