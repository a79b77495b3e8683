"""Reproducible output, isolation of state between builds, and nothing left behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.helpers import (
    Venv,
    assert_failed_with,
    build_with,
    canonical_set,
    clean_env,
    copy_project,
    only,
    parse_metadata,
    requirements,
    wheel_metadata_text,
    wheel_record,
)

#: Run on every Python of the nox matrix (the rest runs on the oldest and newest).
pytestmark = pytest.mark.core

EXAMPLE = Path(__file__).parent.parent / "examples" / "finetune-app"


def test_two_builds_of_one_tree_are_byte_identical(venv: Venv, tmp_path: Path) -> None:
    source = tmp_path / "finetune-app"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    env = clean_env(SOURCE_DATE_EPOCH="1700000000", TORCHPINS_TORCH="2.7.1+cu126")
    outputs = []
    for attempt in range(2):
        out = tmp_path / f"out{attempt}"
        result = build_with(venv, source, out, env)  # the sdist, then a wheel built from it
        assert result.returncode == 0, result.stderr
        outputs.append(out)
        os.utime(source / "pyproject.toml")  # a touched file must not change the bytes
    for name in ("finetune_app-0.3.0.tar.gz", "finetune_app-0.3.0-py3-none-any.whl"):
        first, second = ((out / name).read_bytes() for out in outputs)
        assert first == second, name
    # The wheel's contents are what the pins say, and the record holds no time and no path.
    wheel = outputs[0] / "finetune_app-0.3.0-py3-none-any.whl"
    pinned = requirements(parse_metadata(wheel_metadata_text(wheel)))
    assert 'xformers==0.0.30; sys_platform != "darwin"' in pinned
    text = json.dumps(wheel_record(wheel))
    assert str(tmp_path) not in text
    assert "/" not in "".join(str(v) for v in wheel_record(wheel)["facts"].values())


def _tree(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


def test_a_wheel_build_leaves_nothing_in_the_source_tree(venv: Venv, tmp_path: Path) -> None:
    """The same project built by torchpins and, with its resolved requirements written
    statically, by plain setuptools: setuptools leaves build/ and egg-info in the tree; a
    torchpins wheel build keeps them in a folder of its own (so that builds of one tree at once
    share nothing) and leaves the tree as it found it."""
    ours = copy_project("kit", tmp_path / "ours")
    plain = copy_project("kit", tmp_path / "plain")
    env = clean_env(TORCHPINS_TORCH="2.7.1+cu126")
    result = build_with(venv, ours, tmp_path / "ours-out", env, "--wheel")
    assert result.returncode == 0, result.stderr
    record = wheel_record(only(tmp_path / "ours-out", "*.whl"))
    pyproject = plain / "pyproject.toml"
    text = pyproject.read_text().split("[tool.torchpins]")[0]
    text = text.replace(
        'build-backend = "torchpins.build_meta"', 'build-backend = "setuptools.build_meta"'
    )
    text = text.replace('dynamic = ["dependencies", "optional-dependencies"]', "dependencies = "
                        + json.dumps(record["requires_dist"]))  # fmt: skip
    pyproject.write_text(text)
    before = _tree(plain)
    result = build_with(venv, plain, tmp_path / "plain-out", clean_env(), "--wheel")
    assert result.returncode == 0, result.stderr
    left_by_setuptools = _tree(plain) - before
    left_by_torchpins = _tree(ours) - _tree(copy_project("kit", tmp_path / "pristine"))
    assert "src/finetune_kit.egg-info/PKG-INFO" in left_by_setuptools
    assert left_by_torchpins == set()


def test_a_failed_build_leaves_nothing_in_the_output_directory(venv: Venv, tmp_path: Path) -> None:
    project = copy_project("kit", tmp_path)
    out = tmp_path / "out"
    for torch in ("2.5.1", "2.7.0"):  # an error row; a torch no row covers
        result = build_with(venv, project, out, clean_env(TORCHPINS_TORCH=torch), "--wheel")
        assert_failed_with(result, "torchpins: error:")
        assert not out.exists() or list(out.iterdir()) == []


def test_parallel_builds_of_different_projects_keep_their_own_pins(
    venv: Venv, tmp_path: Path
) -> None:
    jobs = []
    for round_ in range(3):
        for name, torch in (
            ("kit", "2.7.1+cu126"),
            ("kit", "2.6.0+cu124"),
            ("bare", "2.9.1+cu130"),
        ):
            project = copy_project(name, tmp_path / f"{name}-{torch}-{round_}")
            out = tmp_path / f"out-{name}-{torch}-{round_}"
            command = [venv.python, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps",
                       "--no-cache-dir", "-w", str(out), str(project)]  # fmt: skip
            env = clean_env(TORCHPINS_TORCH=torch)
            process = subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            jobs.append((process, name, torch, out))
    for process, name, torch, out in jobs:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err.decode()
        record = wheel_record(only(out, "*.whl"))
        version = torch.split("+")[0]
        assert record["facts"]["torch"] == version
        assert record["facts"]["torch-local"] == torch.split("+")[1]
        lines = set(record["requires_dist"])
        if name == "kit":
            assert f"torch=={version.rsplit('.', 1)[0]}.*" in lines
            xformers = "xformers==0.0.31" if version == "2.7.1" else "xformers==0.0.29.post3"
            assert xformers in lines
        else:
            assert lines == {"torch>=2.9", 'nvidia-cudnn-cu12>=9; extra == "cuda"'}


def test_hook_calls_repeated_in_one_process_never_leak_pins(venv: Venv, tmp_path: Path) -> None:
    """As frontends do: several hooks and projects in one interpreter, then a plain setuptools
    project in the same interpreter, which must be untouched."""
    kit = copy_project("kit", tmp_path)
    # setuptools (distutils' mkpath cache) cannot build one tree twice in a process; a second
    # copy of the same project stands in for the repeated build.
    kit_again = copy_project("kit", tmp_path / "again")
    bare = copy_project("bare", tmp_path)
    plain = tmp_path / "plain"
    (plain / "src" / "plain").mkdir(parents=True)
    (plain / "src" / "plain" / "__init__.py").write_text("")
    (plain / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "plain"\nversion = "1"\ndependencies = ["requests"]\n'
    )
    script = textwrap.dedent(
        f"""
        import json, os, sys, zipfile
        import setuptools.build_meta as plain_backend
        import torchpins.build_meta as backend

        def build(project, hooks, settings):
            os.chdir(project)
            out = os.path.join(project, "out-" + str(len(os.listdir(project))))
            os.mkdir(out)
            if hasattr(hooks, "prepare_metadata_for_build_wheel"):
                hooks.prepare_metadata_for_build_wheel(out, settings)
            wheel = hooks.build_wheel(out, settings)
            with zipfile.ZipFile(os.path.join(out, wheel)) as archive:
                names = archive.namelist()
                metadata = next(n for n in names if n.endswith("METADATA"))
                text = archive.read(metadata).decode()
                record = any(n.endswith("torchpins.json") for n in names)
            requires = sorted(l[15:] for l in text.splitlines() if l.startswith("Requires-Dist: "))
            return {{"requires": requires, "record": record}}

        results = [
            build({str(kit)!r}, backend, {{"torchpins.torch": "2.7.1+cu126"}}),
            build({str(bare)!r}, backend, {{}}),
            build({str(kit_again)!r}, backend, {{"torchpins.torch": "2.6.0"}}),
            build({str(plain)!r}, plain_backend, {{}}),
        ]
        print(json.dumps(results))
        """
    )
    result = venv.run("-c", script, env=clean_env())
    assert result.returncode == 0, result.stderr
    first, second, third, fourth = json.loads(result.stdout.strip().splitlines()[-1])
    assert "xformers==0.0.31" in first["requires"]
    assert "torch==2.7.*" in first["requires"]
    assert canonical_set(second["requires"]) == canonical_set(
        ["torch>=2.8", 'nvidia-cudnn-cu12>=9; extra == "cuda"']
    )
    assert "xformers==0.0.29.post3" in third["requires"]
    assert "torch==2.6.*" in third["requires"]
    assert not any("0.0.31" in line for line in third["requires"])
    assert fourth == {"requires": ["requests"], "record": False}
