"""The lazy facts, probed through their real code paths: a gcc-compiled NVML and libcuda loaded by
the system loader, nvcc and nvidia-smi scripts run as subprocesses, the real CPU torch's libc10.so
for the C++ ABI. No GPU exists here; see tests/stand-ins."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GpuStandIns
from tests.helpers import (
    Venv,
    assert_failed_with,
    assert_no_traceback,
    clean_env,
    copy_project,
    make_fake_torch,
    only,
    parse_metadata,
    pip_wheel,
    requirements,
    run,
    wheel_record,
)
from torchpins import hardware
from torchpins.hardware import Gpu, visible_gpus

UUID0 = "GPU-0abcdef0-0000-0000-0000-000000000000"
UUID1 = "GPU-1abcdef0-0000-0000-0000-000000000001"


def probe_all(env: dict[str, str]) -> dict[str, Any]:
    result = run([sys.executable, "-m", "torchpins", "probe", "--all", "--json"], env=env)
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result.stderr)
    document: dict[str, Any] = json.loads(result.stdout)
    return document


# --------------------------------------------------------------------------------------------
# probe --all


@pytest.mark.real_torch
def test_probe_all_reads_nvml_nvcc_and_the_real_torch_abi(gpu: GpuStandIns) -> None:
    facts = probe_all(gpu.env(nvml=True, nvcc=True))
    assert facts["cuda-driver"]["value"] == "12.8"
    assert facts["cuda-driver"]["source"] == "probed"
    assert "NVML (libnvidia-ml.so.1)" in facts["cuda-driver"]["detail"]
    assert facts["gpu-arch"]["value"] == ["8.0", "9.0"]
    assert "GPU 0 8.0, GPU 1 9.0" in facts["gpu-arch"]["detail"]
    assert facts["nvcc"]["value"] == "12.8"
    assert str(gpu.nvcc / "nvcc") in facts["nvcc"]["detail"]
    assert "V12.8.93" in facts["nvcc"]["detail"]
    # The real CPU torch 2.13.0 is a C++11 ABI build; its flag is read from libc10.so.
    assert facts["cxx11abi"]["value"] is True
    assert "libc10.so" in facts["cxx11abi"]["detail"]


def test_probe_all_on_a_machine_without_gpu_says_why_each_is_absent(gpu: GpuStandIns) -> None:
    import ctypes

    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        pass
    else:
        pytest.skip("this machine has a real NVIDIA driver")
    result = run([sys.executable, "-m", "torchpins", "probe", "--all"], env=gpu.env())
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    for fact in ("cuda-driver", "gpu-arch"):
        assert "(absent)" in lines[fact]
        assert "libnvidia-ml.so.1 could not be loaded" in lines[fact]
        assert "nvidia-smi is not on PATH" in lines[fact]
    assert "libcuda.so.1 could not be loaded" in lines["cuda-driver"]
    facts = probe_all(gpu.env())
    assert facts["cuda-driver"]["value"] is None
    assert facts["gpu-arch"]["value"] is None


def test_probe_without_all_leaves_the_lazy_facts_out(gpu: GpuStandIns) -> None:
    result = run(
        [sys.executable, "-m", "torchpins", "probe"],
        env=gpu.env(nvml=True, nvcc=True),
    )
    assert result.returncode == 0
    assert "cuda-driver" not in result.stdout.split("probed only when")[0]
    assert "(or with --all): cxx11abi, nvcc, cuda-driver, gpu-arch" in result.stdout


@pytest.mark.parametrize(
    ("visible", "expected", "note"),
    [
        ("1", ["9.0"], "leaves GPU 1"),
        ("1,0", ["8.0", "9.0"], "leaves GPU 1, GPU 0"),
        ("", [], "leaves none"),
        ("-1", [], "leaves none"),
        ("0,7,1", ["8.0"], "leaves GPU 0"),  # CUDA stops at the first entry naming no GPU
        ("GPU-1abc", ["9.0"], "leaves GPU 1"),  # a unique UUID prefix
        ("GPU-", [], "leaves none"),  # a prefix of both names neither
    ],
)
def test_gpu_arch_honours_cuda_visible_devices(
    gpu: GpuStandIns, visible: str, expected: list[str], note: str
) -> None:
    facts = probe_all(gpu.env(nvml=True, CUDA_VISIBLE_DEVICES=visible))
    assert facts["gpu-arch"]["value"] == expected
    assert f"CUDA_VISIBLE_DEVICES={visible!r} {note}" in facts["gpu-arch"]["detail"]


def test_libcuda_then_nvidia_smi_when_nvml_is_missing(gpu: GpuStandIns) -> None:
    facts = probe_all(gpu.env(libcuda=True, smi=True, FAKE_CUDA_DRIVER="12020"))
    assert facts["cuda-driver"]["value"] == "12.2"
    assert facts["cuda-driver"]["detail"] == "cuDriverGetVersion (libcuda.so.1)"
    # libcuda does not list GPUs here; nvidia-smi does.
    assert facts["gpu-arch"]["value"] == ["8.6", "9.0"]
    assert "nvidia-smi --query-gpu=index,uuid,compute_cap" in facts["gpu-arch"]["detail"]


def test_nvidia_smi_alone(gpu: GpuStandIns) -> None:
    facts = probe_all(gpu.env(smi=True, CUDA_VISIBLE_DEVICES="GPU-0abc"))
    assert facts["cuda-driver"]["value"] == "12.4"
    assert "CUDA Version" in facts["cuda-driver"]["detail"]
    assert facts["gpu-arch"]["value"] == ["8.6"]


def test_nvml_that_fails_to_initialise_falls_back_and_says_why(gpu: GpuStandIns) -> None:
    facts = probe_all(gpu.env(nvml=True, smi=True, FAKE_NVML_INIT="9"))
    assert facts["cuda-driver"]["value"] == "12.4"  # from nvidia-smi
    facts = probe_all(gpu.env(nvml=True, FAKE_NVML_INIT="9"))
    assert facts["cuda-driver"]["value"] is None
    assert "NVML_ERROR_DRIVER_NOT_LOADED" in facts["cuda-driver"]["detail"]


def test_hanging_nvidia_smi_is_stopped_with_its_children(gpu: GpuStandIns, tmp_path: Path) -> None:
    pid_file = tmp_path / "smi.pid"
    env = gpu.env(smi=True, FAKE_SMI="hang", FAKE_SMI_PID=str(pid_file))
    started = time.monotonic()
    result = run([sys.executable, "-m", "torchpins", "probe", "--all", "--json"], env=env)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["cuda-driver"]["value"] is None
    assert "did not answer within 10 s and was stopped" in facts["cuda-driver"]["detail"]
    assert "did not answer within 10 s" in result.stderr  # a warning the user sees
    # Once stopped, nvidia-smi is not asked again for gpu-arch: one timeout, not two.
    assert elapsed < 2 * hardware.TOOL_TIMEOUT, elapsed
    child = int(pid_file.read_text())
    status = Path(f"/proc/{child}/status")
    if status.exists():  # gone, or a zombie waiting for init to reap it
        assert "State:\tZ" in status.read_text()


# --------------------------------------------------------------------------------------------
# Overrides


def test_conda_overrides_name_the_driver_and_arch(gpu: GpuStandIns) -> None:
    facts = probe_all(
        gpu.env(nvml=True, CONDA_OVERRIDE_CUDA="12.4", CONDA_OVERRIDE_CUDA_ARCH="8.6")
    )
    assert facts["cuda-driver"] == {
        "value": "12.4",
        "source": "override",
        "detail": "CONDA_OVERRIDE_CUDA",
        "problem": None,
    }
    assert facts["gpu-arch"]["value"] == ["8.6"]
    assert facts["gpu-arch"]["detail"] == "CONDA_OVERRIDE_CUDA_ARCH"


def test_torchpins_variable_beats_conda_override_and_empty_means_absent(
    gpu: GpuStandIns,
) -> None:
    facts = probe_all(gpu.env(nvml=True, CONDA_OVERRIDE_CUDA="12.4", TORCHPINS_CUDA_DRIVER="13.0"))
    assert facts["cuda-driver"]["value"] == "13.0"
    assert facts["cuda-driver"]["detail"] == "TORCHPINS_CUDA_DRIVER"
    facts = probe_all(gpu.env(nvml=True, CONDA_OVERRIDE_CUDA=""))
    assert facts["cuda-driver"]["value"] is None
    assert facts["cuda-driver"]["source"] == "override"


def test_bad_conda_override_names_the_variable(gpu: GpuStandIns) -> None:
    result = run(
        [sys.executable, "-m", "torchpins", "probe", "--all"],
        env=gpu.env(CONDA_OVERRIDE_CUDA="twelve"),
    )
    assert_failed_with(result, "CONDA_OVERRIDE_CUDA: 'twelve' is not a valid version")
    assert result.returncode == 1


# --------------------------------------------------------------------------------------------
# nvcc


def test_cuda_home_comes_before_path(gpu: GpuStandIns, tmp_path: Path) -> None:
    home = tmp_path / "cuda-12.4"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "nvcc").write_text(
        "#!/bin/sh\necho 'Cuda compilation tools, release 12.4, V12.4.131'\n"
    )
    (home / "bin" / "nvcc").chmod(0o755)
    facts = probe_all(gpu.env(nvcc=True, CUDA_HOME=str(home)))
    assert facts["nvcc"]["value"] == "12.4"
    assert "found via $CUDA_HOME/bin" in facts["nvcc"]["detail"]
    facts = probe_all(gpu.env(nvcc=True, CUDA_PATH=str(home)))
    assert facts["nvcc"]["value"] == "12.4"
    assert "found via $CUDA_PATH/bin" in facts["nvcc"]["detail"]
    # A CUDA_HOME without nvcc falls through to PATH.
    facts = probe_all(gpu.env(nvcc=True, CUDA_HOME=str(tmp_path)))
    assert facts["nvcc"]["value"] == "12.8"
    assert "found via PATH" in facts["nvcc"]["detail"]


def test_nvcc_that_prints_no_release_is_absent_with_the_reason(
    gpu: GpuStandIns, tmp_path: Path
) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "nvcc").write_text("#!/bin/sh\necho 'nvcc: command failed'\nexit 3\n")
    (tmp_path / "bin" / "nvcc").chmod(0o755)
    facts = probe_all(gpu.env(CUDA_HOME=str(tmp_path)))
    assert facts["nvcc"]["value"] is None
    assert "nvcc exited with status 3: nvcc: command failed" in facts["nvcc"]["detail"]


def test_no_nvcc_anywhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(hardware, "DEFAULT_CUDA_HOMES", (str(tmp_path),))
    reading = hardware.probe_nvcc({"PATH": str(tmp_path)})
    assert reading.value is None
    assert reading.detail == f"no nvcc: {tmp_path} has no nvcc; PATH has no nvcc"


# --------------------------------------------------------------------------------------------
# CUDA_VISIBLE_DEVICES, unit by unit

GPUS = (Gpu(0, UUID0, "8.0"), Gpu(1, UUID1, "9.0"))


@pytest.mark.parametrize(
    ("spec", "indices"),
    [
        (None, [0, 1]),
        ("0", [0]),
        (" 1 , 0 ", [1, 0]),
        ("0,0", [0]),  # a repeated entry ends the list
        ("2", []),
        ("0,junk,1", [0]),
        ("gpu-0ABC", [0]),  # UUIDs compare without case
        ("MIG-1234", []),
    ],
)
def test_visible_gpus(spec: str | None, indices: list[int]) -> None:
    chosen, _ = visible_gpus(GPUS, spec)
    assert [gpu.index for gpu in chosen] == indices


# --------------------------------------------------------------------------------------------
# cxx11abi


@pytest.mark.parametrize("flag", [True, False])
def test_cxx11abi_from_torch_cmake_config(
    gpu: GpuStandIns, fake_torch: Callable[..., Path], flag: bool
) -> None:
    site = fake_torch("2.6.0+cu124", cuda="12.4", cxx11abi=flag)
    facts = probe_all(gpu.env(PYTHONPATH=str(site)))
    assert facts["cxx11abi"]["value"] is flag
    assert "TorchConfig.cmake" in facts["cxx11abi"]["detail"]


def test_cxx11abi_last_resort_imports_torch_in_a_subprocess(
    gpu: GpuStandIns, fake_torch: Callable[..., Path]
) -> None:
    init = "class _C:\n    _GLIBCXX_USE_CXX11_ABI = False\n"
    site = fake_torch("2.5.1", init=init)
    facts = probe_all(gpu.env(PYTHONPATH=str(site)))
    assert facts["cxx11abi"]["value"] is False
    assert facts["cxx11abi"]["detail"] == (
        "torch._C._GLIBCXX_USE_CXX11_ABI (imported in a subprocess)"
    )


def test_cxx11abi_that_cannot_be_read_is_unknown_and_stops_a_build_that_needs_it(
    venv: Venv, gpu: GpuStandIns, fake_torch: Callable[..., Path], tmp_path: Path
) -> None:
    site = fake_torch("2.7.1+cu126", cuda="12.6")  # no cmake flag, no libc10, import raises
    facts = probe_all(gpu.env(PYTHONPATH=str(site)))
    assert facts["cxx11abi"]["value"] is None
    assert "fake torch: torchpins must never import torch" in facts["cxx11abi"]["problem"]
    project = copy_project("gpukit", tmp_path)
    result = pip_wheel(venv, project, tmp_path / "out", gpu.env(PYTHONPATH=str(site)))
    # The whole cause reaches the user: the message is never edited after it is written (an
    # apostrophe in "torch's" once made a quote-shortener cut out its middle).
    assert_failed_with(
        result,
        "torch's ABI flag could not be read: neither",
        "and importing torch failed:",
        "fake torch: torchpins must never import torch",
        "TORCHPINS_CXX11ABI=1 or 0",
    )
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_cxx11abi_of_an_overridden_torch_is_assumed_or_must_be_stated(
    gpu: GpuStandIns, tmp_path: Path
) -> None:
    project = copy_project("gpukit", tmp_path)
    base = {"TORCHPINS_CUDA_DRIVER": "12.8", "TORCHPINS_GPU_ARCH": "9.0", "TORCHPINS_NVCC": "12.8"}
    command = [sys.executable, "-m", "torchpins", "resolve", str(project), "--json"]
    result = run(command, env=gpu.env(TORCHPINS_TORCH="2.8.0+cu128", **base))
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["facts"]["cxx11abi"] is True
    assert record["sources"]["cxx11abi"] == "assumed"
    assert "flash-attn==2.8.3" in record["requires_dist"]
    result = run(command, env=gpu.env(TORCHPINS_TORCH="2.6.0+cu124", **base))
    assert_failed_with(result, "cannot be known for torch 2.6.0", "TORCHPINS_CXX11ABI=1 or 0")
    result = run(
        command, env=gpu.env(TORCHPINS_TORCH="2.6.0+cu124", TORCHPINS_CXX11ABI="0", **base)
    )
    assert result.returncode == 0, result.stderr
    assert "flash-attn==2.6.3" in json.loads(result.stdout)["requires_dist"]


# --------------------------------------------------------------------------------------------
# Builds


def built(venv: Venv, project: Path, out: Path, env: dict[str, str]) -> tuple[set[str], Any]:
    result = pip_wheel(venv, project, out, env)
    assert result.returncode == 0, result.stdout + result.stderr
    wheel = only(out, "*.whl")
    from tests.helpers import wheel_metadata_text

    metadata = parse_metadata(wheel_metadata_text(wheel))
    return requirements(metadata), (metadata, wheel_record(wheel))


def test_build_pins_from_nvml_nvcc_and_cmake_abi(
    venv: Venv, gpu: GpuStandIns, fake_torch: Callable[..., Path], tmp_path: Path
) -> None:
    site = fake_torch("2.7.1+cu126", cuda="12.6", cxx11abi=True)
    project = copy_project("gpukit", tmp_path)
    env = gpu.env(nvml=True, nvcc=True, PYTHONPATH=str(site))
    requires, (metadata, record) = built(venv, project, tmp_path / "out", env)
    assert requires == {
        "flash-attn==2.8.3",
        "xformers==0.0.31",
        "triton==3.4.0",
        "torch==2.7.*",
        'transformer-engine[pytorch]>=2.4; extra == "fp8"',
    }
    assert metadata.provides_extra == ["fp8"]
    assert record["facts"]["cuda-driver"] == "12.8"
    assert record["facts"]["gpu-arch"] == ["8.0", "9.0"]
    assert record["facts"]["nvcc"] == "12.8"
    assert record["facts"]["cxx11abi"] is True
    assert {record["sources"][fact] for fact in ("cuda-driver", "gpu-arch", "nvcc")} == {"probed"}
    assert record["matched"] == [0, 2, 4, 6]


def test_build_pins_from_libcuda_nvidia_smi_and_old_abi(
    venv: Venv, gpu: GpuStandIns, fake_torch: Callable[..., Path], tmp_path: Path
) -> None:
    site = fake_torch("2.6.0+cu124", cuda="12.4", cxx11abi=False)
    project = copy_project("gpukit", tmp_path)
    env = gpu.env(
        libcuda=True,
        smi=True,
        nvcc=True,
        FAKE_NVCC_RELEASE="12.4",
        FAKE_NVCC_FULL="12.4.131",
        CUDA_VISIBLE_DEVICES="0",  # the 8.6 GPU only: no FP8
        PYTHONPATH=str(site),
    )
    requires, (metadata, record) = built(venv, project, tmp_path / "out", env)
    assert requires == {
        "flash-attn==2.6.3",
        "xformers==0.0.28.post3",
        "triton==3.2.0",
        "torch==2.6.*",
    }
    assert metadata.provides_extra in (None, [])
    assert record["facts"]["cuda-driver"] == "12.4"
    assert record["facts"]["gpu-arch"] == ["8.6"]
    assert record["matched"] == [1, 3, 5, 7]


def test_build_that_needs_no_lazy_fact_runs_no_probe(
    venv: Venv, gpu: GpuStandIns, fake_torch: Callable[..., Path], tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    init = (
        f"open({str(marker)!r}, 'a').write('import torch\\n')\n"
        "class _C:\n    _GLIBCXX_USE_CXX11_ABI = True\n"
    )
    site = fake_torch("2.7.1+cu126", cuda="12.6", init=init)
    env = gpu.env(nvml=True, libcuda=True, nvcc=True, smi=True, FAKE_GPU_MARKER=str(marker))
    env["PYTHONPATH"] = str(site)
    # kit's rows test torch, platform and cuda only: nothing may be loaded, run or imported.
    result = pip_wheel(venv, copy_project("kit", tmp_path), tmp_path / "kit-out", env)
    assert result.returncode == 0, result.stderr
    assert not marker.exists(), marker.read_text()
    record = wheel_record(only(tmp_path / "kit-out", "*.whl"))
    assert not {"cxx11abi", "nvcc", "cuda-driver", "gpu-arch"} & set(record["facts"])
    # The same environment and a project that does need them: every stand-in is reached.
    # (the fake torch has no cmake flag and no libc10.so: the ABI needs the import)
    result = pip_wheel(venv, copy_project("gpukit", tmp_path), tmp_path / "gpu-out", env)
    assert result.returncode == 0, result.stderr
    assert set(marker.read_text().split("\n")) >= {"nvml", "nvcc", "import torch"}


# --------------------------------------------------------------------------------------------
# Broken and hidden torch installs


def test_dist_info_without_version_py_uses_its_label_or_stops(venv: Venv, tmp_path: Path) -> None:
    labelled = make_fake_torch(tmp_path / "labelled", "2.7.1+cu126", version_py=False)
    facts = probe_all(clean_env(PYTHONPATH=str(labelled)))
    assert facts["cuda"]["value"] == "12.6"
    assert facts["cuda"]["source"] == "assumed"
    assert "has no torch/version.py beside it" in facts["cuda"]["detail"]
    bare = make_fake_torch(tmp_path / "bare", "2.7.1", version_py=False)
    project = copy_project("kit", tmp_path)  # a row tests cuda
    result = pip_wheel(venv, project, tmp_path / "out", clean_env(PYTHONPATH=str(bare)))
    assert_failed_with(
        result,
        "torch-2.7.1.dist-info has no torch/version.py beside it (a broken torch install)",
        "pip install --force-reinstall torch==2.7.1",
        "TORCHPINS_CUDA=<value>",
    )


def test_version_py_that_does_not_parse_is_named_with_its_line(venv: Venv, tmp_path: Path) -> None:
    site = make_fake_torch(tmp_path / "site", "2.7.1")
    (site / "torch" / "version.py").write_text("__version__ = '2.7.1'\ncuda = '12.6\n")
    project = copy_project("kit", tmp_path)
    result = pip_wheel(venv, project, tmp_path / "out", clean_env(PYTHONPATH=str(site)))
    assert_failed_with(result, "torch/version.py does not parse", "line 2")


def test_two_torch_distributions_in_one_directory(tmp_path: Path) -> None:
    site = make_fake_torch(tmp_path / "site", "2.8.0+cu128", cuda="12.8")
    stale = site / "torch-2.7.1+cu126.dist-info"
    stale.mkdir()
    (stale / "METADATA").write_text("Metadata-Version: 2.1\nName: torch\nVersion: 2.7.1+cu126\n")
    result = run(
        [sys.executable, "-m", "torchpins", "probe", "--json"], env=clean_env(PYTHONPATH=str(site))
    )
    assert result.returncode == 0
    assert json.loads(result.stdout)["torch"]["value"] == "2.8.0"
    assert "holds several torch distributions" in result.stderr
    assert "remove the stale torch-2.7.1+cu126.dist-info" in result.stderr
    # When version.py names neither, the version is unknown and a build stops.
    (site / "torch" / "version.py").write_text("__version__ = '2.9.0'\ncuda = '12.8'\n")
    project = copy_project("kit", tmp_path)
    result = run(
        [sys.executable, "-m", "torchpins", "resolve", str(project)],
        env=clean_env(PYTHONPATH=str(site)),
    )
    assert_failed_with(
        result, "holds several torch distributions", "does not say which one is installed"
    )


def test_torch_in_a_later_directory_is_reported_as_shadowed(tmp_path: Path) -> None:
    first = make_fake_torch(tmp_path / "first", "2.8.0+cu128", cuda="12.8")
    second = make_fake_torch(tmp_path / "second", "2.6.0")
    result = run(
        [sys.executable, "-m", "torchpins", "probe"],
        env=clean_env(PYTHONPATH=os.pathsep.join([str(first), str(second)])),
    )
    assert result.returncode == 0
    assert f"torch 2.6.0 in {second} is shadowed by torch 2.8.0+cu128 in {first}" in result.stderr


@pytest.mark.parametrize("frontend", ["pip", "build"])
def test_isolated_build_shows_the_torch_it_hides(
    venv: Venv, torchpins_wheel: Path, tmp_path: Path, frontend: str
) -> None:
    """pip and build make a fresh environment; the error names the torch of the user's venv
    (pip hides the venv the build interpreter belongs to; build's venv is another one, found
    through VIRTUAL_ENV)."""
    from tests.helpers import overlay_venv

    user, site = overlay_venv(venv, tmp_path / "user")
    make_fake_torch(site, "2.7.1+cu126", cuda="12.6")
    project = copy_project("kit", tmp_path)
    out = tmp_path / "out"
    env = clean_env(PIP_FIND_LINKS=str(torchpins_wheel.parent), VIRTUAL_ENV=str(user.root))
    if frontend == "pip":
        command = ["pip", "wheel", "--no-deps", "--no-cache-dir", "-w", str(out), str(project)]
    else:
        command = ["build", "--wheel", "-o", str(out), str(project)]
    result = user.run("-m", *command, env=env)
    assert_failed_with(
        result,
        "This is build isolation: this build runs in an isolated environment",
        f"which does not see the environment at {user.root}",
        "where torch 2.7.1+cu126 is installed",
        "--no-build-isolation",
        "TORCHPINS_TORCH=2.7.1+cu126",
        "python -m build --no-isolation",
    )
    (line,) = [x for x in (result.stdout + result.stderr).splitlines() if "build isolation:" in x]
    assert line.count(str(user.root)) == 1, line  # the environment is named once
    assert not list(out.glob("*.whl"))


def test_probing_the_core_facts_imports_no_hardware_probe() -> None:
    code = (
        "import sys\n"
        "from torchpins.probe import gather_facts\n"
        "gather_facts(needed={'torch', 'cuda', 'platform'})\n"
        "print(sorted({'torchpins.hardware', 'ctypes', 'subprocess'} & set(sys.modules)))\n"
    )
    result = run([sys.executable, "-c", code])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_rocm_from_version_py_hip_or_else_from_the_label(fake_torch: Callable[..., Path]) -> None:
    site = fake_torch("2.7.1+rocm6.3", hip="6.3.42131-fa1d09cbd")
    facts = probe_all(clean_env(PYTHONPATH=str(site)))
    assert (facts["rocm"]["value"], facts["accelerator"]["value"]) == ("6.3.42131", "rocm")
    site = fake_torch("2.7.1+rocm6.2")  # version.py names no hip version
    facts = probe_all(clean_env(PYTHONPATH=str(site)))
    assert (facts["rocm"]["value"], facts["accelerator"]["value"]) == ("6.2", "rocm")
    assert facts["cuda"]["value"] is None
