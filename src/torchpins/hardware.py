"""Probing the lazy facts: the CUDA toolkit, the NVIDIA driver, the GPUs and torch's C++ ABI.

Each probe runs only when a matrix row (or ``torchpins probe --all``) needs its fact, and returns a
:class:`Reading`: a value, or ``None`` with the reason. A probe never raises and never hangs: every
subprocess has a timeout, after which it is killed with its whole process group.

Sources, cheapest and most exact first:

- ``nvcc``: ``$CUDA_HOME/bin/nvcc``, ``$CUDA_PATH/bin/nvcc``, ``nvcc`` on ``PATH``, then
  ``/usr/local/cuda/bin/nvcc`` (the toolkit ``torch.utils.cpp_extension`` would compile with).
- ``cuda-driver``: NVML (``nvmlSystemGetCudaDriverVersion_v2``), then ``cuDriverGetVersion`` in
  ``libcuda``, then ``nvidia-smi``. The libraries are loaded through the system loader, in process.
- ``gpu-arch``: NVML (``nvmlDeviceGetCudaComputeCapability``), then ``nvidia-smi --query-gpu``;
  either way filtered by ``CUDA_VISIBLE_DEVICES`` (indices, or ``GPU-`` UUID prefixes).
- ``cxx11abi``: the ``_GLIBCXX_USE_CXX11_ABI`` flag in torch's ``TorchConfig.cmake`` (older
  torches write it there), then the mangled names in ``torch/lib/libc10.so`` (``__cxx11`` appears
  only in the new ABI), then, as the last resort, a short ``import torch`` in a subprocess.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Seconds that nvcc or nvidia-smi may take before it is stopped.
TOOL_TIMEOUT = 10.0
#: Seconds for ``import torch`` in a subprocess (cxx11abi, last resort; it takes 2-3 s cold).
IMPORT_TIMEOUT = 60.0
#: Tried after CUDA_HOME, CUDA_PATH and PATH, as torch.utils.cpp_extension does.
DEFAULT_CUDA_HOMES: tuple[str, ...] = ("/usr/local/cuda",) if sys.platform == "linux" else ()

_WINDOWS = sys.platform == "win32"
_NVML = ("nvml.dll",) if _WINDOWS else ("libnvidia-ml.so.1",)
_LIBCUDA = ("nvcuda.dll",) if _WINDOWS else ("libcuda.so.1",)
_NVML_ERRORS = {
    1: "NVML_ERROR_UNINITIALIZED",
    2: "NVML_ERROR_INVALID_ARGUMENT",
    3: "NVML_ERROR_NOT_SUPPORTED",
    9: "NVML_ERROR_DRIVER_NOT_LOADED (is the NVIDIA kernel module loaded?)",
    12: "NVML_ERROR_LIBRARY_NOT_FOUND",
    18: "NVML_ERROR_LIB_RM_VERSION_MISMATCH (driver and library versions differ; reboot?)",
    999: "NVML_ERROR_UNKNOWN",
}


@dataclass(frozen=True)
class Reading:
    """A probed value (``None`` when absent) and a sentence saying where it came from or why it
    is absent."""

    value: str | bool | tuple[str, ...] | None
    detail: str
    #: Something the user should hear about even when the build goes on (a hung tool).
    warning: str | None = None


class ToolFailed(Exception):
    """A subprocess that did not start, did not finish in time, or failed."""


def run_tool(
    argv: Sequence[str],
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> str:
    """The standard output of ``argv``; :class:`ToolFailed` with a reason otherwise."""
    name = os.path.basename(argv[0])
    try:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            env=None if env is None else dict(env),
            cwd=cwd,
            start_new_session=not _WINDOWS,
        )
    except OSError as error:
        raise ToolFailed(f"{argv[0]} could not be run ({error.strerror or error})") from None
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(process)
        raise ToolFailed(f"{argv[0]} did not answer within {timeout:g} s and was stopped") from None
    if process.returncode != 0:
        last = (err.strip().splitlines() or out.strip().splitlines() or [""])[-1][:200]
        status = f"exited with status {process.returncode}"
        raise ToolFailed(f"{name} {status}" + (f": {last}" if last else ""))
    return out


def _stop(process: subprocess.Popen[str]) -> None:
    """Kill the tool and everything it started (a shell script's ``sleep`` keeps the pipes open
    otherwise, and ``communicate`` would wait for it)."""
    try:
        if _WINDOWS:
            process.kill()
        else:
            os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        pass
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()
    process.wait()


# --------------------------------------------------------------------------------------------
# nvcc


def probe_nvcc(environ: Mapping[str, str]) -> Reading:
    executable = "nvcc.exe" if _WINDOWS else "nvcc"
    candidates: list[tuple[str, str]] = []
    passed: list[str] = []
    for variable in ("CUDA_HOME", "CUDA_PATH"):
        root = environ.get(variable, "")
        if root:
            candidates.append((os.path.join(root, "bin", executable), f"${variable}/bin"))
    on_path = shutil.which(executable, path=environ.get("PATH", os.defpath))
    if on_path:
        candidates.append((on_path, "PATH"))
    candidates.extend((os.path.join(root, "bin", executable), root) for root in DEFAULT_CUDA_HOMES)
    for path, how in candidates:
        if not os.path.isfile(path):
            passed.append(f"{how} has no nvcc")
            continue
        try:
            out = run_tool([path, "--version"], TOOL_TIMEOUT, environ)
        except ToolFailed as failure:
            return Reading(None, f"{failure} (found via {how})", warning=str(failure))
        release = re.search(r"release (\d+\.\d+)", out)
        if not release:
            return Reading(None, f"{path} --version printed no 'release X.Y' (found via {how})")
        full = re.search(r"\bV(\d+(?:\.\d+)+)", out)
        shown = f"release {release.group(1)}" + (f", V{full.group(1)}" if full else "")
        return Reading(release.group(1), f"{path} --version ({shown}; found via {how})")
    if not candidates:
        return Reading(None, "no nvcc: CUDA_HOME and CUDA_PATH are unset and PATH has no nvcc")
    return Reading(None, "no nvcc: " + "; ".join(passed) + "; PATH has no nvcc")


# --------------------------------------------------------------------------------------------
# The NVIDIA driver and the GPUs


@dataclass(frozen=True)
class Gpu:
    index: int
    uuid: str
    capability: str


@dataclass(frozen=True)
class DriverReading:
    """What one source said about the driver and the GPUs."""

    source: str
    cuda_driver: str | None
    gpus: tuple[Gpu, ...] | None  # None: this source cannot list GPUs


class NvidiaProbe:
    """Reads the driver and the GPUs at most once per build, from the first source that works."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self._nvml: DriverReading | str | None = None
        self._smi_failure: str | None = None

    def nvml(self) -> DriverReading | str:
        if self._nvml is None:
            self._nvml = _read_nvml()
        return self._nvml

    def cuda_driver(self) -> Reading:
        reasons: list[str] = []
        nvml = self.nvml()
        if isinstance(nvml, DriverReading) and nvml.cuda_driver:
            return Reading(nvml.cuda_driver, nvml.source)
        reasons.append(nvml if isinstance(nvml, str) else f"{nvml.source} gave no CUDA version")
        libcuda = _read_libcuda()
        if isinstance(libcuda, DriverReading):
            return Reading(libcuda.cuda_driver, libcuda.source)
        reasons.append(libcuda)
        smi = self._nvidia_smi(["nvidia-smi"])
        if smi is None:
            return self._absent(reasons)
        version = re.search(r"CUDA Version\s*:\s*(\d+\.\d+)", smi[1])
        if version:
            return Reading(version.group(1), f"{smi[0]} (its 'CUDA Version' header)")
        reasons.append(f"{smi[0]} printed no 'CUDA Version'")
        return self._absent(reasons)

    def gpu_arch(self) -> Reading:
        reasons: list[str] = []
        nvml = self.nvml()
        if isinstance(nvml, DriverReading) and nvml.gpus is not None:
            return self._visible(nvml.gpus, nvml.source)
        reasons.append(nvml if isinstance(nvml, str) else f"{nvml.source} listed no GPUs")
        query = "--query-gpu=index,uuid,compute_cap"
        smi = self._nvidia_smi(["nvidia-smi", query, "--format=csv,noheader"])
        if smi is None:
            return self._absent(reasons)
        gpus: list[Gpu] = []
        for line in smi[1].splitlines():
            cells = [cell.strip() for cell in line.split(",")]
            if len(cells) == 3 and cells[0].isdigit() and re.fullmatch(r"\d+\.\d+", cells[2]):
                gpus.append(Gpu(int(cells[0]), cells[1], cells[2]))
        if not gpus and smi[1].strip():
            reasons.append(f"{smi[0]} {query} printed no compute capability")
            return self._absent(reasons)
        return self._visible(tuple(gpus), f"{smi[0]} {query}")

    def _nvidia_smi(self, argv: list[str]) -> tuple[str, str] | None:
        """(the path, the output), or None with the reason kept for :meth:`_absent`."""
        if self._smi_failure is not None:
            return None
        found = shutil.which(argv[0], path=self.environ.get("PATH", os.defpath))
        if not found:
            self._smi_failure = "nvidia-smi is not on PATH"
            return None
        try:
            return found, run_tool([found, *argv[1:]], TOOL_TIMEOUT, self.environ)
        except ToolFailed as failure:
            self._smi_failure = str(failure)
            return None

    def _absent(self, reasons: list[str]) -> Reading:
        reasons = [*reasons, self._smi_failure or ""]
        timed_out = self._smi_failure if "did not answer" in (self._smi_failure or "") else None
        detail = "no NVIDIA driver found: " + "; ".join(reason for reason in reasons if reason)
        return Reading(None, detail, warning=timed_out)

    def _visible(self, gpus: tuple[Gpu, ...], source: str) -> Reading:
        chosen, note = visible_gpus(gpus, self.environ.get("CUDA_VISIBLE_DEVICES"))
        listed = ", ".join(f"GPU {gpu.index} {gpu.capability}" for gpu in gpus) or "no GPU"
        detail = f"{source}: {listed}" + (f"; {note}" if note else "")
        unique = sorted({gpu.capability for gpu in chosen}, key=_version_key)
        return Reading(tuple(unique), detail)


def visible_gpus(gpus: Sequence[Gpu], spec: str | None) -> tuple[list[Gpu], str]:
    """The GPUs ``CUDA_VISIBLE_DEVICES`` leaves visible, and a note saying so. As CUDA does, the
    list is read up to its first entry that names no GPU (or names one twice); entries are
    indices in NVML's (PCI bus) order, or ``GPU-`` UUID prefixes that name one GPU."""
    if spec is None:
        return list(gpus), ""
    chosen: list[Gpu] = []
    for raw in spec.split(","):
        token = raw.strip()
        match: Gpu | None = None
        if re.fullmatch(r"\d+", token):
            match = next((gpu for gpu in gpus if gpu.index == int(token)), None)
        elif token.upper().startswith("GPU-"):
            prefix = token.lower()
            found = [gpu for gpu in gpus if gpu.uuid.lower().startswith(prefix)]
            match = found[0] if len(found) == 1 else None
        if match is None or match in chosen:
            break
        chosen.append(match)
    shown = ", ".join(f"GPU {gpu.index}" for gpu in chosen) or "none"
    return chosen, f"CUDA_VISIBLE_DEVICES={spec!r} leaves {shown}"


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _cuda_version(encoded: int) -> str:
    """NVML's and cuDriverGetVersion's ``12080`` -> ``"12.8"``."""
    return f"{encoded // 1000}.{encoded % 1000 // 10}"


def _load_library(names: Sequence[str]) -> ctypes.CDLL | str:
    errors: list[str] = []
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError as error:
            text = str(error)
            errors.append(text[len(name) + 1 :].strip() if text.startswith(name + ":") else text)
    return f"{names[0]} could not be loaded ({'; '.join(errors)})"


def _read_nvml() -> DriverReading | str:
    library = _load_library(_NVML)
    if isinstance(library, str):
        return library
    name = _NVML[0]
    try:
        init = getattr(library, "nvmlInit_v2", None) or library.nvmlInit
        status = init()
        if status != 0:
            return f"{name}: nvmlInit failed with {_NVML_ERRORS.get(status, status)}"
        try:
            return _read_nvml_initialised(library, name)
        finally:
            library.nvmlShutdown()
    except AttributeError as error:
        return f"{name} lacks a function torchpins needs ({error})"


def _read_nvml_initialised(library: ctypes.CDLL, name: str) -> DriverReading:
    source = f"NVML ({name})"
    version = ctypes.c_int(0)
    get_version = getattr(library, "nvmlSystemGetCudaDriverVersion_v2", None) or getattr(
        library, "nvmlSystemGetCudaDriverVersion", None
    )
    cuda_driver = None
    if get_version is not None and get_version(ctypes.byref(version)) == 0 and version.value > 0:
        cuda_driver = _cuda_version(version.value)
    count = ctypes.c_uint(0)
    get_count = getattr(library, "nvmlDeviceGetCount_v2", None) or library.nvmlDeviceGetCount
    if get_count(ctypes.byref(count)) != 0:
        return DriverReading(source, cuda_driver, None)
    by_index = (
        getattr(library, "nvmlDeviceGetHandleByIndex_v2", None)
        or library.nvmlDeviceGetHandleByIndex
    )
    gpus: list[Gpu] = []
    for index in range(count.value):
        handle = ctypes.c_void_p()
        if by_index(ctypes.c_uint(index), ctypes.byref(handle)) != 0:
            return DriverReading(source, cuda_driver, None)
        major, minor = ctypes.c_int(0), ctypes.c_int(0)
        get_capability = library.nvmlDeviceGetCudaComputeCapability
        if get_capability(handle, ctypes.byref(major), ctypes.byref(minor)) != 0:
            return DriverReading(source, cuda_driver, None)
        uuid = ctypes.create_string_buffer(96)
        if library.nvmlDeviceGetUUID(handle, uuid, ctypes.c_uint(len(uuid))) != 0:
            uuid.value = b""
        gpus.append(
            Gpu(index, uuid.value.decode("ascii", "replace"), f"{major.value}.{minor.value}")
        )
    return DriverReading(source, cuda_driver, tuple(gpus))


def _read_libcuda() -> DriverReading | str:
    library = _load_library(_LIBCUDA)
    if isinstance(library, str):
        return library
    version = ctypes.c_int(0)
    try:
        status = library.cuDriverGetVersion(ctypes.byref(version))
    except AttributeError:
        return f"{_LIBCUDA[0]} has no cuDriverGetVersion"
    if status != 0 or version.value <= 0:
        return f"{_LIBCUDA[0]}: cuDriverGetVersion failed with CUresult {status}"
    return DriverReading(f"cuDriverGetVersion ({_LIBCUDA[0]})", _cuda_version(version.value), None)


# --------------------------------------------------------------------------------------------
# torch's C++ ABI

_CMAKE_FLAG = re.compile(rb"_GLIBCXX_USE_CXX11_ABI=([01])")
_CHILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); import torch; "
    "print(int(bool(torch._C._GLIBCXX_USE_CXX11_ABI)))"
)


def probe_cxx11abi(package: str, python: str = sys.executable) -> Reading:
    """The C++ ABI flag of the torch package at ``package`` (its ``torch`` directory)."""
    config = os.path.join(package, "share", "cmake", "Torch", "TorchConfig.cmake")
    found = _search(config, _CMAKE_FLAG)
    if isinstance(found, re.Match):
        flag = found.group(1) == b"1"
        return Reading(flag, f"{config} (-D_GLIBCXX_USE_CXX11_ABI={int(flag)})")
    if sys.platform == "linux":
        library = os.path.join(package, "lib", "libc10.so")
        symbols = _scan_symbols(library)
        if symbols is not None:
            return symbols
    try:
        out = run_tool(
            [python, "-I", "-c", _CHILD, os.path.dirname(package)],
            IMPORT_TIMEOUT,
            cwd=os.path.dirname(package),
        )
    except ToolFailed as failure:
        return Reading(
            None,
            f"torch's ABI flag could not be read: neither {config} nor torch/lib/libc10.so tells, "
            f"and importing torch failed: {failure}",
        )
    answer = out.strip().splitlines()[-1:] or [""]
    if answer[0] not in ("0", "1"):
        return Reading(None, f"importing torch printed {answer[0]!r}, not the ABI flag")
    return Reading(answer[0] == "1", "torch._C._GLIBCXX_USE_CXX11_ABI (imported in a subprocess)")


def _search(path: str, pattern: re.Pattern[bytes]) -> re.Match[bytes] | None:
    try:
        with open(path, "rb") as file:
            return pattern.search(file.read())
    except OSError:
        return None


def _scan_symbols(library: str) -> Reading | None:
    """The ABI from the mangled names in ``libc10.so``: ``std::__cxx11::basic_string`` appears
    only in the new ABI, ``Ss`` (old ``std::string``) only in the old. Maps the file; reads no
    more of it than the search needs."""
    import mmap

    try:
        with open(library, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as m:
            if m.find(b"St7__cxx11") != -1:
                return Reading(True, f"{library} (its symbols use std::__cxx11)")
            if m.find(b"RKSs") != -1 or m.find(b"_ZNSs") != -1:
                return Reading(False, f"{library} (its symbols use the pre-C++11 std::string)")
    except (OSError, ValueError):
        return None
    return None
