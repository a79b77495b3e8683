"""Shared helpers for the tests: fake torch distributions, real builds, metadata reading."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.metadata import Metadata
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
PROJECTS = Path(__file__).resolve().parent / "projects"


def make_fake_torch(
    directory: Path,
    version: str,
    *,
    cuda: str | None = None,
    hip: str | None = None,
    xpu: str | None = None,
    dist_info: bool = True,
    version_py: bool = True,
    cxx11abi: bool | None = None,
    init: str | None = None,
) -> Path:
    """A torch distribution that only looks installed: a ``torch-X.dist-info`` plus a
    ``torch/version.py``. Its ``__init__`` raises, so a build that imports torch fails, unless
    ``init`` gives other code. ``cxx11abi`` writes the flag into ``TorchConfig.cmake``, as torch
    releases before 2.10 did."""
    directory.mkdir(parents=True, exist_ok=True)
    package = directory / "torch"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text(
        init or 'raise ImportError("fake torch: torchpins must never import torch")\n'
    )
    if cxx11abi is not None:
        cmake = package / "share" / "cmake" / "Torch"
        cmake.mkdir(parents=True, exist_ok=True)
        (cmake / "TorchConfig.cmake").write_text(
            "# the flag as torch 2.6 wrote it\n"
            f'set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI={int(cxx11abi)}")\n'
        )
    if version_py:
        (package / "version.py").write_text(
            "from typing import Optional\n\n"
            "__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip', 'xpu']\n"
            f"__version__ = {version!r}\n"
            "debug = False\n"
            f"cuda: Optional[str] = {cuda!r}\n"
            "git_version = '0000000000000000000000000000000000000000'\n"
            f"hip: Optional[str] = {hip!r}\n"
            f"xpu: Optional[str] = {xpu!r}\n"
        )
    if dist_info:
        info = directory / f"torch-{version}.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: torch\nVersion: {version}\n")
        (info / "RECORD").write_text("")
    return directory


@dataclass
class Venv:
    """A virtual environment the tests build in."""

    root: Path

    @property
    def python(self) -> str:
        bindir = "Scripts" if os.name == "nt" else "bin"
        return str(self.root / bindir / ("python.exe" if os.name == "nt" else "python"))

    def run(
        self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run([self.python, *args], env=env, cwd=cwd)


def overlay_venv(base: Venv, root: Path) -> tuple[Venv, Path]:
    """A throwaway venv that sees ``base``'s packages through a ``.pth`` file, so installing into
    it leaves the shared venv as it was. Returns the venv and its site-packages."""
    assert run([base.python, "-m", "venv", "--without-pip", str(root)]).returncode == 0
    shared = base.run("-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    base_site = Path(shared.stdout.strip())
    site = only(root / "lib", "python*/site-packages")
    # The base's own site, and what its _shared.pth adds when the base is an overlay too (a
    # directory a .pth adds is not scanned for .pth files itself).
    paths = [str(base_site)]
    chained = base_site / "_shared.pth"
    if chained.exists():
        paths += chained.read_text().split()
    (site / "_shared.pth").write_text("\n".join(paths) + "\n")
    return Venv(root), site


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a build: this one without torchpins overrides or PYTHONPATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TORCHPINS_") and k not in ("PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")
    }
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra)
    return env


def run(
    cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd,
        env=env if env is not None else clean_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def copy_project(name: str, destination: Path) -> Path:
    """A fresh copy of ``tests/projects/<name>`` (setuptools writes into the source tree)."""
    target = destination / name
    shutil.copytree(PROJECTS / name, target)
    return target


def pip_wheel(
    venv: Venv | None,
    project: Path,
    out: Path,
    env: dict[str, str] | None = None,
    *extra: str,
) -> subprocess.CompletedProcess[str]:
    python = venv.python if venv else sys.executable
    return run(
        [
            python,
            "-m",
            "pip",
            "wheel",
            "--no-build-isolation",
            "--no-deps",
            "--no-cache-dir",
            "-w",
            str(out),
            *extra,
            str(project),
        ],
        env=env,
    )


def build_with(
    venv: Venv, project: Path, out: Path, env: dict[str, str] | None = None, *extra: str
) -> subprocess.CompletedProcess[str]:
    """``python -m build --no-isolation`` (sdist, then a wheel from it, unless ``extra`` says)."""
    return venv.run("-m", "build", "--no-isolation", "-o", str(out), *extra, str(project), env=env)


def assert_failed_with(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """The build or command failed, saying each fragment, with no traceback."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for fragment in fragments:
        assert fragment in output, output
    assert_no_traceback(output)


def only(directory: Path, pattern: str) -> Path:
    found = sorted(directory.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {directory}, found {found}"
    return found[0]


def wheel_metadata_text(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return archive.read(name).decode("utf-8")


def wheel_record(wheel: Path) -> dict[str, Any]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/torchpins.json"))
        return json.loads(archive.read(name))


def sdist_pkg_info_text(sdist: Path) -> str:
    with tarfile.open(sdist) as archive:
        member = next(
            m
            for m in archive.getmembers()
            if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")
        )
        extracted = archive.extractfile(member)
        assert extracted is not None
        return extracted.read().decode("utf-8")


def parse_metadata(text: str) -> Metadata:
    """Parse and validate core metadata with packaging, as the contract requires."""
    return Metadata.from_email(text, validate=True)


def requirements(metadata: Metadata) -> set[str]:
    """``Requires-Dist`` as canonical strings, for comparison with expectations."""
    return {canonical(str(r)) for r in metadata.requires_dist or []}


def canonical(requirement: str) -> str:
    return str(Requirement(requirement))


def canonical_set(lines: list[str] | set[str]) -> set[str]:
    return {canonical(line) for line in lines}


def dynamic_lines(text: str) -> list[str]:
    """The raw ``Dynamic:`` header lines, spelled as written."""
    header = text.split("\n\n", 1)[0]
    return [line for line in header.splitlines() if line.startswith("Dynamic:")]


def assert_no_traceback(output: str) -> None:
    assert "Traceback (most recent call last)" not in output, output


def in_process(*args: str) -> tuple[int, str, str]:
    """The real command line, in this process (for tests that call it many times): exit code,
    stdout and stderr."""
    import contextlib
    import io

    from torchpins.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()
