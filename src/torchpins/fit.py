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


def mismatch(built: Mapping[str, object], present: Mapping[str, object]) -> str | None:
    """Why the torch ``present`` describes does not fit the one ``built`` describes (each a
    mapping of the build facts, as a build record holds them), or None when it fits. A wheel
    built without torch facts fits anything; no torch present is the caller's to judge."""
    if not built.get("torch") or not present.get("torch"):
        return None
    release = minor_release(built["torch"])
    if release is None or release != minor_release(present["torch"]):
        return "another torch release"
    made_for, here = build(built), build(present)
    if made_for is not None and here is not None and made_for != here:
        return "another torch build"
    return None
