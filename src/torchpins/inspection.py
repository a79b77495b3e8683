"""``torchpins inspect``: what a wheel or an installed distribution was built for, and whether
this environment still fits it.

pip's and uv's wheel caches key on the sdist and the interpreter, never on torch, so a wheel built
for torch 2.7 can be installed beside torch 2.8 and fail with ``undefined symbol``. The build
record says what it was built for; this compares it with what is here.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from typing import Any

from packaging.version import InvalidVersion

from torchpins import fit
from torchpins.errors import TorchpinsError, shorten
from torchpins.facts import (
    Facts,
    TorchBuild,
    format_value,
    torch_text,
)


class InspectError(TorchpinsError):
    """The wheel or distribution cannot be read, or holds no build record."""


@dataclass(frozen=True)
class Inspected:
    name: str
    version: str
    where: str
    record: dict[str, Any]


def read_record(target: str) -> Inspected:
    """The build record of a wheel file, or of an installed distribution named ``target``."""
    if target.endswith(".whl") or os.path.isfile(target):
        return _from_wheel(target)
    return _from_distribution(target)


def _from_wheel(path: str) -> Inspected:
    try:
        with zipfile.ZipFile(path) as wheel:
            names = wheel.namelist()
            records = [
                n for n in names if n.count("/") == 1 and n.endswith(".dist-info/torchpins.json")
            ]
            metadata = [n for n in names if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
            if not records:
                raise InspectError(
                    f"{path} holds no .dist-info/torchpins.json: it was not built by torchpins"
                )
            text = wheel.read(records[0]).decode("utf-8", "replace")
            header = wheel.read(metadata[0]).decode("utf-8", "replace") if metadata else ""
    except FileNotFoundError:
        raise InspectError(f"{path} does not exist") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as error:
        raise InspectError(f"{path} is not a readable wheel ({error})") from None
    name, version = _name_version(header, os.path.basename(path))
    return Inspected(name, version, path, _parse(text, path))


def _from_distribution(name: str) -> Inspected:
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution(name)
    except PackageNotFoundError:
        raise InspectError(
            f"{shorten(name)} is neither a wheel file nor a distribution installed here"
        ) from None
    try:
        text = dist.read_text("torchpins.json")
    except (OSError, UnicodeDecodeError) as error:
        raise InspectError(f"the build record of {name!r} cannot be read ({error})") from None
    if text is None:
        raise InspectError(
            f"{dist.metadata['Name']} {dist.version} holds no torchpins.json: it was not built by "
            "torchpins (or was installed from an sdist by an old torchpins)"
        )
    where = f"installed in {dist.locate_file('')}"
    return Inspected(dist.metadata["Name"], dist.version, where, _parse(text, where))


def _name_version(header: str, filename: str) -> tuple[str, str]:
    from email.parser import HeaderParser

    message = HeaderParser().parsestr(header)
    name = message.get("Name") or filename.split("-")[0]
    version = message.get("Version") or [*filename.split("-"), "?"][1]
    return str(name), str(version)


def _parse(text: str, where: str) -> dict[str, Any]:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise InspectError(f"the build record in {where} is not valid JSON ({error})") from None
    if not isinstance(record, dict) or not isinstance(record.get("facts"), dict):
        raise InspectError(f"the build record in {where} has no facts")
    facts = record["facts"]
    for name in ("torch", "torch-local"):
        value = facts.get(name)
        if value is not None and not isinstance(value, str):
            raise InspectError(f"the build record in {where} holds a {name} that is not text")
    if facts.get("torch") is not None:
        try:
            TorchBuild.from_facts(facts)
        except InvalidVersion:
            raise InspectError(
                f"the build record in {where} names torch {shorten(facts['torch'])}, which is "
                "not a version; the wheel is damaged: rebuild it"
            ) from None
    return record


# --------------------------------------------------------------------------------------------
# Comparing


@dataclass(frozen=True)
class Mismatch:
    fact: str
    built: str
    here: str
    why: str


def compare(inspected: Inspected, here: Facts) -> list[Mismatch]:
    """What differs between what the wheel was built for and this environment, by the rule the
    runtime guard embeds (:mod:`torchpins.fit`): a decided fact beyond torch (glibc, the C++
    ABI, the CUDA driver, the GPU architectures) outside the outcome the build's rows rested
    on; another torch minor release (2.7 vs 2.8, epochs included); or another build (CPU vs
    CUDA vs ROCm, another CUDA or ROCm version)."""
    built = inspected.record["facts"]
    now = here.values
    mismatches: list[Mismatch] = []
    outcomes = inspected.record.get("outcomes")
    for fact, outcome in (outcomes if isinstance(outcomes, dict) else {}).items():
        why = fit.outcome_mismatch({fact: outcome}, now)
        if why is not None:
            mismatches.append(
                Mismatch(fact, format_value(built.get(fact)), format_value(now.get(fact)), why)
            )
    if not built.get("torch"):
        return mismatches  # built without torch facts (missing = "unpinned")
    if not now.get("torch"):
        return [Mismatch("torch", torch_text(built), "(no torch)", "torch is not installed")]
    if fit.minor_release(built["torch"]) != fit.minor_release(now["torch"]):
        mismatches.append(
            Mismatch("torch", torch_text(built), torch_text(now), "another torch release")
        )
    made_for, present = fit.build(built), fit.build(now)
    if made_for is not None and present is not None and made_for != present:
        differ = [
            fact
            for fact in ("accelerator", "cuda", "rocm")
            if fit.build({**built, fact: now.get(fact)}) != made_for
        ]
        for fact in differ or ["accelerator"]:
            mismatches.append(
                Mismatch(
                    fact,
                    format_value(built.get(fact)),
                    format_value(now.get(fact)),
                    "another torch build",
                )
            )
    return mismatches


def reinstall_command(inspected: Inspected) -> str:
    """Rebuild against the torch that is here: pip's cache ignores torch, so bypass it; keep the
    build in this environment; do not let pip touch torch (--no-deps)."""
    return (
        "pip install --no-cache-dir --force-reinstall --no-build-isolation --no-deps "
        f"{inspected.name}=={inspected.version}"
    )
