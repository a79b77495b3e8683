"""Honest wheels (SPEC section 8): markers for installer facts, held to the contract.

For every target, the requirements a wheel's METADATA installs there (markers evaluated by
``packaging.markers``) equal what the same project resolves with ``markers = false`` for that
target's python, platform and machine (``torchpins resolve --no-markers --set ...``). The wheels
are built for real, with pip, and must not depend on the builder's own platform.
"""

from __future__ import annotations

import json
import textwrap
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.helpers import (
    Venv,
    clean_env,
    in_process,
    only,
    pip_wheel,
    wheel_metadata_text,
    wheel_record,
)

#: A project no example or test project resembles: rows on python, platform and machine mixed
#: with torch facts, an error row on python, extras dropped, replaced and added per platform.
HELD_OUT = """
[build-system]
requires = ["torchpins"]
build-backend = "torchpins.build_meta"

[project]
name = "held-out"
version = "3.1.0"
requires-python = ">=3.9"
dynamic = ["dependencies", "optional-dependencies"]

[tool.torchpins]
dependencies = ["numpy>=1.26", "colorama; sys_platform == 'win32'"]
optional-dependencies = { serve = ["uvicorn>=0.30"], kernels = ["triton>=3"] }

[[tool.torchpins.matrix]]
when = { python = "<3.10" }
error = "held-out needs Python 3.10 or newer"

[[tool.torchpins.matrix]]
when = { torch = ">=2.8", python = ">=3.12" }
pins = { numpy = ">=2.1" }

[[tool.torchpins.matrix]]
when = { platform = "darwin" }
drop-extras = ["kernels"]

[[tool.torchpins.matrix]]
when = { accelerator = "cuda", platform = "linux", machine = "x86_64" }
extras-add.kernels = ["flash-attn-prebuilt==2.8"]

[[tool.torchpins.matrix]]
when = { machine = ["aarch64", "arm64"] }
unless = { platform = "darwin" }
add = ["arm-helpers>=1"]

[[tool.torchpins.matrix]]
when = { python = "~=3.13.0", torch = "~=2.7.0" }
remove = ["numpy"]
add = ["numpy-nightly"]

[[tool.torchpins.matrix]]
when = { platform = "win32" }
unless = { python = ">=3.13" }
extras = { serve = ["waitress>=3"] }
"""

TORCH_BUILDS = ["2.7.1+cu126", "2.8.0+cu128", "2.8.0+cpu"]
#: platform, machine, and the other marker variables a real such machine has.
TARGETS = [
    ("linux", "x86_64", "posix", "Linux"),
    ("linux", "aarch64", "posix", "Linux"),
    ("darwin", "arm64", "posix", "Darwin"),
    ("win32", "AMD64", "nt", "Windows"),
    ("freebsd14", "amd64", "posix", "FreeBSD"),
]
PYTHONS = ["3.9.18", "3.10.14", "3.12.7", "3.13.1"]


cli = in_process


def write(tmp_path: Path, text: str, name: str = "held-out") -> Path:
    directory = tmp_path / name
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pyproject.toml").write_text(textwrap.dedent(text), encoding="utf-8")
    package = directory / "held_out"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("")
    return directory


def installs(lines: list[str], environment: dict[str, str], extra: str | None) -> set[str]:
    """What ``pkg`` (or ``pkg[extra]``) installs in ``environment``: the requirements whose
    markers hold there, without their markers."""
    found = set()
    for line in lines:
        requirement = Requirement(line)
        marker = requirement.marker
        holds = marker is None or any(
            marker.evaluate({**environment, "extra": name}) for name in ("", extra or "")
        )
        if holds:
            requirement.marker = None
            found.add(str(requirement))
    return found


def environment(python: str, platform: str, machine: str, os_name: str, system: str) -> dict:
    return {
        "python_full_version": python,
        "python_version": ".".join(python.split(".")[:2]),
        "sys_platform": platform,
        "platform_machine": machine,
        "os_name": os_name,
        "platform_system": system,
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }


@pytest.fixture(scope="module")
def wheels(venv: Venv, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One wheel per torch build, built here, and each again as if on macOS."""
    root = tmp_path_factory.mktemp("held-out")
    built = {}
    for torch in TORCH_BUILDS:
        for pretend in ({}, {"TORCHPINS_PLATFORM": "darwin", "TORCHPINS_MACHINE": "arm64"}):
            tag = torch + ("-as-darwin" if pretend else "")
            project = write(root / tag, HELD_OUT)
            env = clean_env(TORCHPINS_TORCH=torch, SOURCE_DATE_EPOCH="1700000000", **pretend)
            result = pip_wheel(venv, project, root / tag / "out", env)
            assert result.returncode == 0, result.stderr
            built[tag] = only(root / tag / "out", "*.whl")
    return built


@pytest.mark.parametrize("torch", TORCH_BUILDS)
def test_the_wheel_installs_what_markers_false_resolves_on_every_target(
    wheels: dict[str, Path], tmp_path: Path, torch: str
) -> None:
    wheel = wheels[torch]
    assert wheel.name == "held_out-3.1.0-py3-none-any.whl"  # one wheel for every target
    metadata = wheel_metadata_text(wheel)
    lines = [
        line.split(": ", 1)[1]
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist: ")
    ]
    provided = [
        line.split(": ", 1)[1]
        for line in metadata.splitlines()
        if line.startswith("Provides-Extra: ")
    ]
    decided_here = write(
        tmp_path, HELD_OUT.replace("[tool.torchpins]\n", "[tool.torchpins]\nmarkers = false\n")
    )
    compared = 0
    for platform, machine, os_name, system in TARGETS:
        for python in PYTHONS:
            target = environment(python, platform, machine, os_name, system)
            sets = [
                f"torch={torch}",
                f"python={python}",
                f"platform={platform}",
                f"machine={machine}",
            ]
            code, out, err = cli(
                "resolve", "--json", str(decided_here), *(a for s in sets for a in ("--set", s))
            )
            if python.startswith("3.9"):
                assert code == 1  # nothing to install there
                assert "needs Python 3.10 or newer" in err
                continue
            assert code == 0, err
            expected = json.loads(out)
            for extra in [None, *sorted(set(provided) | set(expected["provides_extra"]))]:
                want = installs(
                    expected["requires_dist"],
                    target,
                    extra if extra in expected["provides_extra"] else None,
                )
                got = installs(lines, target, extra)
                assert got == want, (torch, platform, machine, python, extra)
                compared += 1
    assert compared == 3 * 5 * 3  # 5 targets x 3 Pythons x (base + 2 extras)


@pytest.mark.parametrize("torch", TORCH_BUILDS)
def test_the_wheel_does_not_depend_on_the_builders_platform(
    wheels: dict[str, Path], torch: str
) -> None:
    here, there = wheels[torch], wheels[torch + "-as-darwin"]
    assert here.name == there.name
    with zipfile.ZipFile(here) as a, zipfile.ZipFile(there) as b:
        assert {n: a.read(n) for n in a.namelist()} == {n: b.read(n) for n in b.namelist()}
    assert here.read_bytes() == there.read_bytes()


def test_the_build_record_says_what_the_build_decided(wheels: dict[str, Path]) -> None:
    record = wheel_record(wheels["2.8.0+cu128"])
    assert record["markers"] == ["python", "platform", "machine"]
    assert not {"python", "platform", "machine"} & set(record["facts"])
    assert record["decided"] == list(record["facts"])
    assert {"torch", "torch-local", "cuda", "accelerator"} <= set(record["decided"])


def test_an_error_row_on_python_still_stops_the_build_there(venv: Venv, tmp_path: Path) -> None:
    project = write(tmp_path, HELD_OUT)
    env = clean_env(TORCHPINS_TORCH="2.8.0+cpu", TORCHPINS_PYTHON="3.9.18")
    result = pip_wheel(venv, project, tmp_path / "out", env)
    assert result.returncode != 0
    assert "held-out needs Python 3.10 or newer" in result.stdout + result.stderr
    assert not list(tmp_path.glob("out/*.whl"))


def test_markers_false_decides_at_build_and_tags_the_wheel(venv: Venv, tmp_path: Path) -> None:
    import sys
    import sysconfig

    text = HELD_OUT.replace("[tool.torchpins]\n", "[tool.torchpins]\nmarkers = false\n")
    project = write(tmp_path, text)
    result = pip_wheel(venv, project, tmp_path / "out", clean_env(TORCHPINS_TORCH="2.8.0+cpu"))
    assert result.returncode == 0, result.stderr
    wheel = only(tmp_path / "out", "*.whl")
    python = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    assert wheel.name == f"held_out-3.1.0-{python}-none-{platform}.whl"
    record = wheel_record(wheel)
    assert record["markers"] == []
    assert {"python", "platform", "machine"} <= set(record["decided"])
    assert "sys_platform" not in wheel_metadata_text(wheel).replace('sys_platform == "win32"', "")
    # told another platform than it runs on, it cannot tag honestly, and says so
    again = write(tmp_path / "again", text)
    env = clean_env(TORCHPINS_TORCH="2.8.0+cpu", TORCHPINS_PLATFORM="win32")
    failed = pip_wheel(venv, again, tmp_path / "out2", env)
    assert failed.returncode != 0
    output = failed.stdout + failed.stderr
    assert "could not be tagged" in output
    assert "TORCHPINS_PLATFORM" in output
    assert "Traceback" not in output


def test_resolve_shows_the_marker_form_and_previews_one_target(tmp_path: Path) -> None:
    project = write(tmp_path, HELD_OUT)
    code, out, err = cli("resolve", str(project), "--set", "torch=2.8.0+cu128")
    assert code == 0, err
    assert (
        'Requires-Dist: arm-helpers>=1; sys_platform != "darwin" and '
        '(platform_machine == "aarch64" or platform_machine == "arm64")'
    ) in out
    assert "written as markers: python, platform, machine" in out
    assert "--no-markers" in out
    code, out, err = cli(
        "resolve", str(project), "--no-markers", "--set", "torch=2.8.0+cu128",
        "--set", "platform=linux", "--set", "machine=aarch64", "--set", "python=3.12.1",
    )  # fmt: skip
    assert code == 0, err
    lines = [line.strip() for line in out.splitlines() if "Requires-Dist" in line]
    assert lines == [
        "Requires-Dist: numpy>=2.1",
        'Requires-Dist: colorama; sys_platform == "win32"',
        "Requires-Dist: torch==2.8.*",
        "Requires-Dist: arm-helpers>=1",
        'Requires-Dist: uvicorn>=0.30; extra == "serve"',
        'Requires-Dist: triton>=3; extra == "kernels"',
    ]
    assert "written as markers" not in out


def test_markers_must_be_a_boolean(tmp_path: Path) -> None:
    project = write(
        tmp_path, HELD_OUT.replace("[tool.torchpins]\n", '[tool.torchpins]\nmarkers = "no"\n')
    )
    code, _, err = cli("resolve", str(project), "--set", "torch=2.8.0")
    assert code == 1
    assert err.strip() == (
        "torchpins: error: tool.torchpins.markers: expected true or false (TOML booleans, "
        "unquoted), got the string 'no'"
    )


def test_check_names_a_row_whose_installer_condition_cannot_become_a_marker(
    tmp_path: Path,
) -> None:
    text = HELD_OUT + '\n[[tool.torchpins.matrix]]\nadd = ["kernels-cp{python|minor|nodot}"]\n'
    project = write(tmp_path, text)
    code, out, _ = cli("check", str(project), "--json")
    findings = [f for f in json.loads(out) if "cannot become a marker" in f["message"]]
    assert [f["key"] for f in findings] == [
        "tool.torchpins.matrix[1].when.python",
        "tool.torchpins.matrix[5].when.python",
        "tool.torchpins.matrix[6].unless.python",
    ]
    assert "tool.torchpins.matrix[7].add[0] names {python}" in findings[0]["message"]
    # the error row on python (matrix[0]) is decided at build either way: not named
    code, out, _ = cli("resolve", str(project), "--set", "torch=2.8.0", "--set", "python=3.12.2")
    assert code == 0
    assert "Requires-Dist: kernels-cp312" in out
    assert "python_full_version" not in out  # decided: no python markers at all
    assert "written as markers: platform, machine" in out


def test_ci_matrix_builds_one_wheel_per_torch_build_when_markers_make_it_portable(
    tmp_path: Path,
) -> None:
    ci = (
        '\n[tool.torchpins.ci]\npython = ["3.10", "3.12", "3.13"]\n'
        'platforms = ["linux-x86_64", "linux-aarch64", "win32-AMD64"]\n'
        '[[tool.torchpins.ci.torch]]\nversion = "2.8.0"\nbuilds = ["cu128", "cpu"]\n'
    )
    project = write(tmp_path, HELD_OUT + ci)
    code, out, err = cli("ci-matrix", str(project), "--format", "json")
    assert code == 0, err
    include = json.loads(out)["include"]
    # 2 builds x 3 platforms x 3 Pythons = 18 combinations, 2 distinct wheels
    assert [(job["torch"], len(job["covers"])) for job in include] == [
        ("2.8.0+cu128", 9),
        ("2.8.0+cpu", 9),
    ]
    assert [job["out"] for job in include] == ["dist/torch-2.8.0+cu128", "dist/torch-2.8.0+cpu"]
    # markers = false: the wheels are tagged per Python and platform, so no two merge
    decided = write(tmp_path / "decided", (HELD_OUT + ci).replace(
        "[tool.torchpins]\n", "[tool.torchpins]\nmarkers = false\n"))  # fmt: skip
    code, out, err = cli("ci-matrix", str(decided), "--format", "json")
    assert code == 0, err
    assert len(json.loads(out)["include"]) == 18


def test_table_markers_shows_one_row_per_build_in_the_marker_form(tmp_path: Path) -> None:
    project = write(tmp_path, HELD_OUT)
    code, out, err = cli("table", str(project), "--markers", "--format", "json")
    assert code == 0, err
    entries = json.loads(out)
    built = [e for e in entries if not e["error"]]
    assert len(built) >= 6
    for entry in built:  # each row is what resolve (markers on) says that build writes
        sets = [a for s in entry["set"] for a in ("--set", s)]
        code, out, err = cli("resolve", "--json", str(project), *sets)
        assert code == 0, err
        assert json.loads(out)["requires_dist"] == entry["requires_dist"], entry["set"]
    code, out, _ = cli("table", str(project), "--markers")
    header = [cell.strip() for cell in out.splitlines()[0].strip("|").split("|")]
    assert header[:2] == ["torch", "build"]  # no python, platform or machine column
    assert 'python_full_version >= "3.12"' in out
