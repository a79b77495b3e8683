"""uv as the frontend: uv build and uv pip install, without build isolation."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from tests.helpers import (
    Venv,
    build_with,
    canonical_set,
    clean_env,
    copy_project,
    dynamic_lines,
    only,
    overlay_venv,
    parse_metadata,
    requirements,
    run,
    sdist_pkg_info_text,
    wheel_metadata_text,
    wheel_record,
)


def uv(*args: str, env: dict[str, str]):  # type: ignore[no-untyped-def]
    return run([sys.executable, "-m", "uv", *args], env=env | {"UV_NO_PROGRESS": "1"})


def test_uv_build_sdist_then_wheel(
    venv: Venv, fake_torch: Callable[..., Path], tmp_path: Path
) -> None:
    project = copy_project("kit", tmp_path)
    site = fake_torch("2.7.1+cu126", cuda="12.6")
    result = uv(
        "build",
        "--no-build-isolation",
        "--python",
        venv.python,
        "-o",
        str(tmp_path / "out"),
        str(project),
        env=clean_env(PYTHONPATH=str(site)),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sdist_text = sdist_pkg_info_text(only(tmp_path / "out", "finetune_kit-1.4.0.tar.gz"))
    assert dynamic_lines(sdist_text) == ["Dynamic: Provides-Extra", "Dynamic: Requires-Dist"]
    assert "torch" not in {r.name for r in parse_metadata(sdist_text).requires_dist or []}
    wheel = only(tmp_path / "out", "*.whl")  # uv builds the wheel from the sdist
    assert canonical_set({"xformers==0.0.31", "torch==2.7.*"}) <= requirements(
        parse_metadata(wheel_metadata_text(wheel))
    )
    assert wheel_record(wheel)["matched"] == [2]


def test_uv_pip_install_sdist_without_isolation(
    venv: Venv, fake_torch: Callable[..., Path], tmp_path: Path
) -> None:
    project = copy_project("kit", tmp_path)
    site = fake_torch("2.8.0+cu128", cuda="12.8")
    built = build_with(venv, project, tmp_path / "sdist", clean_env(), "--sdist")
    assert built.returncode == 0, built.stderr
    sdist = only(tmp_path / "sdist", "*.tar.gz")

    target, target_site = overlay_venv(venv, tmp_path / "target")
    result = uv(
        "pip",
        "install",
        "--no-build-isolation",
        "--no-deps",
        "--no-cache",
        "--python",
        target.python,
        str(sdist),
        env=clean_env(PYTHONPATH=str(site)),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    info = only(target_site, "finetune_kit-1.4.0.dist-info")
    metadata = parse_metadata((info / "METADATA").read_text())
    assert canonical_set({"xformers==0.0.32.post2", "torch==2.8.*"}) <= requirements(metadata)
