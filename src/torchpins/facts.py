"""The facts a matrix row can test, and how an override value becomes one.

A fact value is a version string (normalised by packaging), a plain string, a boolean, a tuple of
version strings (``gpu-arch``) or ``None`` for "absent". Versions stay strings so that the build
record can hold them as they are; conditions parse them with packaging when they compare.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from torchpins.errors import OverrideError, did_you_mean, has_control_characters

FactValue = str | bool | tuple[str, ...] | None


class Kind(enum.Enum):
    VERSION = "version"
    STRING = "string"
    BOOLEAN = "boolean"
    VERSION_LIST = "list of versions"


@dataclass(frozen=True)
class FactSpec:
    name: str
    kind: Kind
    #: Lazy facts are probed only when a row needs them (they may be slow or need hardware).
    lazy: bool
    help: str
    #: For string facts with a closed set of values.
    choices: tuple[str, ...] = ()


FACTS: dict[str, FactSpec] = {
    spec.name: spec
    for spec in (
        FactSpec("torch", Kind.VERSION, False, "installed torch version (public part)"),
        FactSpec("torch-local", Kind.STRING, False, "local label of torch: cu128, cpu, rocm6.3"),
        FactSpec("cuda", Kind.VERSION, False, "CUDA version torch was built with"),
        FactSpec("rocm", Kind.VERSION, False, "HIP/ROCm version torch was built with"),
        FactSpec(
            "accelerator",
            Kind.STRING,
            False,
            "accelerator torch was built for",
            ("cuda", "rocm", "xpu", "cpu"),
        ),
        FactSpec("python", Kind.VERSION, False, "running interpreter version"),
        FactSpec("platform", Kind.STRING, False, "sys.platform (linux, darwin, win32)"),
        FactSpec("machine", Kind.STRING, False, "platform.machine() (x86_64, aarch64, arm64)"),
        FactSpec("glibc", Kind.VERSION, False, "C library version on glibc systems"),
        FactSpec("cxx11abi", Kind.BOOLEAN, True, "torch's C++11 ABI flag"),
        FactSpec("nvcc", Kind.VERSION, True, "CUDA toolkit compiler version"),
        FactSpec("cuda-driver", Kind.VERSION, True, "highest CUDA version the driver supports"),
        FactSpec("gpu-arch", Kind.VERSION_LIST, True, "compute capabilities of visible GPUs"),
    )
}

CORE_FACTS: tuple[str, ...] = tuple(name for name, spec in FACTS.items() if not spec.lazy)
#: Facts that describe the torch build; they follow the torch they came with.
TORCH_FACTS: tuple[str, ...] = ("torch", "torch-local", "cuda", "rocm", "accelerator")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_LOCAL_LABEL = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*", re.IGNORECASE)


def env_var(fact: str) -> str:
    """``cuda-driver`` -> ``TORCHPINS_CUDA_DRIVER``."""
    return "TORCHPINS_" + fact.upper().replace("-", "_")


def fact_spec(name: str, where: str) -> FactSpec:
    """The spec of fact ``name``; an error naming ``where`` when there is no such fact."""
    try:
        return FACTS[name]
    except KeyError:
        raise OverrideError(
            f"{where}: {name!r} is not a fact{did_you_mean(name, FACTS)}; "
            f"the facts are {', '.join(FACTS)}"
        ) from None


def parse_fact_value(name: str, raw: str, origin: str) -> FactValue:
    """Turn the text of an override into a fact value. ``origin`` names the variable or setting
    the text came from, for the error message. An empty text means "absent"."""
    spec = fact_spec(name, origin)
    if has_control_characters(raw):
        raise OverrideError(f"{origin}: the value {raw!r} holds a control character or newline")
    text = raw.strip()
    if not text:
        return None
    if spec.kind is Kind.VERSION:
        version = _parse_version(text, origin, allow_local=(name == "torch"))
        return str(version)
    if spec.kind is Kind.VERSION_LIST:
        items = [item for item in re.split(r"[\s,;]+", text) if item]
        return tuple(str(_parse_version(item, origin, allow_local=False)) for item in items)
    if spec.kind is Kind.BOOLEAN:
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise OverrideError(f"{origin}: {raw!r} is not a boolean; use 1/0, true/false or yes/no")
    if name == "torch-local" and not _LOCAL_LABEL.fullmatch(text):
        raise OverrideError(f"{origin}: {raw!r} is not a local version label such as cu128 or cpu")
    if spec.choices and text not in spec.choices:
        raise OverrideError(
            f"{origin}: {raw!r} is not one of {', '.join(spec.choices)}"
            f"{did_you_mean(text, spec.choices)}"
        )
    return text


def _parse_version(text: str, origin: str, *, allow_local: bool) -> Version:
    try:
        version = Version(text)
    except InvalidVersion:
        raise OverrideError(f"{origin}: {text!r} is not a valid version (PEP 440)") from None
    if version.local is not None and not allow_local:
        raise OverrideError(f"{origin}: {text!r} has a local label (+...); give the version only")
    return version


def split_torch_version(text: str) -> tuple[str, str | None]:
    """``"2.7.1+cu128"`` -> ``("2.7.1", "cu128")``: the public version and the local label."""
    version = Version(text)
    return version.public, version.local


def assumed_from_label(label: str | None) -> dict[str, FactValue]:
    """The build facts a torch local label implies: ``cu128`` -> CUDA 12.8, ``rocm6.3`` -> ROCm
    6.3, ``cpu`` -> CPU. Used when torch is named rather than installed (overrides, ``missing``)."""
    facts: dict[str, FactValue] = {"cuda": None, "rocm": None, "accelerator": None}
    if label is None:
        return facts
    cuda = re.fullmatch(r"cu(\d+)(\d)", label)
    rocm = re.fullmatch(r"rocm(\d+(?:\.\d+)*)", label)
    if cuda:
        facts["cuda"] = f"{int(cuda.group(1))}.{cuda.group(2)}"
        facts["accelerator"] = "cuda"
    elif rocm:
        facts["rocm"] = rocm.group(1)
        facts["accelerator"] = "rocm"
    elif label in ("cpu", "xpu"):
        facts["accelerator"] = label
    return facts


def format_value(value: FactValue) -> str:
    if value is None:
        return "(absent)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value) if value else "(none)"
    return value
