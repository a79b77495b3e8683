"""Hostile inputs, one table per class: GPU stand-ins that crash, hang or lie; broken torch
installs; hostile configuration and environment; concurrent builds; sdist round trips and files
that are not torchpins'. Each ends in one ``torchpins: error:`` line and no wheel, or a correct
wheel whose METADATA, build record and guard agree. Stand-ins, not GPUs: the suite stays fast."""

from __future__ import annotations

import concurrent.futures
import json
import subprocess
import sys
import tarfile
import textwrap
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests.conftest import GpuStandIns
from tests.helpers import (
    ROOT,
    Venv,
    assert_failed_with,
    assert_no_traceback,
    clean_env,
    copy_project,
    in_process,
    make_fake_torch,
    only,
    pip_wheel,
    run,
    wheel_metadata_text,
    wheel_record,
)

EXAMPLE = ROOT / "examples" / "finetune-app"
HUGE = "2." + "1" * 5000  # beyond Python's int conversion limit


cli = in_process


def probe_all(env: dict[str, str]) -> tuple[dict[str, Any], str]:
    result = run([sys.executable, "-m", "torchpins", "probe", "--all", "--json"], env=env)
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result.stderr)
    return json.loads(result.stdout), result.stderr


def write_project(directory: Path, body: str, name: str = "hostile") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "1.0"\ndynamic = ["dependencies"]\n\n'
        + textwrap.dedent(body),
        encoding="utf-8",
    )
    return directory


def example_copy(tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "finetune-app"
    ignore = shutil.ignore_patterns("build", "*.egg-info", "_torch_guard.py")
    shutil.copytree(EXAMPLE, target, ignore=ignore)
    return target


def guard_built_for(wheel: Path) -> dict[str, Any]:
    """BUILT_FOR of the guard module inside a wheel, read as the module states it."""
    import ast

    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith("_torch_guard.py")]
        tree = ast.parse(archive.read(name))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "BUILT_FOR":
            value: dict[str, Any] = ast.literal_eval(node.value)
            return value
    raise AssertionError("no BUILT_FOR in the guard")


def torch_pin(metadata: str) -> str:
    lines = [line for line in metadata.splitlines() if line.startswith("Requires-Dist: torch=")]
    assert len(lines) == 1, lines
    return str(Requirement(lines[0].removeprefix("Requires-Dist: ")).specifier)


# --------------------------------------------------------------------------------------------
# GPU stand-ins that crash, hang or lie: the build never goes down with them


GPU_CASES = [
    # (stand-ins and variables, fact, expected value, words in the detail or a warning)
    ({"nvml": True, "libcuda": True, "FAKE_NVML_INIT": "segv", "FAKE_CUDA_DRIVER": "12040"},
     "gpu-arch", None, "reading nvml failed: python"),
    ({"nvml": True, "FAKE_NVML_COUNT": "4000000000"}, "gpu-arch", None,
     "reports 4000000000 GPUs, more than any machine has"),
    ({"nvml": True, "FAKE_NVML_GPUS": "-1.0"}, "gpu-arch", None,
     "reports a GPU with the compute capability"),
    ({"nvml": True, "FAKE_NVML_CUDA": "999999999"}, "cuda-driver", None,
     "reports the CUDA version 999999999, which is not one"),
    ({"nvml": True, "FAKE_NVML_COUNT": "4000000000", "smi": True}, "gpu-arch", ["8.6", "9.0"],
     "nvidia-smi"),
    ({"smi": True, "FAKE_SMI": "flood"}, "cuda-driver", None,
     "printed more than 1048576 bytes and was stopped"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("setup", "fact", "expected", "words"),
    GPU_CASES,
    ids=["nvml-segfault", "nvml-4-billion-gpus", "negative-capability", "absurd-driver",
         "lying-nvml-then-smi", "endless-nvidia-smi"],
)  # fmt: skip
def test_gpu_stand_ins_that_crash_or_lie(
    gpu: GpuStandIns, setup: dict[str, Any], fact: str, expected: object, words: str
) -> None:
    flags = {k: setup[k] for k in ("nvml", "libcuda", "nvcc", "smi") if k in setup}
    extra = {k: v for k, v in setup.items() if k not in flags}
    started = time.monotonic()
    facts, stderr = probe_all(gpu.env(**flags, **extra))
    assert facts[fact]["value"] == expected
    assert words in facts[fact]["detail"] + stderr, (facts[fact], stderr)
    assert time.monotonic() - started < 30  # bounded: no endless loop or read


def test_an_nvml_that_crashes_ends_its_child_not_the_build(gpu: GpuStandIns) -> None:
    env = gpu.env(nvml=True, libcuda=True, FAKE_NVML_INIT="segv", FAKE_CUDA_DRIVER="12040")
    facts, _ = probe_all(env)
    assert facts["cuda-driver"]["value"] == "12.4"  # libcuda answered instead
    assert "killed by signal 11" in facts["gpu-arch"]["detail"]


def test_a_hanging_nvml_is_stopped_and_the_build_goes_on(gpu: GpuStandIns) -> None:
    facts, stderr = probe_all(gpu.env(nvml=True, smi=True, FAKE_NVML_INIT="hang"))
    assert facts["cuda-driver"]["value"] == "12.4"  # nvidia-smi answered instead
    assert "reading nvml failed" in stderr
    assert "did not answer within 10 s" in stderr  # a warning: the build was slowed


def test_lazy_facts_are_probed_once_per_pip_build(
    venv: Venv, gpu: GpuStandIns, fake_torch: Callable[..., Path], tmp_path: Path
) -> None:
    """pip runs prepare_metadata_for_build_wheel and build_wheel in two processes; the second
    reuses the facts the first recorded, so each GPU tool runs once."""
    marker = tmp_path / "calls"
    site = fake_torch("2.7.1+cu126", cuda="12.6", cxx11abi=True)
    env = gpu.env(nvml=True, nvcc=True, smi=True, PYTHONPATH=str(site),
                  FAKE_GPU_MARKER=str(marker))  # fmt: skip
    project = copy_project("gpukit", tmp_path)
    result = run(
        [venv.python, "-m", "pip", "install", "--no-build-isolation", "--no-deps",
         "--no-cache-dir", "--target", str(tmp_path / "t"), str(project)],
        env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    calls = marker.read_text().split()
    assert calls.count("nvml") == 1, calls
    assert calls.count("nvcc") == 1, calls


# --------------------------------------------------------------------------------------------
# Broken torch installs

NEEDS_BUILD = """
[tool.torchpins]
dependencies = ["a"]

[[tool.torchpins.matrix]]
when = { accelerator = "cuda" }
add = ["cuda-only"]
"""

VERSION_PY_CASES = [
    # (version.py text, torch version, outcome: "error" words, or the cuda fact it must give)
    ("__version__ = '2.8.0+cu128'\ncuda = '12' + '.8'\nhip = None\n", "2.8.0+cu128",
     ("ok", "12.8")),
    ("__version__ = '2.8.0'\ncuda = '12' + '.8'\nhip = None\n", "2.8.0",
     ("error", "computes cuda (line 2) instead of stating it")),
    # Python 3.11 runs out of memory parsing it, 3.13's parser overflows its stack: one line both
    ("x = " + "-" * 60_000 + "1\n", "2.8.0", ("error", "version.py does not parse (")),
    ("cuda = None\n" + "# padding\n" * 200_000, "2.8.0", ("error", "is larger than 65536 bytes")),
    ("cuda = '\xff'\n".encode("latin-1").decode("latin-1"), "2.8.0", ("ok", None)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "version", "outcome"),
    VERSION_PY_CASES,
    ids=["computed-with-label", "computed-without-label", "deeply-nested", "huge", "latin-1"],
)
def test_torch_version_py_is_read_defensively(
    tmp_path: Path, text: str, version: str, outcome: tuple[str, str | None]
) -> None:
    site = make_fake_torch(tmp_path / "site", version)
    (site / "torch" / "version.py").write_bytes(text.encode("utf-8", "surrogateescape"))
    project = write_project(tmp_path / "p", NEEDS_BUILD)
    result = run(
        [sys.executable, "-m", "torchpins", "resolve", "--json", str(project)],
        env=clean_env(PYTHONPATH=str(site)),
    )
    assert_no_traceback(result.stderr)
    kind, expected = outcome
    if kind == "error":
        assert_failed_with(result, expected or "", "Reinstall torch")
        assert len(result.stderr.strip().splitlines()) == 1
    else:
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["facts"]["cuda"] == expected


def test_a_torch_whose_version_has_thousands_of_digits_is_no_torch(
    venv: Venv, tmp_path: Path
) -> None:
    metadata = tmp_path / "site" / "torch.dist-info"  # the version only in METADATA
    metadata.mkdir(parents=True)
    (metadata / "METADATA").write_text(f"Metadata-Version: 2.1\nName: torch\nVersion: {HUGE}\n")
    site = metadata.parent
    project = write_project(tmp_path / "p", NEEDS_BUILD)
    result = venv.run(
        "-m", "torchpins", "resolve", str(project), env=clean_env(PYTHONPATH=str(site))
    )
    assert_failed_with(result, "torch is not installed")


# --------------------------------------------------------------------------------------------
# Hostile configuration

CONFIG_CASES = [
    (f'[tool.torchpins]\ndependencies = ["a"]\n[[tool.torchpins.matrix]]\n'
     f'when = {{ torch = ">={HUGE}" }}\nadd = ["b"]\n',
     "tool.torchpins.matrix[0].when.torch: '>=2.111"),
    (f'[tool.torchpins]\ndependencies = ["a"]\n[[tool.torchpins.matrix]]\n'
     f'pins = {{ a = "=={HUGE}" }}\n',
     "tool.torchpins.matrix[0].pins.a: '==2.111"),
    ('[project.optional-dependencies]\nx = ["y"]\n[tool.torchpins]\ndependencies = ["a"]\n',
     "project.optional-dependencies is set statically"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "words"), CONFIG_CASES, ids=["huge-condition", "huge-pin",
                                                                "static-extras"])  # fmt: skip
def test_hostile_configuration_is_one_clear_error(tmp_path: Path, body: str, words: str) -> None:
    text = body
    if body.startswith("[project.optional-dependencies]"):
        # the static table belongs inside [project]
        _, _, rest = body.partition("[tool.torchpins]")
        project = tmp_path / "p"
        project.mkdir()
        (project / "pyproject.toml").write_text(
            '[project]\nname = "hostile"\nversion = "1.0"\ndynamic = ["dependencies"]\n'
            'optional-dependencies = { x = ["y"] }\n\n[tool.torchpins]' + rest
        )
    else:
        project = write_project(tmp_path / "p", text)
    code, _, err = cli("resolve", str(project), "--set", "torch=2.8.0")
    assert code == 1
    assert words in err, err
    assert len(err.strip().splitlines()) == 1
    assert len(err) < 1000  # a huge value is shortened, never echoed whole


def test_a_marker_whose_value_holds_the_word_extra_is_passed_through(tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "p",
        """
        [tool.torchpins]
        dependencies = ["a; platform_release == 'extra-1'"]
        """,
    )
    code, out, err = cli("resolve", "--json", str(project), "--set", "torch=2.8.0")
    assert code == 0, err
    assert 'a; platform_release == "extra-1"' in json.loads(out)["requires_dist"]


def test_an_epoch_torch_gets_a_pin_that_admits_it(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", '[tool.torchpins]\ndependencies = ["a"]\n')
    code, out, err = cli("resolve", "--json", str(project), "--set", "torch=1!2.8.0+cu128")
    assert code == 0, err
    (pin,) = [r for r in json.loads(out)["requires_dist"] if r.startswith("torch")]
    assert Requirement(pin).specifier.contains(Version("1!2.8.0"))


def test_check_knows_a_range_between_two_patch_releases_can_hold(tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "p",
        """
        [tool.torchpins]
        dependencies = ["a"]
        unmatched = "ignore"

        [[tool.torchpins.matrix]]
        when = { torch = ">2.7.1,<2.7.2" }
        add = ["b"]
        """,
    )
    _, out, _ = cli("check", "--json", str(project))
    assert not [f for f in json.loads(out) if "can never hold" in f["message"]], out


def test_check_and_table_consider_no_torch_when_missing_is_unpinned(tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "p",
        """
        [tool.torchpins]
        dependencies = ["a"]

        [tool.torchpins.torch]
        missing = "unpinned"

        [[tool.torchpins.matrix]]
        when = { torch = ">=2.6" }
        add = ["b"]
        """,
    )
    code, out, err = cli("table", "--format", "json", str(project))
    assert code == 0, err
    entries = json.loads(out)
    no_torch = [e for e in entries if e["environment"]["torch"] is None]
    assert no_torch, entries
    assert no_torch[0]["requires_dist"] == ["a"]


# --------------------------------------------------------------------------------------------
# Hostile environment

ENVIRONMENT_CASES = [
    ({"TORCHPINS_TORCH": HUGE}, "TORCHPINS_TORCH: '2.111"),
    ({"TORCHPINS_TORCH_LOCAL": "9" * 5000}, "TORCHPINS_TORCH_LOCAL: '999"),
    ({"TORCHPINS_PYTHON": "3.14.0a1+"}, "TORCHPINS_PYTHON: '3.14.0a1+' is not a valid version"),
    ({"TORCHPINS_TORCH": ""}, "TORCHPINS_TORCH is set empty, which means no torch"),
]


@pytest.mark.parametrize(
    ("environ", "words"),
    ENVIRONMENT_CASES,
    ids=["huge-torch", "huge-label", "python-dev", "empty"],
)
def test_hostile_environment_is_one_clear_error(environ: dict[str, str], words: str) -> None:
    result = run([sys.executable, "-m", "torchpins", "resolve", str(EXAMPLE)],
                 env=clean_env(**environ))  # fmt: skip
    assert_failed_with(result, words)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "build isolation" not in result.stderr


def test_a_python_dev_build_is_a_valid_python_fact() -> None:
    from torchpins.probe import python_version

    assert python_version((3, 14, 0, "alpha", 1)) == "3.14.0a1"
    assert python_version((3, 13, 1, "final", 0)) == "3.13.1"
    assert python_version((3, 14, 0, "candidate", 2)) == "3.14.0rc2"


def test_no_torch_without_isolation_does_not_blame_isolation(venv: Venv) -> None:
    result = venv.run("-m", "torchpins", "resolve", str(EXAMPLE), env=clean_env())
    assert_failed_with(result, "has no torch", "Install torch there first")
    assert "isolat" not in result.stderr


def test_a_leftover_virtual_env_with_torch_is_no_sign_of_isolation(
    venv: Venv, tmp_path: Path
) -> None:
    """VIRTUAL_ENV names another environment, which has torch (a shell where one was activated,
    or a test runner's), but the build runs in an ordinary one without: not isolation."""
    other = tmp_path / "other-env"
    make_fake_torch(other / "lib" / "python3.11" / "site-packages", "2.8.0+cu128")
    result = venv.run(
        "-m", "torchpins", "resolve", str(EXAMPLE), env=clean_env(VIRTUAL_ENV=str(other))
    )
    assert_failed_with(result, "has no torch", "Install torch there first")
    assert "isolat" not in result.stderr


@pytest.mark.parametrize("command", [["table", str(EXAMPLE)], ["resolve", str(EXAMPLE)]])
def test_output_piped_into_head_ends_quietly(command: list[str]) -> None:
    shell = (
        f"{sys.executable} -m torchpins {' '.join(command)} --set torch=2.8.0+cu128 | head -c 10"
    )
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", shell], capture_output=True, text=True, check=False
    )
    assert_no_traceback(result.stderr)
    assert "BrokenPipe" not in result.stderr
    assert result.stdout


def test_a_garbage_source_date_epoch_is_one_clear_error(venv: Venv, tmp_path: Path) -> None:
    project = copy_project("kit", tmp_path)
    for epoch in ("yesterday", "9" * 40, "-5"):
        result = venv.run(
            "-m", "build", "--no-isolation", "--sdist", "-o", str(tmp_path / "out"), str(project),
            env=clean_env(SOURCE_DATE_EPOCH=epoch, TORCHPINS_TORCH="2.8.0"),
        )  # fmt: skip
        assert_failed_with(result, "SOURCE_DATE_EPOCH=", "is not a time")


def test_inspect_of_a_wheel_with_a_non_utf8_record(tmp_path: Path) -> None:
    wheel = tmp_path / "bad-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("bad-1.0.dist-info/METADATA", b"Name: bad\nVersion: \xff\n")
        archive.writestr("bad-1.0.dist-info/torchpins.json", b'{"facts": {"torch": "\xff"}}')
    result = run([sys.executable, "-m", "torchpins", "inspect", str(wheel)])
    assert_no_traceback(result.stderr)
    assert result.returncode in (0, 1)


def test_cuda_compiler_named_by_cudacxx_comes_first(gpu: GpuStandIns) -> None:
    env = gpu.env(FAKE_NVCC_RELEASE="12.6", CUDACXX=str(gpu.nvcc / "nvcc"))
    facts, _ = probe_all(env)
    assert facts["nvcc"]["value"] == "12.6"
    assert "found via $CUDACXX" in facts["nvcc"]["detail"]


def test_the_guard_raises_its_documented_error_for_an_unreadable_torch(tmp_path: Path) -> None:
    from torchpins.guard import render
    from torchpins.settings import load_project

    project = load_project(EXAMPLE)
    assert project.settings.guard is not None
    text = render(project, project.settings.guard, {"torch": "2.8.0", "torch-local": "cu128"})
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "the_guard.py").write_text(text)
    site = make_fake_torch(tmp_path / "site", "2.8.0+cu128")
    (metadata,) = site.glob("torch-*.dist-info")
    (metadata / "METADATA").write_bytes(b"Metadata-Version: 2.1\nName: torch\nVersion: \xff\xfe\n")
    result = run(
        [sys.executable, "-c", "import the_guard"],
        env=clean_env(PYTHONPATH=f"{package}:{site}"),
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: finetune-app 0.3.0 was built for torch 2.8.0+cu128"), last
    assert "the installed torch cannot be read" in last


# --------------------------------------------------------------------------------------------
# Concurrency: one build, one set of facts

TORCHES = ["2.6.0+cu124", "2.7.1+cu126", "2.7.1+cu128", "2.8.0+cu128",
           "2.8.0+cpu", "2.7.1+cpu", "2.6.0+cpu", "2.8.0+cu126"]  # fmt: skip


def test_concurrent_builds_of_one_tree_each_get_their_own_facts(venv: Venv, tmp_path: Path) -> None:
    source = example_copy(tmp_path)

    def build(torch: str) -> tuple[str, subprocess.CompletedProcess[str], Path]:
        out = tmp_path / f"out-{torch}"
        return torch, pip_wheel(venv, source, out, clean_env(TORCHPINS_TORCH=torch)), out

    with concurrent.futures.ThreadPoolExecutor(len(TORCHES)) as pool:
        results = list(pool.map(build, TORCHES))
    for torch, result, out in results:
        assert result.returncode == 0, result.stderr
        wheel = only(out, "*.whl")
        record = wheel_record(wheel)
        built = f"{record['facts']['torch']}+{record['facts']['torch-local']}"
        assert built == torch
        minor = ".".join(torch.split(".")[:2])
        assert torch_pin(wheel_metadata_text(wheel)) == f"=={minor}.*"
        guard = guard_built_for(wheel)
        assert f"{guard['torch']}+{guard['torch-local']}" == torch
    assert not (source / "src" / "finetune_app" / "_torch_guard.py").exists()  # the tree: untouched


def test_prepared_metadata_for_one_torch_and_a_wheel_for_another_is_refused(
    venv: Venv, tmp_path: Path
) -> None:
    source = example_copy(tmp_path)
    script = textwrap.dedent(
        """
        import os, sys
        from pyproject_hooks import BuildBackendHookCaller, default_subprocess_runner

        def runner(torch):
            def run(cmd, cwd=None, extra_environ=None):
                env = dict(extra_environ or {}, TORCHPINS_TORCH=torch)
                default_subprocess_runner(cmd, cwd, env)
            return run

        source, out = sys.argv[1], sys.argv[2]
        backend = "torchpins.build_meta"
        prepare = BuildBackendHookCaller(source, backend, runner=runner("2.7.1+cu126"))
        name = prepare.prepare_metadata_for_build_wheel(out)
        build = BuildBackendHookCaller(source, backend, runner=runner(sys.argv[3]))
        print(build.build_wheel(out, metadata_directory=os.path.join(out, name)))
        """
    )
    out = tmp_path / "out"
    out.mkdir()
    result = venv.run("-c", script, str(source), str(out), "2.8.0+cu128", env=clean_env())
    assert result.returncode != 0
    assert "torchpins: error: the metadata prepared for this build" in result.stderr
    assert "torch 2.7.1, torch-local cu126" in result.stderr
    assert "torch 2.8.0, torch-local cu128" in result.stderr
    assert not list(out.glob("*.whl"))
    again = venv.run("-c", script, str(source), str(out), "2.7.1+cu126", env=clean_env())
    assert again.returncode == 0, again.stderr
    wheel = only(out, "*.whl")
    assert guard_built_for(wheel)["torch-local"] == "cu126"
    assert torch_pin(wheel_metadata_text(wheel)) == "==2.7.*"


# --------------------------------------------------------------------------------------------
# Files that are not torchpins', and sdist round trips


def test_guard_file_pointing_at_a_user_module_is_refused(venv: Venv, tmp_path: Path) -> None:
    source = example_copy(tmp_path)
    pyproject = source / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'file = "src/finetune_app/_torch_guard.py"', 'file = "src/finetune_app/__init__.py"'
        )
    )
    init = source / "src" / "finetune_app" / "__init__.py"
    before = init.read_bytes()
    for editable in (False, True):
        extra = ["-e", str(source)] if editable else [str(source)]
        result = run(
            [venv.python, "-m", "pip", "install", "--no-build-isolation", "--no-deps",
             "--no-cache-dir", "--dry-run", *extra],
            env=clean_env(TORCHPINS_TORCH="2.8.0+cu128"),
        )  # fmt: skip
        assert_failed_with(result, "is a file torchpins did not write", "will not replace it")
        assert init.read_bytes() == before


def test_a_wheel_for_another_torch_leaves_the_editable_guard_alone(
    venv: Venv, tmp_path: Path
) -> None:
    from tests.helpers import overlay_venv

    source = example_copy(tmp_path)
    dev, _ = overlay_venv(venv, tmp_path / "dev")
    result = run(
        [dev.python, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "-e",
         str(source)],
        env=clean_env(TORCHPINS_TORCH="2.7.1+cu126"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    guard = source / "src" / "finetune_app" / "_torch_guard.py"
    written = guard.read_text()
    assert "'torch-local': 'cu126'" in written
    result = pip_wheel(venv, source, tmp_path / "out", clean_env(TORCHPINS_TORCH="2.8.0+cpu"))
    assert result.returncode == 0, result.stderr
    assert guard.read_text() == written  # the developer's editable install still fits
    assert guard_built_for(only(tmp_path / "out", "*.whl"))["torch-local"] == "cpu"


def test_the_sdist_carries_no_build_data(venv: Venv, tmp_path: Path) -> None:
    source = example_copy(tmp_path)
    env = clean_env(TORCHPINS_TORCH="2.8.0+cu128")
    # An editable build writes the guard into the tree; a wheel build leaves its record behind
    # in whatever egg-info setuptools keeps. Neither may reach the sdist.
    dev_install = run(
        [venv.python, "-m", "pip", "install", "--no-build-isolation", "--no-deps",
         "--target", str(tmp_path / "t"), "-e", str(source)],
        env=env,
    )  # fmt: skip
    assert (source / "src" / "finetune_app" / "_torch_guard.py").exists() or (
        dev_install.returncode != 0
    )
    assert pip_wheel(venv, source, tmp_path / "w", env).returncode == 0
    result = venv.run(
        "-m", "build", "--no-isolation", "--sdist", "-o", str(tmp_path / "s"), str(source), env=env
    )
    assert result.returncode == 0, result.stderr
    with tarfile.open(only(tmp_path / "s", "*.tar.gz")) as archive:
        names = archive.getnames()
    assert not [n for n in names if n.endswith("torchpins.json")], names
    assert not [n for n in names if n.endswith("_torch_guard.py")], names
    assert [n for n in names if n.endswith("PKG-INFO")]
