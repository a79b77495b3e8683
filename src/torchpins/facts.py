"""The facts a matrix row can test, and how an override value becomes one.

A fact value is a version string (normalised by packaging), a plain string, a boolean, a tuple of
version strings (``gpu-arch``) or ``None`` for "absent". Versions stay strings so that the build
record can hold them as they are; conditions parse them with packaging when they compare.
"""

from __future__ import annotations

from torchpins._value import Value
from torchpins.errors import OverrideError, did_you_mean, has_control_characters

FactValue = str | bool | tuple[str, ...] | None


class Kind:
    """The kinds of fact (plain strings: :mod:`enum` costs import time the probe cannot spare)."""

    VERSION = "version"
    STRING = "string"
    BOOLEAN = "boolean"
    VERSION_LIST = "list of versions"


class FactSpec(Value):
    __slots__ = ("choices", "help", "kind", "lazy", "name")

    def __init__(
        self, name: str, kind: str, lazy: bool, help: str, choices: tuple[str, ...] = ()
    ) -> None:
        self.name = name
        self.kind = kind
        #: Lazy facts are probed only when a row needs them (they may be slow or need hardware).
        self.lazy = lazy
        self.help = help
        #: For string facts with a closed set of values.
        self.choices = choices


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
_LOCAL_LABEL = r"[a-z0-9]+(?:[._-][a-z0-9]+)*"
TYPE_CHECKING = False
if TYPE_CHECKING:
    from packaging.version import Version


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
    import re

    spec = fact_spec(name, origin)
    if has_control_characters(raw):
        raise OverrideError(f"{origin}: the value {raw!r} holds a control character or newline")
    text = raw.strip()
    if not text:
        return None
    if spec.kind == Kind.VERSION:
        version = _parse_version(text, origin, allow_local=(name == "torch"))
        return str(version)
    if spec.kind == Kind.VERSION_LIST:
        items = [item for item in re.split(r"[\s,;]+", text) if item]
        return tuple(str(_parse_version(item, origin, allow_local=False)) for item in items)
    if spec.kind == Kind.BOOLEAN:
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise OverrideError(f"{origin}: {raw!r} is not a boolean; use 1/0, true/false or yes/no")
    if name == "torch-local" and not re.fullmatch(_LOCAL_LABEL, text, re.IGNORECASE):
        raise OverrideError(f"{origin}: {raw!r} is not a local version label such as cu128 or cpu")
    if spec.choices and text not in spec.choices:
        raise OverrideError(
            f"{origin}: {raw!r} is not one of {', '.join(spec.choices)}"
            f"{did_you_mean(text, spec.choices)}"
        )
    return text


def _parse_version(text: str, origin: str, *, allow_local: bool) -> Version:
    from packaging.version import InvalidVersion, Version

    try:
        version = Version(text)
    except InvalidVersion:
        raise OverrideError(f"{origin}: {text!r} is not a valid version (PEP 440)") from None
    if version.local is not None and not allow_local:
        raise OverrideError(f"{origin}: {text!r} has a local label (+...); give the version only")
    return version


def split_torch_version(text: str) -> tuple[str, str | None]:
    """``"2.7.1+cu128"`` -> ``("2.7.1", "cu128")``: the public version and the local label.
    A version already in packaging's normal form for a plain release (digits and dots, an
    optional lower-case label) is split as it stands, without importing packaging: that is
    every torch a build meets, and it keeps probing cheap; anything else goes to packaging."""
    if is_plain_version(text):
        release, _, label = text.partition("+")
        return release, label or None
    from packaging.version import Version

    version = Version(text)
    return version.public, version.local


def is_plain_version(text: str) -> bool:
    """``2.8.0`` or ``2.8.0+cu128``: a release and an optional label, both already in
    packaging's normal form, so valid and split at ``+`` exactly as packaging would."""
    release, plus, label = text.partition("+")
    return is_plain_release(release) and (not plus or _is_plain_label(label))


def is_plain_release(text: str) -> bool:
    """``2.8.0``: numbers without leading zeros, joined by dots (packaging's normal form)."""
    parts = text.split(".")
    return all(part.isdigit() and part.isascii() and (part == "0" or part[0] != "0")
               for part in parts)  # fmt: skip


def _is_plain_label(label: str) -> bool:
    parts = label.split(".")
    return all(
        part and part.isascii() and part.isalnum() and part == part.lower() for part in parts
    )


def assumed_from_label(label: str | None) -> dict[str, FactValue]:
    """The build facts a torch local label implies: ``cu128`` -> CUDA 12.8, ``rocm6.3`` -> ROCm
    6.3, ``cpu`` -> CPU. Used when torch is named rather than installed (overrides, ``missing``)."""
    import re

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
