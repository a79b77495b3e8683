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

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import IO, Any

#: Seconds that nvcc or nvidia-smi may take before it is stopped.
TOOL_TIMEOUT = 10.0
#: Seconds for ``import torch`` in a subprocess (cxx11abi, last resort; it takes 2-3 s cold).
IMPORT_TIMEOUT = 60.0
#: Tried after CUDA_HOME, CUDA_PATH and PATH, as torch.utils.cpp_extension does.
DEFAULT_CUDA_HOMES: tuple[str, ...] = ("/usr/local/cuda",) if sys.platform == "linux" else ()

_WINDOWS = sys.platform == "win32"
#: No tool's output is read past this; a tool that prints more is stopped.
OUTPUT_LIMIT = 1 << 20
#: More GPUs than this is not a machine but a lying driver (the child stops counting there too).
MAX_GPUS = 64


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
    """The standard output of ``argv``; :class:`ToolFailed` with a reason otherwise. The tool
    is stopped (with all it started) after ``timeout`` seconds, or once it has printed more than
    :data:`OUTPUT_LIMIT` bytes: nothing a tool does can hang the build or fill its memory."""
    import threading

    name = os.path.basename(argv[0])
    try:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=None if env is None else dict(env),
            cwd=cwd,
            start_new_session=not _WINDOWS,
        )
    except OSError as error:
        raise ToolFailed(f"{argv[0]} could not be run ({error.strerror or error})") from None
    outputs: dict[str, bytes] = {}
    too_long = threading.Event()

    def read(stream: IO[bytes], key: str) -> None:
        chunks: list[bytes] = []
        size = 0
        while chunk := stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536):
            chunks.append(chunk)
            size += len(chunk)
            if size > OUTPUT_LIMIT:
                too_long.set()
                break
        outputs[key] = b"".join(chunks)[:OUTPUT_LIMIT]

    assert process.stdout is not None
    assert process.stderr is not None
    readers = [
        threading.Thread(target=read, args=(process.stdout, "out"), daemon=True),
        threading.Thread(target=read, args=(process.stderr, "err"), daemon=True),
    ]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + timeout
    while process.poll() is None and not too_long.is_set() and time.monotonic() < deadline:
        too_long.wait(0.01)
    if process.poll() is None or too_long.is_set():
        _stop(process, readers)
        if too_long.is_set():
            raise ToolFailed(f"{argv[0]} printed more than {OUTPUT_LIMIT} bytes and was stopped")
        raise ToolFailed(f"{argv[0]} did not answer within {timeout:g} s and was stopped")
    for reader in readers:
        reader.join(timeout)
    out = outputs.get("out", b"").decode("utf-8", "replace")
    err = outputs.get("err", b"").decode("utf-8", "replace")
    if process.returncode != 0:
        last = (err.strip().splitlines() or out.strip().splitlines() or [""])[-1][:200]
        if process.returncode < 0:
            status = f"was killed by signal {-process.returncode}"
        else:
            status = f"exited with status {process.returncode}"
        raise ToolFailed(f"{name} {status}" + (f": {last}" if last else ""))
    return out


def _stop(process: subprocess.Popen[bytes], readers: Sequence[Any] = ()) -> None:
    """Kill the tool and everything it started (a shell script's ``sleep`` keeps the pipes open
    otherwise, and ``communicate`` would wait for it)."""
    try:
        if _WINDOWS:
            process.kill()
        else:
            os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        pass
    process.wait()
    for reader in readers:
        reader.join(1.0)


# --------------------------------------------------------------------------------------------
# nvcc


# --------------------------------------------------------------------------------------------
# gpu-vendor

#: Where Linux lists PCI devices, one folder each with ``vendor`` and ``class`` files.
SYSFS_PCI = "/sys/bus/pci/devices"
#: PCI vendor ids of accelerator makers.
PCI_VENDORS = {"0x10de": "nvidia", "0x1002": "amd", "0x8086": "intel", "0x19e5": "ascend"}
#: PCI classes of accelerators: display controllers (0x03) and processing accelerators (0x12).
_ACCELERATOR_CLASSES = ("0x03", "0x12")
#: No machine has more PCI devices than this; a longer listing is not read further.
_MAX_PCI_DEVICES = 4096


def probe_gpu_vendor(environ: Mapping[str, str], root: str | None = None) -> Reading:
    """The vendors of this machine's accelerators, from the PCI devices Linux lists: reading a
    few small files, no tool, no library, nothing that can hang. Elsewhere it is unknown."""
    root = root or SYSFS_PCI
    try:
        devices = sorted(os.listdir(root))[:_MAX_PCI_DEVICES]
    except OSError:
        return Reading(None, f"{root} cannot be listed (not Linux?); set TORCHPINS_GPU_VENDOR")
    vendors: list[str] = []
    for device in devices:
        folder = os.path.join(root, device)
        pci_class, vendor = _small_file(folder, "class"), _small_file(folder, "vendor")
        if not pci_class.startswith(_ACCELERATOR_CLASSES):
            continue
        name = PCI_VENDORS.get(vendor.lower())
        if name and name not in vendors:
            vendors.append(name)
    listed = ", ".join(vendors) or "no accelerator"
    return Reading(tuple(vendors), f"PCI devices in {root}: {listed}")


def _small_file(folder: str, name: str) -> str:
    try:
        with open(os.path.join(folder, name), encoding="ascii", errors="replace") as file:
            return file.read(64).strip()
    except OSError:
        return ""


def probe_nvcc(environ: Mapping[str, str]) -> Reading:
    executable = "nvcc.exe" if _WINDOWS else "nvcc"
    candidates: list[tuple[str, str]] = []
    passed: list[str] = []
    compiler = environ.get("CUDACXX", "")  # what CMake and torch.utils.cpp_extension honour first
    if compiler:
        candidates.append((compiler, "$CUDACXX"))
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
    #: Values the source gave that cannot be true (treated as unknown).
    warnings: tuple[str, ...] = ()


class NvidiaProbe:
    """Reads the driver and the GPUs at most once per build, from the first source that works."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self._nvml: DriverReading | str | None = None
        self._smi_failure: str | None = None
        #: Impossible values a source gave, said once as a warning when the fact stays absent.
        self._lies: list[str] = []
        #: A source that hung and was stopped: said as a warning even when another answered.
        self._slow: str | None = None

    def nvml(self) -> DriverReading | str:
        if self._nvml is None:
            self._nvml = _read_nvml()
            if isinstance(self._nvml, DriverReading):
                self._lies.extend(self._nvml.warnings)
            elif "did not answer" in self._nvml:
                self._slow = self._nvml
        return self._nvml

    def cuda_driver(self) -> Reading:
        reasons: list[str] = []
        nvml = self.nvml()
        if isinstance(nvml, DriverReading) and nvml.cuda_driver:
            return Reading(nvml.cuda_driver, nvml.source)
        reasons.append(nvml if isinstance(nvml, str) else f"{nvml.source} gave no CUDA version")
        libcuda = _read_libcuda()
        if isinstance(libcuda, DriverReading):
            return Reading(libcuda.cuda_driver, libcuda.source, warning=self._slow)
        reasons.append(libcuda)
        if "is not one" in libcuda:
            self._lies.append(libcuda)
        smi = self._nvidia_smi(["nvidia-smi"])
        if smi is None:
            return self._absent(reasons)
        version = re.search(r"CUDA Version\s*:\s*(\d+\.\d+)", smi[1])
        if version:
            source = f"{smi[0]} (its 'CUDA Version' header)"
            return Reading(version.group(1), source, warning=self._slow)
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
        return replace(self._visible(tuple(gpus), f"{smi[0]} {query}"), warning=self._slow)

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
        timed_out = [
            reason for reason in reasons if "did not answer" in reason or "stopped" in reason
        ]
        said = [*dict.fromkeys([*self._lies, *timed_out])]
        detail = "no NVIDIA driver found: " + "; ".join(reason for reason in reasons if reason)
        return Reading(None, detail, warning="; ".join(said) or None)

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


#: The child that reads NVML or libcuda (see :mod:`torchpins._nvidia_child`).
_CHILD_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_nvidia_child.py")
#: Compute capabilities beyond this are not real GPUs (the newest are 12.x).
_MAX_CAPABILITY = 30


def _in_child(which: str) -> dict[str, object] | str:
    """What the child reading ``which`` (nvml or libcuda) printed, or why it said nothing: a
    driver library that crashes or hangs ends the child, never the build."""
    try:
        out = run_tool([sys.executable, "-I", _CHILD_SCRIPT, which], TOOL_TIMEOUT)
    except ToolFailed as failure:
        return f"reading {which} failed: {failure}"
    try:
        answer = json.loads(out.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return f"reading {which} printed no answer"
    if not isinstance(answer, dict):
        return f"reading {which} printed no answer"
    error = answer.get("error")
    return str(error) if error is not None else answer


def _driver_version(encoded: object, source: str, warnings: list[str]) -> str | None:
    """NVML's and cuDriverGetVersion's ``12080`` -> ``"12.8"``; an absurd value is unknown."""
    if not isinstance(encoded, int) or isinstance(encoded, bool) or encoded <= 0:
        return None
    if encoded < 1000 or encoded >= 100_000:
        warnings.append(f"{source} reports the CUDA version {encoded}, which is not one")
        return None
    return _cuda_version(encoded)


def _read_nvml() -> DriverReading | str:
    answer = _in_child("nvml")
    if isinstance(answer, str):
        return answer
    source = str(answer.get("source", "NVML"))
    warnings: list[str] = []
    cuda_driver = _driver_version(answer.get("cuda_driver"), source, warnings)
    count = answer.get("count")
    raw = answer.get("gpus")
    gpus: tuple[Gpu, ...] | None = None
    if isinstance(count, int) and count > MAX_GPUS:
        warnings.append(f"{source} reports {count} GPUs, more than any machine has")
    elif isinstance(raw, list):
        found: list[Gpu] = []
        for item in raw[:MAX_GPUS]:
            gpu = _gpu(item)
            if gpu is None:
                warnings.append(f"{source} reports a GPU with the compute capability {item!r}")
                found = []
                break
            found.append(gpu)
        gpus = tuple(found) if found or not raw else None
    return DriverReading(source, cuda_driver, gpus, tuple(warnings))


def _gpu(item: object) -> Gpu | None:
    if not isinstance(item, list) or len(item) != 4:
        return None
    index, uuid, major, minor = item
    numbers = (index, major, minor)
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
        return None
    if not (0 <= major <= _MAX_CAPABILITY and 0 <= minor <= 9 and 0 <= index < MAX_GPUS):
        return None
    return Gpu(index, str(uuid)[:96], f"{major}.{minor}")


def _read_libcuda() -> DriverReading | str:
    answer = _in_child("libcuda")
    if isinstance(answer, str):
        return answer
    source = str(answer.get("source", "libcuda"))
    warnings: list[str] = []
    version = _driver_version(answer.get("cuda_driver"), source, warnings)
    if version is None:
        return "; ".join(warnings) or f"{source} gave no CUDA version"
    return DriverReading(source, version, None, tuple(warnings))


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
