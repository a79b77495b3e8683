"""Reads NVML or libcuda in a child process: ``python -I _nvidia_child.py nvml|libcuda``.

A driver library runs native code: an ``nvmlInit_v2`` that crashes or hangs must not take the
build with it, so :mod:`torchpins.hardware` runs this file as a separate process with a timeout,
and reads the one line of JSON it prints. It uses the standard library only (it may run where
torchpins itself is not importable). The parent checks every value; this file only reports, and
stops counting GPUs past :data:`MAX_GPUS`.
"""

from __future__ import annotations

import ctypes
import json
import sys

#: More GPUs than this is not a machine but a lying driver; the parent treats it as unknown.
MAX_GPUS = 64
_NVML = ("nvml.dll",) if sys.platform == "win32" else ("libnvidia-ml.so.1",)
_LIBCUDA = ("nvcuda.dll",) if sys.platform == "win32" else ("libcuda.so.1",)
_NVML_ERRORS = {
    1: "NVML_ERROR_UNINITIALIZED",
    2: "NVML_ERROR_INVALID_ARGUMENT",
    3: "NVML_ERROR_NOT_SUPPORTED",
    9: "NVML_ERROR_DRIVER_NOT_LOADED (is the NVIDIA kernel module loaded?)",
    12: "NVML_ERROR_LIBRARY_NOT_FOUND",
    18: "NVML_ERROR_LIB_RM_VERSION_MISMATCH (driver and library versions differ; reboot?)",
    999: "NVML_ERROR_UNKNOWN",
}


def _load(names: tuple[str, ...]) -> ctypes.CDLL | str:
    errors = []
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError as error:
            text = str(error)
            errors.append(text[len(name) + 1 :].strip() if text.startswith(name + ":") else text)
    return f"{names[0]} could not be loaded ({'; '.join(errors)})"


def read_nvml() -> dict[str, object]:
    library = _load(_NVML)
    if isinstance(library, str):
        return {"error": library}
    name = _NVML[0]
    try:
        init = getattr(library, "nvmlInit_v2", None) or library.nvmlInit
        status = init()
        if status != 0:
            return {"error": f"{name}: nvmlInit failed with {_NVML_ERRORS.get(status, status)}"}
        try:
            return _read_initialised(library, name)
        finally:
            library.nvmlShutdown()
    except AttributeError as error:
        return {"error": f"{name} lacks a function torchpins needs ({error})"}


def _read_initialised(library: ctypes.CDLL, name: str) -> dict[str, object]:
    result: dict[str, object] = {"source": f"NVML ({name})", "cuda_driver": None, "gpus": None}
    version = ctypes.c_int(0)
    get_version = getattr(library, "nvmlSystemGetCudaDriverVersion_v2", None) or getattr(
        library, "nvmlSystemGetCudaDriverVersion", None
    )
    if get_version is not None and get_version(ctypes.byref(version)) == 0:
        result["cuda_driver"] = version.value
    count = ctypes.c_uint(0)
    get_count = getattr(library, "nvmlDeviceGetCount_v2", None) or library.nvmlDeviceGetCount
    if get_count(ctypes.byref(count)) != 0:
        return result
    result["count"] = count.value
    if count.value > MAX_GPUS:
        return result
    by_index = (
        getattr(library, "nvmlDeviceGetHandleByIndex_v2", None)
        or library.nvmlDeviceGetHandleByIndex
    )
    gpus = []
    for index in range(count.value):
        handle = ctypes.c_void_p()
        if by_index(ctypes.c_uint(index), ctypes.byref(handle)) != 0:
            return result
        major, minor = ctypes.c_int(0), ctypes.c_int(0)
        if library.nvmlDeviceGetCudaComputeCapability(
            handle, ctypes.byref(major), ctypes.byref(minor)
        ):
            return result
        uuid = ctypes.create_string_buffer(96)
        if library.nvmlDeviceGetUUID(handle, uuid, ctypes.c_uint(len(uuid))) != 0:
            uuid.value = b""
        gpus.append([index, uuid.value.decode("ascii", "replace"), major.value, minor.value])
    result["gpus"] = gpus
    return result


def read_libcuda() -> dict[str, object]:
    library = _load(_LIBCUDA)
    if isinstance(library, str):
        return {"error": library}
    version = ctypes.c_int(0)
    try:
        status = library.cuDriverGetVersion(ctypes.byref(version))
    except AttributeError:
        return {"error": f"{_LIBCUDA[0]} has no cuDriverGetVersion"}
    if status != 0:
        return {"error": f"{_LIBCUDA[0]}: cuDriverGetVersion failed with CUresult {status}"}
    return {"source": f"cuDriverGetVersion ({_LIBCUDA[0]})", "cuda_driver": version.value}


if __name__ == "__main__":
    reader = read_nvml if sys.argv[1:] == ["nvml"] else read_libcuda
    print(json.dumps(reader()))
