"""Local version labels for CI wheel builds (local-version), installed by pip and uv from a
find-links directory; refused, with the reason, when the wheel is built from an sdist."""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import pytest
from packaging.version import Version

from tests.helpers import (
    Venv,
    assert_failed_with,
    build_with,
    clean_env,
    copy_project,
    only,
    overlay_venv,
    parse_metadata,
    run,
    wheel_metadata_text,
    wheel_record,
)
from torchpins.cli import main

TEMPLATE = "{torch-local}.torch{torch|minor|nodot}"


def labelled_kit(tmp_path: Path, template: str = TEMPLATE) -> Path:
    project = copy_project("kit", tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        .replace('unmatched = "error"', f'unmatched = "error"\nlocal-version = "{template}"')
        # one labelled wheel per torch build, right for every platform (SPEC section 8)
        .replace("markers = false", "markers = true")
    )
    return project


def test_labelled_wheels_install_from_find_links_with_pip_and_uv(
    venv: Venv, tmp_path: Path
) -> None:
    project = labelled_kit(tmp_path)
    links = tmp_path / "links"
    for torch in ("2.7.1+cu126", "2.8.0+cpu"):
        result = build_with(venv, project, links, clean_env(TORCHPINS_TORCH=torch), "--wheel")
        assert result.returncode == 0, result.stderr
    names = sorted(path.name for path in links.glob("*.whl"))
    assert names == [
        "finetune_kit-1.4.0+cpu.torch28-py3-none-any.whl",
        "finetune_kit-1.4.0+cu126.torch27-py3-none-any.whl",
    ]
    for name in names:  # the label is in METADATA too, not only in the file name
        metadata = parse_metadata(wheel_metadata_text(links / name))
        assert str(metadata.version) == name.split("-")[1]
    assert wheel_record(links / names[1])["facts"]["torch-local"] == "cu126"

    user, site = overlay_venv(venv, tmp_path / "user")
    wanted = "finetune-kit==1.4.0+cu126.torch27"
    installed = user.run(
        "-m", "pip", "install", "--no-index", "--no-deps", "--find-links", str(links), wanted
    )
    assert installed.returncode == 0, installed.stderr
    assert (
        only(site, "finetune_kit-*.dist-info").name == "finetune_kit-1.4.0+cu126.torch27.dist-info"
    )

    uv_target, uv_site = overlay_venv(venv, tmp_path / "uv-user")
    uv = run(
        [sys.executable, "-m", "uv", "pip", "install", "--python", uv_target.python, "--no-index",
         "--no-deps", "--find-links", str(links), "finetune-kit==1.4.0+cpu.torch28"],
        env=clean_env(),
    )  # fmt: skip
    assert uv.returncode == 0, uv.stderr
    assert (
        only(uv_site, "finetune_kit-*.dist-info").name == "finetune_kit-1.4.0+cpu.torch28.dist-info"
    )


def test_a_labelled_wheel_from_an_sdist_is_refused_with_the_reason(
    venv: Venv, tmp_path: Path
) -> None:
    project = labelled_kit(tmp_path)
    out = tmp_path / "out"
    result = build_with(venv, project, out, clean_env(TORCHPINS_TORCH="2.7.1+cu126"))
    assert_failed_with(
        result,
        "this is an sdist of version 1.4.0, and tool.torchpins.local-version would make its "
        "wheel 1.4.0+cu126.torch27: pip rejects a wheel whose version differs",
    )
    assert [path.name for path in out.iterdir()] == ["finetune_kit-1.4.0.tar.gz"]  # no wheel


def test_prepared_metadata_carries_the_label_too(venv: Venv, tmp_path: Path) -> None:
    project = labelled_kit(tmp_path)
    code = (
        "import os, sys, torchpins.build_meta as b; os.mkdir('m'); "
        "print(b.prepare_metadata_for_build_wheel('m'))"
    )
    result = venv.run("-c", code, env=clean_env(TORCHPINS_TORCH="2.8.0+cu128"), cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "finetune_kit-1.4.0+cu128.torch28.dist-info"


def cli_error(project: Path, *arguments: str) -> str:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        assert main(["resolve", str(project), *arguments]) == 1
    return err.getvalue()


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("", "tool.torchpins.local-version is empty"),
        ("cu128", "names no fact, so every wheel would get the same label"),
        ("{torch-locale}", "{torch-locale} names no fact (did you mean 'torch-local'?)"),
        (
            "{torch|minr}",
            "uses the filter 'minr' (did you mean 'minor'?); the filters are major, minor, "
            "release, public, part(N), add(N), nodot, upper, lower",
        ),
        ("{torch", "has an unmatched brace"),
        ("torch {torch}", "cannot make a version label"),
    ],
)
def test_bad_templates_are_refused_naming_the_key(
    tmp_path: Path, template: str, message: str
) -> None:
    err = cli_error(labelled_kit(tmp_path, template), "--set", "torch=2.8.0")
    assert err.startswith("torchpins: error: tool.torchpins.local-version")
    assert message in err


def test_a_fact_the_template_needs_that_is_absent_is_an_error(tmp_path: Path) -> None:
    project = labelled_kit(tmp_path, "cu{cuda|nodot}")
    err = cli_error(project, "--set", "torch=2.8.0+cpu")
    assert "uses {cuda|nodot}, but cuda is absent in this build" in err


def test_the_record_spells_the_label_as_the_wheel_does(venv: Venv, tmp_path: Path) -> None:
    """``{machine}`` is x86_64, which a version label spells x86.64 (PEP 440 normalises ``_``):
    the build record, METADATA and the file name all say the same label."""
    project = labelled_kit(tmp_path, "{machine}.{torch-local}")
    out = tmp_path / "out"
    env = clean_env(TORCHPINS_TORCH="2.7.1+cu126", TORCHPINS_MACHINE="x86_64")
    result = build_with(venv, project, out, env, "--wheel")
    assert result.returncode == 0, result.stderr
    wheel = only(out, "*.whl")
    assert wheel.name.startswith("finetune_kit-1.4.0+x86.64.cu126-")
    assert wheel_record(wheel)["local_version"] == "x86.64.cu126"
    assert parse_metadata(wheel_metadata_text(wheel)).version == Version("1.4.0+x86.64.cu126")
