"""Every way users build: the same project, the same environment, through each real frontend,
must give the same Requires-Dist. And uv must resolve a torchpins sdist by building it."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import (
    Venv,
    canonical_set,
    clean_env,
    copy_project,
    make_fake_torch,
    only,
    overlay_venv,
    parse_metadata,
    requirements,
    run,
    wheel_metadata_text,
)

#: Run on every Python of the nox matrix (the rest runs on the oldest and newest).
pytestmark = pytest.mark.core

#: The oldest pip torchpins supports on each Python (older pips do not run on the newer ones).
OLDEST_PIP = {(3, 10): "22.3.1", (3, 11): "22.3.1", (3, 12): "23.2.1", (3, 13): "24.1"}
TORCH = "2.7.1+cu126"
EXPECTED = {
    "transformers>=4.50",
    "xformers==0.0.31",
    "bitsandbytes==0.49.1",
    "torch==2.7.*",
    'vllm==0.10.1; extra == "vllm"',
    'flash-attn==2.8.3; extra == "flash-attn"',
}


def uv(*args: str, env: dict[str, str]):  # type: ignore[no-untyped-def]
    return run([sys.executable, "-m", "uv", *args], env=env | {"UV_NO_PROGRESS": "1"})


def wheel_requires(out: Path) -> set[str]:
    return requirements(parse_metadata(wheel_metadata_text(only(out, "*.whl"))))


def installed_requires(site: Path) -> set[str]:
    info = only(site, "finetune_kit-*.dist-info")
    return requirements(parse_metadata((info / "METADATA").read_text()))


@pytest.fixture(scope="module")
def old_pip(venv: Venv, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A venv seeing the shared one's packages, with the oldest supported pip of its own."""
    user, _ = overlay_venv(venv, tmp_path_factory.mktemp("oldpip") / "venv")
    version = OLDEST_PIP[sys.version_info[:2]]
    result = user.run("-m", "pip", "install", "-q", "--ignore-installed", f"pip=={version}")
    assert result.returncode == 0, result.stderr
    assert user.run("-m", "pip", "--version").stdout.startswith(f"pip {version} ")
    return user


def _pip_wheel(python: str) -> Callable[[Path, Path, dict[str, str]], set[str]]:
    def build(project: Path, tmp: Path, env: dict[str, str]) -> set[str]:
        command = [python, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps",
                   "--no-cache-dir", "-w", str(tmp / "out"), str(project)]  # fmt: skip
        result = run(command, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        return wheel_requires(tmp / "out")

    return build


def _pip_editable(base: Venv) -> Callable[[Path, Path, dict[str, str]], set[str]]:
    def build(project: Path, tmp: Path, env: dict[str, str]) -> set[str]:
        target, site = overlay_venv(base, tmp / "target")
        command = [target.python, "-m", "pip", "install", "--no-build-isolation", "--no-deps",
                   "--no-cache-dir", "-e", str(project)]  # fmt: skip
        result = run(command, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        return installed_requires(site)

    return build


def _frontends(
    venv: Venv, old_pip: Venv, torchpins_wheel: Path
) -> dict[str, Callable[..., set[str]]]:
    def build_no_isolation(project: Path, tmp: Path, env: dict[str, str]) -> set[str]:
        result = venv.run(
            "-m", "build", "--no-isolation", "-o", str(tmp / "out"), str(project), env=env
        )
        assert result.returncode == 0, result.stderr
        return wheel_requires(tmp / "out")  # the wheel built from the sdist

    def build_isolated(project: Path, tmp: Path, env: dict[str, str]) -> set[str]:
        # A fresh environment without torch: the torch to build for is named by the override.
        isolated = {k: v for k, v in env.items() if k != "PYTHONPATH"}
        isolated |= {"TORCHPINS_TORCH": TORCH, "PIP_FIND_LINKS": str(torchpins_wheel.parent)}
        result = venv.run(
            "-m", "build", "--wheel", "-o", str(tmp / "out"), str(project), env=isolated
        )
        assert result.returncode == 0, result.stderr
        return wheel_requires(tmp / "out")

    def build_isolated_requires(project: Path, tmp: Path, env: dict[str, str]) -> set[str]:
        # A fresh environment whose torch comes from build-system.requires: a torch wheel made
        # from the fake torch, offered with torchpins' wheel on a find-links directory.
        links = tmp / "links"
        links.mkdir()
        shutil.copy(torchpins_wheel, links)
        _torch_wheel(venv, tmp, links)
        pyproject = project / "pyproject.toml"
        pyproject.write_text(
            pyproject.read_text().replace(
                'requires = ["torchpins"]', f'requires = ["torchpins", "torch=={TORCH}"]'
            )
        )
        isolated = {k: v for k, v in env.items() if k != "PYTHONPATH"}
        isolated |= {"PIP_FIND_LINKS": str(links)}
        result = venv.run(
            "-m", "build", "--wheel", "-o", str(tmp / "out"), str(project), env=isolated
        )
        assert result.returncode == 0, result.stderr
        assert "torchpins: torch 2.7.1+cu126 (probed: " in result.stdout + result.stderr
        return wheel_requires(tmp / "out")

    def uv_build(project: Path, tmp: Path, env: dict[str, str]) -> set[str]:
        result = uv("build", "--no-build-isolation", "--python", venv.python, "-o",
                    str(tmp / "out"), str(project), env=env)  # fmt: skip
        assert result.returncode == 0, result.stderr
        return wheel_requires(tmp / "out")

    def uv_install(
        editable: bool = False, only_this: bool = False
    ) -> Callable[[Path, Path, dict[str, str]], set[str]]:
        def build(project: Path, tmp: Path, env: dict[str, str]) -> set[str]:
            target, site = overlay_venv(venv, tmp / "target")
            arguments = ["-e", str(project)] if editable else [str(project)]
            # --no-build-isolation-package: only this package builds in the target environment
            isolation = (
                ["--no-build-isolation-package", "finetune-kit"]
                if only_this
                else ["--no-build-isolation"]
            )
            result = uv("pip", "install", *isolation, "--no-deps", "--no-cache",
                        "--python", target.python, *arguments, env=env)  # fmt: skip
            assert result.returncode == 0, result.stderr
            return installed_requires(site)

        return build

    return {
        "pip-newest-wheel": _pip_wheel(venv.python),
        "pip-oldest-wheel": _pip_wheel(old_pip.python),
        "pip-newest-editable": _pip_editable(venv),
        "pip-oldest-editable": _pip_editable(old_pip),
        "build-no-isolation": build_no_isolation,
        "build-isolated-override": build_isolated,
        "build-isolated-requires": build_isolated_requires,
        "uv-build": uv_build,
        "uv-pip-install": uv_install(),
        "uv-pip-install-editable": uv_install(editable=True),
        "uv-no-build-isolation-package": uv_install(only_this=True),
    }


FRONTENDS = [
    "pip-newest-wheel", "pip-oldest-wheel", "pip-newest-editable", "pip-oldest-editable",
    "build-no-isolation", "build-isolated-override", "build-isolated-requires", "uv-build",
    "uv-pip-install",
    "uv-pip-install-editable", "uv-no-build-isolation-package",
]  # fmt: skip


@pytest.mark.parametrize("frontend", FRONTENDS)
def test_every_frontend_writes_the_same_requires_dist(
    venv: Venv, old_pip: Venv, torchpins_wheel: Path, tmp_path: Path, frontend: str
) -> None:
    site = make_fake_torch(tmp_path / "torch", TORCH, cuda="12.6")
    project = copy_project("kit", tmp_path)
    build = _frontends(venv, old_pip, torchpins_wheel)[frontend]
    assert build(project, tmp_path, clean_env(PYTHONPATH=str(site))) == canonical_set(EXPECTED)


def test_old_pip_passes_config_settings(old_pip: Venv, tmp_path: Path) -> None:
    project = copy_project("kit", tmp_path)
    result = old_pip.run(
        "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--no-cache-dir",
        "--config-settings", f"torchpins.torch={TORCH}", "-w", str(tmp_path / "out"), str(project),
        env=clean_env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert wheel_requires(tmp_path / "out") == canonical_set(EXPECTED)


# --------------------------------------------------------------------------------------------
# uv resolves a torchpins sdist by building it


def _torch_wheel(
    venv: Venv, root: Path, links: Path, version: str = TORCH, cuda: str | None = "12.6"
) -> None:
    """A wheel of the fake torch (dist-info, torch/version.py, an __init__ that raises)."""
    project = root / f"fake-torch-{version}"
    make_fake_torch(project, version, cuda=cuda, dist_info=False)
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "torch"\nversion = "{version}"\n'
        '[tool.setuptools]\npackages = ["torch"]\n'
    )
    result = venv.run("-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-q", "-w",
                      str(links), str(project))  # fmt: skip
    assert result.returncode == 0, result.stderr


def _tiny_wheel(venv: Venv, root: Path, name: str, version: str, links: Path) -> None:
    project = root / f"{name}-{version}"
    (project / name).mkdir(parents=True)
    (project / name / "__init__.py").write_text(f"VERSION = {version!r}\n")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\n'
    )
    result = venv.run("-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-q", "-w",
                      str(links), str(project))  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_uv_resolves_a_torchpins_sdist_by_building_it(venv: Venv, tmp_path: Path) -> None:
    """The sdist says dummydep>=1 and marks Requires-Dist Dynamic; a build under torch 2.7
    pins dummydep==1.0. With 2.0 on offer, uv installs 1.0 only if it built the sdist for its
    metadata instead of trusting the static list."""
    links = tmp_path / "links"
    for version in ("1.0", "2.0"):
        _tiny_wheel(venv, tmp_path, "dummydep", version, links)
    project = tmp_path / "pinned-app"
    (project / "src" / "pinned_app").mkdir(parents=True)
    (project / "src" / "pinned_app" / "__init__.py").write_text("")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["torchpins"]\nbuild-backend = "torchpins.build_meta"\n'
        '[project]\nname = "pinned-app"\nversion = "1.0"\ndynamic = ["dependencies"]\n'
        '[tool.torchpins]\ndependencies = ["dummydep>=1"]\n'
        '[tool.torchpins.torch]\npin = "none"\n'
        '[[tool.torchpins.matrix]]\nwhen = { torch = "<2.8" }\npins = { dummydep = "==1.0" }\n'
    )
    result = venv.run("-m", "build", "--no-isolation", "--sdist", "-o", str(links), str(project))
    assert result.returncode == 0, result.stderr
    sdist = only(links, "pinned_app-1.0.tar.gz")
    assert sdist.exists()
    target, site = overlay_venv(venv, tmp_path / "target")
    torch_site = make_fake_torch(tmp_path / "torch", TORCH, cuda="12.6")
    result = uv(
        "pip", "install", "--no-build-isolation", "--no-index", "--no-cache", "--find-links",
        str(links), "--python", target.python, "pinned-app",
        env=clean_env(PYTHONPATH=str(torch_site)),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert only(site, "dummydep-*.dist-info").name == "dummydep-1.0.dist-info"
    shutil.rmtree(target.root)
