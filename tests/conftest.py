"""Session fixtures: one venv without torch (newest setuptools) and one at the setuptools floor,
each with torchpins installed from this checkout, built once per session."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import ROOT, Venv, make_fake_torch, only, run

SETUPTOOLS_FLOOR = "75.8.0"


@pytest.fixture(scope="session")
def torchpins_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """torchpins built from this checkout (a copy, since setuptools writes into the tree)."""
    source = tmp_path_factory.mktemp("torchpins-src") / "torchpins"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "build",
            "dist",
            "*.egg-info",
            "__pycache__",
            "tests",
            "examples",
            "benchmarks",
            ".*_cache",
        ),
    )
    out = tmp_path_factory.mktemp("torchpins-wheel")
    result = run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(source),
        ]
    )
    assert result.returncode == 0, result.stderr
    return only(out, "torchpins-*.whl")


def _make_venv(root: Path, wheel: Path, setuptools: str) -> Venv:
    result = run([sys.executable, "-m", "venv", str(root)])
    assert result.returncode == 0, result.stderr
    venv = Venv(root)
    result = venv.run("-m", "pip", "install", "-q", setuptools, "packaging", "build", str(wheel))
    assert result.returncode == 0, result.stdout + result.stderr
    return venv


@pytest.fixture(scope="session")
def venv(tmp_path_factory: pytest.TempPathFactory, torchpins_wheel: Path) -> Venv:
    """No torch, the newest setuptools, the pip that ships with this Python."""
    return _make_venv(tmp_path_factory.mktemp("venv") / "newest", torchpins_wheel, "setuptools")


@pytest.fixture(scope="session")
def floor_venv(tmp_path_factory: pytest.TempPathFactory, torchpins_wheel: Path) -> Venv:
    """No torch, the oldest setuptools torchpins supports."""
    return _make_venv(
        tmp_path_factory.mktemp("venv") / "floor",
        torchpins_wheel,
        f"setuptools=={SETUPTOOLS_FLOOR}",
    )


@pytest.fixture
def fake_torch(tmp_path: Path) -> Callable[..., Path]:
    """``fake_torch("2.7.1+cu126", cuda="12.6")`` -> a directory to put on PYTHONPATH."""
    counter = iter(range(1000))

    def make(version: str, **build: object) -> Path:
        return make_fake_torch(tmp_path / f"site{next(counter)}", version, **build)  # type: ignore[arg-type]

    return make
