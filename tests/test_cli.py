"""The command line, run as a user runs it: exit codes, messages, and agreement with builds."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import (
    PROJECTS,
    ROOT,
    Venv,
    assert_no_traceback,
    clean_env,
    copy_project,
    only,
    pip_wheel,
    run,
    wheel_record,
)

#: Run on every Python of the nox matrix (the rest runs on the oldest and newest).
pytestmark = pytest.mark.core


def torchpins(venv: Venv, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return venv.run("-m", "torchpins", *args, env=env)


def test_probe_table_and_json_under_a_fake_cuda_torch(
    venv: Venv, fake_torch: Callable[..., Path]
) -> None:
    site = fake_torch("2.7.1+cu126", cuda="12.6")
    env = clean_env(PYTHONPATH=str(site))
    table = torchpins(venv, "probe", env=env)
    assert table.returncode == 0, table.stderr
    lines = {line.split()[0]: line.split()[1] for line in table.stdout.splitlines()[1:10]}
    assert lines["torch"] == "2.7.1"
    assert lines["torch-local"] == "cu126"
    assert lines["cuda"] == "12.6"
    assert lines["accelerator"] == "cuda"
    assert str(site / "torch-2.7.1+cu126.dist-info") in table.stdout

    document = json.loads(torchpins(venv, "probe", "--json", env=env).stdout)
    assert document["cuda"] == {
        "value": "12.6",
        "source": "probed",
        "detail": str(site / "torch" / "version.py"),
        "problem": None,
    }
    assert document["rocm"]["value"] is None


def test_probe_shows_overrides_and_their_variable(venv: Venv) -> None:
    env = clean_env(TORCHPINS_TORCH="2.8.0+cu128", TORCHPINS_PLATFORM="darwin")
    document = json.loads(torchpins(venv, "probe", "--json", env=env).stdout)
    assert document["torch"] == {
        "value": "2.8.0",
        "source": "override",
        "detail": "TORCHPINS_TORCH",
        "problem": None,
    }
    assert document["cuda"]["value"] == "12.8"
    assert document["cuda"]["source"] == "assumed"
    assert document["platform"] == {
        "value": "darwin",
        "source": "override",
        "detail": "TORCHPINS_PLATFORM",
        "problem": None,
    }


def test_probe_without_torch_exits_0(venv: Venv) -> None:
    result = torchpins(venv, "probe", env=clean_env())
    assert result.returncode == 0
    assert "no torch distribution on the path" in result.stdout


@pytest.mark.real_torch
def test_probe_real_cpu_torch() -> None:
    result = run([sys.executable, "-m", "torchpins", "probe", "--json"])
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["torch"]["value"] == "2.13.0"
    assert document["torch-local"]["value"] == "cpu"
    assert document["accelerator"]["value"] == "cpu"
    assert document["cuda"]["value"] is None


def test_resolve_json_equals_the_build_record_of_a_real_build(
    venv: Venv, fake_torch: Callable[..., Path], tmp_path: Path
) -> None:
    project = copy_project("kit", tmp_path)
    site = fake_torch("2.7.1+cu126", cuda="12.6")
    env = clean_env(PYTHONPATH=str(site))
    resolved = torchpins(venv, "resolve", str(project), "--json", env=env)
    assert resolved.returncode == 0, resolved.stderr
    assert pip_wheel(venv, project, tmp_path / "out", env).returncode == 0
    assert json.loads(resolved.stdout) == wheel_record(only(tmp_path / "out", "*.whl"))


def test_resolve_set_describes_another_environment(venv: Venv) -> None:
    result = torchpins(
        venv,
        "resolve",
        str(PROJECTS / "kit"),
        "--set",
        "torch=2.7.1+cu128",
        "--set",
        "platform=darwin",
        "--json",
        env=clean_env(),
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["facts"]["cuda"] == "12.8"
    assert record["sources"]["platform"] == "override"
    assert record["matched"] == [4]  # the Linux rows do not apply; the darwin row does
    assert "bitsandbytes==0.49.1" not in record["requires_dist"]


def test_resolve_set_beats_environment(venv: Venv) -> None:
    env = clean_env(TORCHPINS_TORCH="2.6.0")
    result = torchpins(
        venv, "resolve", str(PROJECTS / "kit"), "--set", "torch=2.8.0", "--json", env=env
    )
    assert json.loads(result.stdout)["facts"]["torch"] == "2.8.0"


def test_resolve_human_output(venv: Venv) -> None:
    result = torchpins(
        venv, "resolve", str(PROJECTS / "kit"), "--set", "torch=2.6.0", env=clean_env()
    )
    assert result.returncode == 0, result.stderr
    assert "Requires-Dist: xformers==0.0.29.post3" in result.stdout
    assert "Provides-Extra: flash-attn" in result.stdout
    assert "Provides-Extra: vllm" not in result.stdout
    assert "matrix rows applied: matrix[1] (counted from 0)" in result.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--set", "torch="], "set it to the torch to build for (--set torch=<version>"),
        (["--set", "torch=2.5.1"], "finetune-kit needs torch 2.6 or newer"),
        (["--set", "torch=2.7.0"], "matches none of the matrix rows that test torch"),
        # who can fix it, and how: the person installing, and the maintainer
        (
            ["--set", "torch=2.7.0"],
            "Installing it: use a torch it supports, or ask its "
            "maintainers to support torch 2.7.0. Maintaining it: add a row for it",
        ),
        # --set values are checked as the configuration's are
        (
            ["--set", "platform=macos"],
            "--set platform: 'macos' is never a value of sys.platform (did you mean 'darwin'?)",
        ),
        (["--set", "torch=two"], "--set torch: 'two' is not a valid version"),
        (["--set", "cudaa=12"], "--set cudaa: 'cudaa' is not a fact (did you mean 'cuda'?)"),
    ],
)
def test_resolve_user_errors_exit_1(venv: Venv, args: list[str], fragment: str) -> None:
    result = torchpins(venv, "resolve", str(PROJECTS / "kit"), *args, env=clean_env())
    assert result.returncode == 1
    assert fragment in result.stderr
    assert result.stderr.startswith("torchpins: error: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert_no_traceback(result.stderr)


def test_resolve_missing_project_exits_1(venv: Venv, tmp_path: Path) -> None:
    result = torchpins(venv, "resolve", str(tmp_path / "nowhere"), env=clean_env())
    assert result.returncode == 1
    assert "pyproject.toml does not exist" in result.stderr


@pytest.mark.parametrize(
    "args",
    [[], ["frobnicate"], ["resolve", "--set"], ["resolve", "--set", "torch"], ["probe", "--yaml"]],
)
def test_bad_usage_exits_2(venv: Venv, args: list[str]) -> None:
    result = torchpins(venv, *args, env=clean_env())
    assert result.returncode == 2
    assert "usage: torchpins" in result.stderr
    assert_no_traceback(result.stderr)


def test_console_script_and_version(venv: Venv) -> None:
    script = Path(venv.python).parent / "torchpins"
    result = run([str(script), "--version"])
    assert result.returncode == 0
    assert result.stdout.strip().startswith("torchpins ")


def test_example_resolves_for_every_torch_it_names(venv: Venv) -> None:
    """The example's rows, seen through the CLI (no build needed)."""
    example = ROOT / "examples" / "finetune-app"
    cases = {
        "2.5.1+cu124": ("xformers==0.0.28.post3", ["flash-attn", "deepspeed"]),
        "2.6.0+cu126": ("xformers==0.0.29.post3", ["flash-attn", "deepspeed", "vllm"]),
        "2.7.1+cu126": ("xformers==0.0.30", ["flash-attn", "deepspeed", "vllm"]),
        "2.7.1+cu128": ("xformers==0.0.31", ["flash-attn", "deepspeed", "vllm"]),
        "2.8.0+cu128": ("xformers==0.0.32.post2", ["flash-attn", "deepspeed", "vllm"]),
    }
    for torch, (xformers, extras) in cases.items():
        result = torchpins(
            venv,
            "resolve",
            str(example),
            "--set",
            f"torch={torch}",
            "--set",
            "platform=linux",
            "--set",
            "machine=x86_64",
            "--json",
            "--no-markers",  # what this one target installs
            env=clean_env(),
        )
        assert result.returncode == 0, (torch, result.stderr)
        record = json.loads(result.stdout)
        assert xformers in record["requires_dist"], torch
        assert record["provides_extra"] == extras, torch


def test_lazy_facts_can_be_set_for_a_build(venv: Venv, tmp_path: Path) -> None:
    project = tmp_path / "lazy"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "lazy"\nversion = "1"\ndynamic = ["dependencies"]\n'
        '[tool.torchpins]\ndependencies = ["a"]\n[tool.torchpins.torch]\nmissing = "unpinned"\n'
        '[[tool.torchpins.matrix]]\nwhen = { cxx11abi = true, nvcc = ">=12.4" }\nadd = ["b"]\n'
    )
    result = torchpins(
        venv,
        "resolve",
        str(project),
        "--set",
        "cxx11abi=yes",
        "--json",
        env=clean_env(TORCHPINS_NVCC="12.8"),
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["facts"]["cxx11abi"] is True
    assert record["facts"]["nvcc"] == "12.8"
    assert record["sources"]["nvcc"] == "override"
    assert record["requires_dist"] == ["a", "b"]
    # Without the override, nvcc is probed: here one from CUDA_HOME that is too old for the row.
    home = tmp_path / "cuda"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "nvcc").write_text("#!/bin/sh\necho 'Cuda compilation tools, release 12.2'\n")
    (home / "bin" / "nvcc").chmod(0o755)
    probed = torchpins(
        venv,
        *("resolve", str(project), "--set", "cxx11abi=yes", "--json"),
        env=clean_env(CUDA_HOME=str(home)),
    )
    assert probed.returncode == 0, probed.stderr
    record = json.loads(probed.stdout)
    assert record["facts"]["nvcc"] == "12.2"
    assert record["sources"]["nvcc"] == "probed"
    assert record["requires_dist"] == ["a"]
