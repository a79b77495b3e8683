"""Session fixtures: one venv without torch (newest setuptools) and one at the setuptools floor,
each with torchpins installed from this checkout, built once per session."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import ROOT, Venv, clean_env, make_fake_torch, only, run

STAND_INS = Path(__file__).parent / "stand-ins"

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
    # The newest pip (the oldest supported one is tested in test_frontends).
    result = venv.run("-m", "pip", "install", "-q", "-U", "pip")
    assert result.returncode == 0, result.stdout + result.stderr
    result = venv.run("-m", "pip", "install", "-q", setuptools, "packaging", "build", str(wheel))
    assert result.returncode == 0, result.stdout + result.stderr
    return venv


#: The setuptools the main build venv gets: the newest, unless the nox matrix names one.
SETUPTOOLS_UNDER_TEST = os.environ.get("SETUPTOOLS_UNDER_TEST", "setuptools")


@pytest.fixture(scope="session")
def venv(tmp_path_factory: pytest.TempPathFactory, torchpins_wheel: Path) -> Venv:
    """No torch, the newest setuptools (or SETUPTOOLS_UNDER_TEST), the pip of this Python."""
    return _make_venv(
        tmp_path_factory.mktemp("venv") / "newest", torchpins_wheel, SETUPTOOLS_UNDER_TEST
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests of the real torch skip, saying why, where it is not installed (the nox matrix on
    Pythons for which this machine has no torch wheel)."""
    import importlib.util

    if importlib.util.find_spec("torch") is not None:
        return
    skip = pytest.mark.skip(reason="needs the real torch (pip install torch==2.13.0)")
    for item in items:
        if "real_torch" in item.keywords:
            item.add_marker(skip)


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


@dataclass(frozen=True)
class GpuStandIns:
    """Real stand-ins for an NVIDIA machine (see tests/stand-ins): NVML and libcuda compiled with
    gcc, loaded by torchpins through the system loader (``LD_LIBRARY_PATH``), and executable
    ``nvcc`` and ``nvidia-smi`` scripts, each in a folder of its own to put on ``PATH``."""

    nvml: Path  # holds libnvidia-ml.so.1
    libcuda: Path  # holds libcuda.so.1
    nvcc: Path  # holds nvcc
    smi: Path  # holds nvidia-smi

    def env(
        self,
        *,
        nvml: bool = False,
        libcuda: bool = False,
        nvcc: bool = False,
        smi: bool = False,
        **extra: str,
    ) -> dict[str, str]:
        """A clean environment that sees only the stand-ins asked for. PATH keeps /usr/bin and
        /bin (the shell the scripts need) but not /usr/local/bin, where a real nvcc may live."""
        libraries = [str(p) for p, on in ((self.nvml, nvml), (self.libcuda, libcuda)) if on]
        binaries = [str(p) for p, on in ((self.nvcc, nvcc), (self.smi, smi)) if on]
        env = clean_env(**extra)
        for variable in ("CUDA_HOME", "CUDA_PATH", "CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH"):
            env.pop(variable, None)
        for variable in list(env):
            if variable.startswith(("CONDA_OVERRIDE_", "FAKE_")):
                del env[variable]
        env["PATH"] = os.pathsep.join(
            [*binaries, str(Path(sys.executable).parent), "/usr/bin", "/bin"]
        )
        if libraries:
            env["LD_LIBRARY_PATH"] = os.pathsep.join(libraries)
        env.update(extra)
        return env


@pytest.fixture(scope="session")
def gpu(tmp_path_factory: pytest.TempPathFactory) -> GpuStandIns:
    if sys.platform != "linux":
        pytest.skip("the NVML stand-in is an ELF shared library")
    compiler = shutil.which("gcc") or shutil.which("cc")
    assert compiler, "the GPU stand-ins need gcc (apt-get install gcc)"
    root = tmp_path_factory.mktemp("gpu")
    folders = {name: root / name for name in ("nvml", "libcuda", "nvcc", "smi")}
    for folder in folders.values():
        folder.mkdir()
    for source, target in (
        ("fake_nvml.c", folders["nvml"] / "libnvidia-ml.so.1"),
        ("fake_libcuda.c", folders["libcuda"] / "libcuda.so.1"),
    ):
        result = run(
            [compiler, "-shared", "-fPIC", "-O1", "-o", str(target), str(STAND_INS / source)]
        )
        assert result.returncode == 0, result.stderr
    for script, folder in (("nvcc", "nvcc"), ("nvidia-smi", "smi")):
        target = folders[folder] / script
        shutil.copy(STAND_INS / script, target)
        target.chmod(0o755)
    return GpuStandIns(**folders)
