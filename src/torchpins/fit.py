"""The one compatibility rule: does the torch present fit the torch a wheel was built for?

``torchpins inspect --check`` applies it, and the runtime guard module embeds this file's source
(so the two can never disagree). It therefore uses the standard library only and reads no
torchpins module. A wheel fits when torch is the same minor release (epochs included) and the
same build: the same accelerator, and for CUDA or ROCm the same major.minor version. Versions
and labels compare as PEP 440 does (``nv24.08`` is ``nv24.8``); a torch without a label (how
the default Linux torch ships) is told apart by its ``torch/version.py``, never by its name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

Build = tuple[str, tuple[int, int] | None]

#: The build facts a rule compares, as the build record holds them.
BUILD_KEYS = ("torch", "torch-local", "cuda", "rocm", "accelerator")
#: The other facts a build decides whose outcome the record keeps, when rows test them.
OUTCOME_KEYS = ("glibc", "cxx11abi", "cuda-driver", "gpu-arch")

_RELEASE = re.compile(r"^\s*v?(?:(\d+)!)?(\d+(?:\.\d+)*)", re.IGNORECASE)
_CUDA_LABEL = re.compile(r"^cu(\d+)(\d)$")
_ROCM_LABEL = re.compile(r"^rocm(\d+(?:\.\d+)*)$")


def minor_release(version: object) -> tuple[int, int, int] | None:
    """``(epoch, major, minor)`` of a PEP 440 version text; None when it is not one."""
    match = _RELEASE.match(str(version).split("+")[0])
    if not match:
        return None
    numbers = [int(part) for part in match.group(2).split(".")] + [0]
    return (int(match.group(1) or 0), numbers[0], numbers[1])


def normal_label(label: object) -> str | None:
    """A local label as PEP 440 normalises it: lower case, ``-``/``_`` as ``.``, numbers
    without leading zeros (``872d972e41.NV24.08`` -> ``872d972e41.nv24.8``)."""
    if not label:
        return None
    parts = re.split(r"[-_.]", str(label).lower())
    return ".".join(str(int(part)) if part.isdigit() else part for part in parts)


def _major_minor(text: object) -> tuple[int, int] | None:
    match = re.match(r"^\s*(\d+)(?:\.(\d+))?", str(text or ""))
    return (int(match.group(1)), int(match.group(2) or 0)) if match else None


def build(facts: Mapping[str, object]) -> Build | None:
    """``("cuda", (12, 8))``, ``("rocm", (6, 3))``, ``("cpu", None)``...: the build a set of
    facts describes (the accelerator and its version), or None when nothing tells."""
    accelerator = facts.get("accelerator")
    cuda, rocm = _major_minor(facts.get("cuda")), _major_minor(facts.get("rocm"))
    label = normal_label(facts.get("torch-local"))
    if accelerator is None and label:  # only the label tells (a torch named, not installed)
        cuda_label = _CUDA_LABEL.match(label)
        if cuda_label:
            accelerator, cuda = "cuda", (int(cuda_label.group(1)), int(cuda_label.group(2)))
        elif _ROCM_LABEL.match(label):
            accelerator, rocm = "rocm", _major_minor(label[4:])
        elif label in ("cpu", "xpu"):
            accelerator = label
    if not isinstance(accelerator, str):
        return None
    version = cuda if accelerator == "cuda" else rocm if accelerator == "rocm" else None
    return (accelerator, version)


def _numbers(text: object) -> tuple[int, ...] | None:
    match = _RELEASE.match(str(text))
    return tuple(int(part) for part in match.group(2).split(".")) if match else None


def _below(left: tuple[int, ...], right: tuple[int, ...]) -> bool:
    width = max(len(left), len(right))
    return left + (0,) * (width - len(left)) < right + (0,) * (width - len(right))


def region_of(value: object, regions: list[list[str | None]]) -> int | None:
    """The index of the range (``[low, high]``, low included, high excluded, None unbounded)
    that holds a version, or None."""
    numbers = _numbers(value)
    if numbers is None:
        return None
    for index, (low, high) in enumerate(regions):
        low_n = _numbers(low) if low is not None else None
        high_n = _numbers(high) if high is not None else None
        if (low_n is None or not _below(numbers, low_n)) and (
            high_n is None or _below(numbers, high_n)
        ):
            return index
    return None


def outcome_mismatch(
    outcomes: Mapping[str, Mapping[str, object]], present: Mapping[str, object]
) -> str | None:
    """Why a decided fact's value here gives another outcome than at build, or None. A fact
    not known here (None) gives no verdict."""
    for fact, outcome in outcomes.items():
        here = present.get(fact)
        if here is None or here == ():
            continue
        if "value" in outcome:
            if here != outcome["value"]:
                return f"{fact} is {here} here, and the build's rows decided on {outcome['value']}"
            continue
        regions = outcome.get("regions")
        if not isinstance(regions, list):
            continue
        items = list(here) if isinstance(here, list | tuple) else [here]
        found = {region_of(item, regions) for item in items}
        if None in found or len(found) != len(regions):
            shown = ", ".join(str(item) for item in items)
            ranges = " and ".join(_range_text(low, high) for low, high in regions)
            return f"{fact} is {shown} here, and the build's rows decided on {fact} {ranges}"
    return None


def _range_text(low: object, high: object) -> str:
    parts = ([f">={low}"] if low is not None else []) + ([f"<{high}"] if high is not None else [])
    return ",".join(parts) or "(any)"


def mismatch(built: Mapping[str, object], present: Mapping[str, object]) -> str | None:
    """Why the torch ``present`` describes does not fit the one ``built`` describes (each a
    mapping of the build facts, as a build record holds them), or None when it fits. A wheel
    built without torch facts fits anything; no torch present is the caller's to judge. The
    other decided facts are :func:`outcome_mismatch`'s."""
    if not built.get("torch") or not present.get("torch"):
        return None
    release = minor_release(built["torch"])
    if release is None or release != minor_release(present["torch"]):
        return "another torch release"
    made_for, here = build(built), build(present)
    if made_for is not None and here is not None and made_for != here:
        return "another torch build"
    return None
