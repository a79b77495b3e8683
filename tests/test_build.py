"""Real builds: pip, python -m build and pip install -e, under fake torch builds and the real CPU
torch, checking the METADATA, PKG-INFO and build record that setuptools really wrote."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from pyproject_hooks import BuildBackendHookCaller

from tests.helpers import (
    ROOT,
    Venv,
    assert_failed_with,
    build_with,
    canonical_set,
    clean_env,
    copy_project,
    dynamic_lines,
    only,
    overlay_venv,
    parse_metadata,
    pip_wheel,
    requirements,
    run,
    sdist_pkg_info_text,
    wheel_metadata_text,
    wheel_record,
)

#: Run on every Python of the nox matrix (the rest runs on the oldest and newest).
pytestmark = pytest.mark.core

KIT_BASE = {"transformers>=4.50", "bitsandbytes==0.49.1"}

# (torch version, torch/version.py build, expected Requires-Dist, expected Provides-Extra,
#  expected matched rows). Derived by hand from tests/projects/kit/pyproject.toml and SPEC 2-3.
KIT_CASES = [
    pytest.param(
        "2.6.0",
        {"cuda": "12.4"},
        KIT_BASE
        | {"xformers==0.0.29.post3", "torch==2.6.*", 'flash-attn==2.8.3; extra == "flash-attn"'},
        ["flash-attn"],
        [1],
        id="2.6-linux-drops-vllm",
    ),
    pytest.param(
        "2.7.1+cu126",
        {"cuda": "12.6"},
        KIT_BASE
        | {
            "xformers==0.0.31",
            "torch==2.7.*",
            'vllm==0.10.1; extra == "vllm"',
            'flash-attn==2.8.3; extra == "flash-attn"',
        },
        ["vllm", "flash-attn"],
        [2],
        id="2.7.1-cu126",
    ),
    pytest.param(
        "2.7.1+cpu",
        {},
        KIT_BASE
        | {
            "xformers>=0.0.23.post1",
            "torch==2.7.*",
            'vllm==0.10.0; extra == "vllm"',
            'flash-attn==2.8.3; extra == "flash-attn"',
        },
        ["vllm", "flash-attn"],
        [],
        id="2.7.1-cpu-no-cuda-row",
    ),
    pytest.param(
        "2.8.0",
        {"cuda": "12.8"},
        KIT_BASE
        | {
            "xformers==0.0.32.post2",
            "torch==2.8.*",
            'vllm>=0.10.2; extra == "vllm"',
            'flash-attn==2.8.3; extra == "flash-attn"',
        },
        ["vllm", "flash-attn"],
        [3],
        id="2.8",
    ),
    pytest.param(
        "2.9.0.dev20250801+cu128",
        {"cuda": "12.8"},
        KIT_BASE
        | {
            "xformers==0.0.32.post2",
            "torch==2.9.*",
            'vllm>=0.10.2; extra == "vllm"',
            'flash-attn==2.8.3; extra == "flash-attn"',
        },
        ["vllm", "flash-attn"],
        [3],
        id="2.9-nightly",
    ),
]


@pytest.mark.parametrize(("torch", "build", "expected", "extras", "matched"), KIT_CASES)
def test_pip_wheel_pins_follow_the_fake_torch(
    venv: Venv,
    fake_torch: Callable[..., Path],
    tmp_path: Path,
    torch: str,
    build: dict[str, str],
    expected: set[str],
    extras: list[str],
    matched: list[int],
) -> None:
    project = copy_project("kit", tmp_path)
    site = fake_torch(torch, **build)
    result = pip_wheel(venv, project, tmp_path / "out", clean_env(PYTHONPATH=str(site)))
    assert result.returncode == 0, result.stdout + result.stderr

    wheel = only(tmp_path / "out", "finetune_kit-1.4.0-*.whl")
    metadata = parse_metadata(wheel_metadata_text(wheel))
    assert requirements(metadata) == canonical_set(expected)
    assert sorted(metadata.provides_extra or []) == sorted(extras)

    record = wheel_record(wheel)
    assert record["matched"] == matched
    assert canonical_set(record["requires_dist"]) == canonical_set(expected)
    assert record["provides_extra"] == extras
    assert record["facts"]["torch"] == torch.split("+")[0]
    assert record["facts"]["cuda"] == build.get("cuda")
    assert record["sources"]["torch"] == "probed"


def test_build_record_holds_every_fact_with_its_source(
    venv: Venv, fake_torch: Callable[..., Path], tmp_path: Path
) -> None:
    project = copy_project("kit", tmp_path)
    site = fake_torch("2.7.1+cu126", cuda="12.6")
    env = clean_env(PYTHONPATH=str(site), TORCHPINS_GLIBC="2.28")
    assert pip_wheel(venv, project, tmp_path / "out", env).returncode == 0
    record = wheel_record(only(tmp_path / "out", "*.whl"))
    assert set(record) == {
        "torchpins",
        "facts",
        "sources",
        "decided",
        "markers",
        "matched",
        "requires_dist",
        "provides_extra",
    }
    assert record["decided"] == list(record["facts"])  # kit: markers = false
    assert record["facts"] | {"python": None, "machine": None} == {
        "torch": "2.7.1",
        "torch-local": "cu126",
        "cuda": "12.6",
        "rocm": None,
        "accelerator": "cuda",
        "python": None,
        "platform": sys.platform,
        "machine": None,
        "glibc": "2.28",
    }
    assert record["facts"]["python"] == ".".join(map(str, sys.version_info[:3]))
    assert record["sources"]["glibc"] == "override"
    assert record["sources"]["cuda"] == "probed"
    assert str(tmp_path) not in json.dumps(record)  # no absolute paths in the record


def test_rocm_build_is_probed_from_hip(
    venv: Venv, fake_torch: Callable[..., Path], tmp_path: Path
) -> None:
    project = copy_project("kit", tmp_path)
    site = fake_torch("2.7.1+rocm6.3", hip="6.3.42131-fa1d09cbd")
    assert (
        pip_wheel(venv, project, tmp_path / "out", clean_env(PYTHONPATH=str(site))).returncode == 0
    )
    record = wheel_record(only(tmp_path / "out", "*.whl"))
    assert record["facts"]["rocm"] == "6.3.42131"
    assert record["facts"]["accelerator"] == "rocm"
    assert record["facts"]["cuda"] is None
    assert record["facts"]["torch-local"] == "rocm6.3"


def test_error_row_fails_the_build_with_its_message_and_no_traceback(
    venv: Venv, fake_torch: Callable[..., Path], tmp_path: Path
) -> None:
    project = copy_project("kit", tmp_path)
    site = fake_torch("2.5.1+cu124", cuda="12.4")
    result = pip_wheel(venv, project, tmp_path / "out", clean_env(PYTHONPATH=str(site)))
    assert_failed_with(result, "finetune-kit needs torch 2.6 or newer", "tool.torchpins.matrix[0]")
    assert not list((tmp_path / "out").glob("*.whl")) if (tmp_path / "out").exists() else True


def test_missing_torch_without_isolation_says_to_install_it(venv: Venv, tmp_path: Path) -> None:
    """--no-build-isolation in an environment without torch: isolation is not the cause, so the
    message does not blame it (the isolated case is tested with real isolated frontends)."""
    project = copy_project("kit", tmp_path)
    result = pip_wheel(venv, project, tmp_path / "out", clean_env())
    assert_failed_with(result, "has no torch", "Install torch there first", "TORCHPINS_TORCH=")
    assert "isolation" not in result.stderr.split("[end of output]")[0].split("torchpins: error")[1]


def test_override_builds_for_a_torch_that_is_not_installed(venv: Venv, tmp_path: Path) -> None:
    project = copy_project("kit", tmp_path)
    result = pip_wheel(
        venv, project, tmp_path / "out", clean_env(), "-C", "torchpins.torch=2.7.1+cu128"
    )
    assert result.returncode == 0, result.stderr
    wheel = only(tmp_path / "out", "*.whl")
    metadata = parse_metadata(wheel_metadata_text(wheel))
    assert canonical_set({"xformers==0.0.31", "torch==2.7.*"}) <= requirements(metadata)
    record = wheel_record(wheel)
    assert record["facts"]["torch"] == "2.7.1"
    assert record["facts"]["torch-local"] == "cu128"
    assert record["facts"]["cuda"] == "12.8"
    assert record["sources"]["torch"] == "override"
    assert record["sources"]["cuda"] == "assumed"


def test_unmatched_torch_is_an_error_by_default(
    venv: Venv, fake_torch: Callable[..., Path], tmp_path: Path
) -> None:
    project = copy_project("kit", tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('torch = ">=2.8"', 'torch = "~=2.8.0"'))
    site = fake_torch("2.10.0+cu130", cuda="13.0")
    result = pip_wheel(venv, project, tmp_path / "out", clean_env(PYTHONPATH=str(site)))
    assert_failed_with(
        result, "torch 2.10.0 matches none of the matrix rows that test torch", 'unmatched = "warn"'
    )


def test_prepared_metadata_equals_the_wheel_metadata(
    venv: Venv, fake_torch: Callable[..., Path], tmp_path: Path
) -> None:
    """prepare_metadata_for_build_wheel and build_wheel, called out of process, separately."""
    project = copy_project("kit", tmp_path)
    site = fake_torch("2.7.1+cu126", cuda="12.6")
    env = clean_env(PYTHONPATH=str(site))

    def runner(
        cmd: list[str], cwd: str | None = None, extra_environ: dict[str, str] | None = None
    ) -> None:
        result = run(cmd, env=env | (extra_environ or {}), cwd=Path(cwd) if cwd else None)
        assert result.returncode == 0, result.stderr

    hooks = BuildBackendHookCaller(
        str(project), "torchpins.build_meta", runner=runner, python_executable=venv.python
    )
    (tmp_path / "meta").mkdir()
    (tmp_path / "wheel").mkdir()
    dist_info = hooks.prepare_metadata_for_build_wheel(str(tmp_path / "meta"))
    prepared = (tmp_path / "meta" / dist_info / "METADATA").read_text()
    prepared_record = json.loads((tmp_path / "meta" / dist_info / "torchpins.json").read_text())

    fresh = copy_project("kit", tmp_path / "fresh")  # a wheel built without the prepared dir
    fresh_hooks = BuildBackendHookCaller(
        str(fresh), "torchpins.build_meta", runner=runner, python_executable=venv.python
    )
    wheel = fresh_hooks.build_wheel(str(tmp_path / "wheel"))
    built = wheel_metadata_text(tmp_path / "wheel" / wheel)

    assert parse_metadata(prepared).requires_dist == parse_metadata(built).requires_dist
    assert prepared == built
    assert prepared_record == wheel_record(tmp_path / "wheel" / wheel)


def test_sdist_is_unpinned_and_dynamic_and_its_wheel_is_probed_afresh(
    venv: Venv, fake_torch: Callable[..., Path], tmp_path: Path
) -> None:
    project = copy_project("kit", tmp_path)
    built_under = fake_torch("2.6.0", cuda="12.4")
    result = build_with(
        venv,
        project,
        tmp_path / "sdist",
        clean_env(PYTHONPATH=str(built_under)),
        "--sdist",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sdist = only(tmp_path / "sdist", "finetune_kit-1.4.0.tar.gz")
    text = sdist_pkg_info_text(sdist)
    pkg_info = parse_metadata(text)
    assert dynamic_lines(text) == ["Dynamic: Provides-Extra", "Dynamic: Requires-Dist"]
    assert requirements(pkg_info) == canonical_set(
        {
            "transformers>=4.50",
            "xformers>=0.0.23.post1",
            "bitsandbytes==0.49.1",
            'vllm==0.10.0; extra == "vllm"',
            'flash-attn==2.8.3; extra == "flash-attn"',
        }
    )
    assert pkg_info.provides_extra == ["vllm", "flash-attn"]
    with tarfile.open(sdist) as archive:
        assert not [n for n in archive.getnames() if n.endswith("torchpins.json")]

    # A wheel from that sdist, built where another torch is installed, gets that torch's pins.
    wheel_torch = fake_torch("2.8.0+cu128", cuda="12.8")
    result = pip_wheel(venv, sdist, tmp_path / "wheels", clean_env(PYTHONPATH=str(wheel_torch)))
    assert result.returncode == 0, result.stdout + result.stderr
    wheel = only(tmp_path / "wheels", "*.whl")
    metadata = parse_metadata(wheel_metadata_text(wheel))
    assert canonical_set({"torch==2.8.*", "xformers==0.0.32.post2"}) <= requirements(metadata)
    assert wheel_record(wheel)["facts"]["torch"] == "2.8.0"


def test_python_m_build_wheel_matches_pip_wheel(
    venv: Venv, fake_torch: Callable[..., Path], tmp_path: Path
) -> None:
    site = fake_torch("2.7.1+cu126", cuda="12.6")
    env = clean_env(PYTHONPATH=str(site))
    by_build = copy_project("kit", tmp_path / "a")
    result = build_with(venv, by_build, tmp_path / "a-out", env, "--wheel")
    assert result.returncode == 0, result.stdout + result.stderr
    by_pip = copy_project("kit", tmp_path / "b")
    assert pip_wheel(venv, by_pip, tmp_path / "b-out", env).returncode == 0
    first = parse_metadata(wheel_metadata_text(only(tmp_path / "a-out", "*.whl")))
    second = parse_metadata(wheel_metadata_text(only(tmp_path / "b-out", "*.whl")))
    assert requirements(first) == requirements(second)
    assert canonical_set({"xformers==0.0.31"}) <= requirements(first)


def test_editable_install_has_the_pins(
    venv: Venv, fake_torch: Callable[..., Path], tmp_path: Path
) -> None:
    project = copy_project("kit", tmp_path)
    site = fake_torch("2.7.1+cu126", cuda="12.6")
    # A throwaway venv that sees the shared one's packages through a .pth file, so the editable
    # install does not change the shared venv.
    target, target_site = overlay_venv(venv, tmp_path / "target")
    result = run(
        [
            target.python,
            "-m",
            "pip",
            "install",
            "--no-build-isolation",
            "--no-deps",
            "--no-cache-dir",
            "-e",
            str(project),
        ],
        env=clean_env(PYTHONPATH=str(site)),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    info = only(target_site, "finetune_kit-1.4.0.dist-info")
    metadata = parse_metadata((info / "METADATA").read_text())
    assert canonical_set({"xformers==0.0.31", "torch==2.7.*"}) <= requirements(metadata)
    assert json.loads((info / "torchpins.json").read_text())["matched"] == [2]


@pytest.mark.real_torch
def test_real_cpu_torch_builds_the_example(tmp_path: Path) -> None:
    """The real torch 2.13.0 CPU build in the test interpreter's own environment."""
    from importlib.metadata import version

    installed = version("torch")
    assert installed.startswith("2.13.0"), installed
    project = tmp_path / "finetune-app"
    shutil.copytree(
        ROOT / "examples" / "finetune-app",
        project,
        ignore=shutil.ignore_patterns("build", "*.egg-info"),
    )
    result = pip_wheel(None, project, tmp_path / "out", clean_env())
    assert result.returncode == 0, result.stdout + result.stderr
    wheel = only(tmp_path / "out", "finetune_app-0.3.0-*.whl")
    metadata = parse_metadata(wheel_metadata_text(wheel))
    # torch >=2.9,<2.14 row, then the CPU row (xformers, triton, flash-attn gone); the ARM and
    # macOS rows as markers.
    assert requirements(metadata) == canonical_set(
        {
            "transformers>=4.50",
            "peft>=0.15",
            "accelerate>=1.6",
            "datasets>=3.5",
            'bitsandbytes==0.49.1; sys_platform != "darwin"',
            'torchao>=0.14; (sys_platform == "linux" and platform_machine != "aarch64" and '
            'platform_machine != "arm64") or (sys_platform != "linux" and sys_platform != '
            '"darwin")',
            "torch==2.13.*",
            'deepspeed==0.17.5; sys_platform != "darwin" and extra == "deepspeed"',
            'vllm>=0.11; sys_platform != "darwin" and extra == "vllm"',
        }
    )
    assert sorted(metadata.provides_extra or []) == ["deepspeed", "vllm"]
    record = wheel_record(wheel)
    assert record["facts"]["torch"] == "2.13.0"
    assert record["facts"]["torch-local"] == "cpu"
    assert record["facts"]["accelerator"] == "cpu"
    assert record["matched"] == [6, 7, 8, 9]  # 8 and 9 where their markers hold
    assert record["markers"] == ["platform", "machine"]


def test_setup_py_extension_project_keeps_working(
    venv: Venv, fake_torch: Callable[..., Path], tmp_path: Path
) -> None:
    project = copy_project("withext", tmp_path)
    site = fake_torch("2.8.0+cu128", cuda="12.8")
    result = pip_wheel(venv, project, tmp_path / "out", clean_env(PYTHONPATH=str(site)))
    assert result.returncode == 0, result.stdout + result.stderr
    wheel = only(tmp_path / "out", "withext-0.1.0-cp*.whl")  # a platform wheel: it compiled
    metadata = parse_metadata(wheel_metadata_text(wheel))
    assert requirements(metadata) == canonical_set(
        {"numpy>=1.26", "nvidia-ml-py>=12", "torch==2.8.*"}
    )
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
    check = run(
        [
            venv.python,
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); import withext; print(withext.add(2, 3))",
            str(unpacked),
        ]
    )
    assert check.stdout.strip() == "5", check.stderr


def test_setup_py_passing_install_requires_is_refused(
    venv: Venv, fake_torch: Callable[..., Path], tmp_path: Path
) -> None:
    project = copy_project("setuppy-requires", tmp_path)
    site = fake_torch("2.8.0")
    result = pip_wheel(venv, project, tmp_path / "out", clean_env(PYTHONPATH=str(site)))
    assert_failed_with(result, "setup.py passes install_requires")


def test_in_tree_backend_wrapping_torchpins(
    venv: Venv, fake_torch: Callable[..., Path], tmp_path: Path
) -> None:
    project = copy_project("wrapped", tmp_path)
    site = fake_torch("2.7.1+cu128", cuda="12.8")
    result = pip_wheel(venv, project, tmp_path / "out", clean_env(PYTHONPATH=str(site)))
    assert result.returncode == 0, result.stdout + result.stderr
    metadata = parse_metadata(wheel_metadata_text(only(tmp_path / "out", "*.whl")))
    assert requirements(metadata) == canonical_set(
        {"einops>=0.8", "liger-kernel>=0.5", "torch==2.7.1"}
    )


def test_empty_base_lists_are_still_marked_dynamic_in_the_sdist(venv: Venv, tmp_path: Path) -> None:
    project = copy_project("bare", tmp_path)
    result = build_with(venv, project, tmp_path / "out", clean_env())
    assert result.returncode == 0, result.stdout + result.stderr
    text = sdist_pkg_info_text(only(tmp_path / "out", "bare-0.0.1.tar.gz"))
    assert dynamic_lines(text) == ["Dynamic: Requires-Dist", "Dynamic: Provides-Extra"]
    assert not parse_metadata(text).requires_dist
    # No torch installed: missing = "2.8.0+cu128" builds as if that torch were there.
    wheel = only(tmp_path / "out", "bare-0.0.1-*.whl")
    metadata = parse_metadata(wheel_metadata_text(wheel))
    assert requirements(metadata) == canonical_set(
        {"torch>=2.8", 'nvidia-cudnn-cu12>=9; extra == "cuda"'}
    )
    record = wheel_record(wheel)
    assert record["sources"]["torch"] == "assumed"
    assert record["facts"]["cuda"] == "12.8"


def test_setuptools_floor_builds_the_same_metadata(
    floor_venv: Venv, venv: Venv, fake_torch: Callable[..., Path], tmp_path: Path
) -> None:
    site = fake_torch("2.7.1+cu126", cuda="12.6")
    env = clean_env(PYTHONPATH=str(site))
    results = {}
    for name, environment in (("floor", floor_venv), ("newest", venv)):
        project = copy_project("kit", tmp_path / name)
        result = build_with(environment, project, tmp_path / f"{name}-out", env)
        assert result.returncode == 0, result.stdout + result.stderr
        sdist_text = sdist_pkg_info_text(only(tmp_path / f"{name}-out", "*.tar.gz"))
        assert dynamic_lines(sdist_text) == ["Dynamic: Provides-Extra", "Dynamic: Requires-Dist"]
        wheel = only(tmp_path / f"{name}-out", "*.whl")
        results[name] = requirements(parse_metadata(wheel_metadata_text(wheel)))
    assert results["floor"] == results["newest"]
    assert canonical_set({"xformers==0.0.31", "torch==2.7.*"}) <= results["floor"]
    version = floor_venv.run("-c", "import setuptools; print(setuptools.__version__)")
    assert version.stdout.strip() == "75.8.0"


def test_a_plain_setuptools_project_in_the_same_environment_is_untouched(
    venv: Venv, fake_torch: Callable[..., Path], tmp_path: Path
) -> None:
    project = tmp_path / "plain"
    (project / "src" / "plain").mkdir(parents=True)
    (project / "src" / "plain" / "__init__.py").write_text("")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "plain"\nversion = "1.0"\ndependencies = ["requests"]\n'
    )
    site = fake_torch("2.8.0")
    assert (
        pip_wheel(venv, project, tmp_path / "out", clean_env(PYTHONPATH=str(site))).returncode == 0
    )
    wheel = only(tmp_path / "out", "*.whl")
    text = wheel_metadata_text(wheel)
    assert requirements(parse_metadata(text)) == {"requests"}
    assert dynamic_lines(text) == []
    with zipfile.ZipFile(wheel) as archive:
        assert not [n for n in archive.namelist() if n.endswith("torchpins.json")]


def test_config_setting_beats_environment_beats_probe(
    venv: Venv, fake_torch: Callable[..., Path], tmp_path: Path
) -> None:
    site = fake_torch("2.6.0", cuda="12.4")
    env = clean_env(PYTHONPATH=str(site), TORCHPINS_TORCH="2.7.1+cu126")
    by_env = copy_project("kit", tmp_path / "env")
    assert pip_wheel(venv, by_env, tmp_path / "env-out", env).returncode == 0
    record = wheel_record(only(tmp_path / "env-out", "*.whl"))
    assert (record["facts"]["torch"], record["sources"]["torch"]) == ("2.7.1", "override")

    by_setting = copy_project("kit", tmp_path / "setting")
    result = pip_wheel(
        venv, by_setting, tmp_path / "setting-out", env, "-C", "torchpins.torch=2.8.0"
    )
    assert result.returncode == 0, result.stderr
    wheel = only(tmp_path / "setting-out", "*.whl")
    assert wheel_record(wheel)["facts"]["torch"] == "2.8.0"
    assert canonical_set({"torch==2.8.*"}) <= requirements(
        parse_metadata(wheel_metadata_text(wheel))
    )


def test_torchpins_builds_itself_from_its_own_sdist(tmp_path: Path) -> None:
    """The in-tree backend (backend-path) must travel in the sdist, and register the plug-ins."""
    source = tmp_path / "torchpins"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".venv"
        ),
    )
    result = run(
        [sys.executable, "-m", "build", "--no-isolation", "-o", str(tmp_path / "out"), str(source)]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sdist = only(tmp_path / "out", "torchpins-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    assert any(n.endswith("backend/torchpins_bootstrap.py") for n in names)
    assert any(n.endswith("backend/torchpins_bootstrap.dist-info/entry_points.txt") for n in names)
    wheel = only(tmp_path / "out", "torchpins-*.whl")  # built from the sdist by build
    metadata = parse_metadata(wheel_metadata_text(wheel))
    assert requirements(metadata) >= canonical_set({"setuptools>=75.8", "packaging>=24.2"})
    with zipfile.ZipFile(wheel) as archive:
        entry_points = next(n for n in archive.namelist() if n.endswith("entry_points.txt"))
        text = archive.read(entry_points).decode()
    assert "torchpins = torchpins._setuptools:finalize_distribution_options" in text
    assert "torchpins.json = torchpins._setuptools:write_build_record" in text


def test_torchpins_imported_but_not_installed_fails_instead_of_dropping_pins(
    fake_torch: Callable[..., Path], tmp_path: Path
) -> None:
    """Without torchpins' metadata its setuptools plug-in is not registered; setuptools alone
    would write a wheel with no requirements at all. The build must fail and keep nothing."""
    bare = Venv(tmp_path / "bare")
    assert run([sys.executable, "-m", "venv", str(bare.root)]).returncode == 0
    installed = bare.run("-m", "pip", "install", "-q", "setuptools>=75.8", "packaging")
    assert installed.returncode == 0, installed.stderr
    project = copy_project("kit", tmp_path)
    site = fake_torch("2.7.1+cu126", cuda="12.6")
    # The package alone: a source tree's stale torchpins.egg-info would register the plug-in.
    vendored = tmp_path / "vendored"
    shutil.copytree(ROOT / "src" / "torchpins", vendored / "torchpins")
    env = clean_env(PYTHONPATH=f"{site}{os.pathsep}{vendored}")
    result = pip_wheel(bare, project, tmp_path / "out", env)
    assert_failed_with(result, "torchpins' setuptools plug-in did not run")
    assert not list((tmp_path / "out").glob("*.whl")) if (tmp_path / "out").exists() else True
