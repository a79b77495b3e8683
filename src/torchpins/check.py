"""``torchpins check``: lint a matrix before users meet its faults.

Every finding names its key (``tool.torchpins.matrix[4].when.torch``), says what is wrong and how
to fix it. Errors are faults a build would hit or conditions that can never hold; warnings are
rows that rot: open-ended, shadowed, conflicting. The analysis runs the real
:func:`~torchpins.resolve.resolve` over the representative environments of
:mod:`torchpins.explore`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Literal

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from torchpins.errors import did_you_mean, shorten
from torchpins.explore import (
    Outcome,
    boundaries,
    environments,
    evaluate,
    far_future,
    ordered_facts,
    representative_values,
)
from torchpins.facts import FACTS, Kind, is_build_label
from torchpins.settings import Condition, Project, Row, Settings

Severity = Literal["error", "warning"]

#: Values ``sys.platform`` takes (CPython's documented list, plus the BSDs by prefix).
KNOWN_PLATFORMS = (
    "linux", "darwin", "win32", "cygwin", "aix", "emscripten", "wasi", "android", "ios",
    "freebsd", "openbsd", "netbsd", "sunos5",
)  # fmt: skip
#: Values ``platform.machine()`` takes on the platforms torch supports.
KNOWN_MACHINES = (
    "x86_64", "aarch64", "arm64", "AMD64", "ARM64", "x86", "i686", "ppc64le", "s390x",
    "armv7l", "riscv64",
)  # fmt: skip


@dataclass(frozen=True)
class Finding:
    severity: Severity
    key: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.key}: {self.message}; {self.fix}"


def check(project: Project) -> list[Finding]:
    settings = project.settings
    findings: list[Finding] = []
    findings += _impossible_conditions(settings)
    findings += _undeclared_names(settings)
    outcomes = [evaluate(project, env) for env in environments(settings)]
    findings += _never_applies(settings, outcomes)
    findings += _torch_gaps(settings)
    findings += _open_ended(settings)
    findings += _no_effect(project, outcomes)
    findings += _conflicting_pins(settings, outcomes)
    findings += _extras_dropped_and_readded(settings, outcomes)
    return findings


# --------------------------------------------------------------------------------------------
# Conditions


def _impossible_conditions(settings: Settings) -> list[Finding]:
    findings = []
    for row in settings.matrix:
        for part, conditions in (("when", row.when), ("unless", row.unless)):
            for condition in conditions:
                key = f"{row.key}.{part}.{condition.fact}"
                finding = _impossible(settings, condition, key)
                if finding:
                    findings.append(finding)
    return findings


def _impossible(settings: Settings, condition: Condition, key: str) -> Finding | None:
    fact = condition.fact
    kind = FACTS[fact].kind
    if kind in (Kind.VERSION, Kind.VERSION_LIST):
        points = boundaries(settings, fact)
        candidates = [str(v) for v in points] + [str(far_future(points))]
        candidates += [str(v) for v in representative_values(settings, fact) if isinstance(v, str)]
        if not any(condition.holds((c,) if kind == Kind.VERSION_LIST else c) for c in candidates):
            return Finding(
                "error",
                key,
                f"{condition.text!r} can never hold: no version satisfies every part of it",
                "check the bounds (a lower bound above the upper one?)",
            )
        return None
    if fact in ("platform", "machine"):
        known = KNOWN_PLATFORMS if fact == "platform" else KNOWN_MACHINES
        for value in condition.strings:
            matches = value in known or (fact == "platform" and value.startswith("freebsd"))
            if not matches:
                caseless = [k for k in known if k.lower() == value.lower()]
                hint = (
                    f" (did you mean {caseless[0]!r}?)" if caseless else did_you_mean(value, known)
                )
                source = "sys.platform" if fact == "platform" else "platform.machine()"
                return Finding(
                    "error",
                    key,
                    f"{shorten(value)} is never a value of {source}{hint}, so this can never hold",
                    f"use one of {', '.join(known[:6])}, ...",
                )
    if fact == "torch-local":
        for value in condition.strings:
            if not is_build_label(value):
                return Finding(
                    "warning",
                    key,
                    f"{shorten(value)} does not look like a torch build label",
                    "torch's labels are cpu, cuXYZ (cu128), rocmX.Y (rocm6.3) and xpu",
                )
    return None


def _never_applies(settings: Settings, outcomes: list[Outcome]) -> list[Finding]:
    findings = []
    for row in settings.matrix:
        if not any(row.matches(o.environment.values) for o in outcomes):
            findings.append(
                Finding(
                    "warning",
                    row.key,
                    f"applies in none of the {len(outcomes)} representative environments "
                    "(its when and unless exclude each other, or no torch build has that mix)",
                    "fix its conditions or remove it",
                )
            )
    return findings


# --------------------------------------------------------------------------------------------
# torch ranges


def _torch_conditions(row: Row) -> list[Condition]:
    return [condition for condition in row.when if condition.fact == "torch"]


def _torch_gaps(settings: Settings) -> list[Finding]:
    torch_rows = [row for row in settings.matrix if row.names_torch]
    if settings.unmatched != "error" or not torch_rows:
        return []
    points = boundaries(settings, "torch")
    findings = []
    for low, high in itertools.pairwise(points):
        version = str(low)
        if any(all(c.holds(version) for c in _torch_conditions(row)) for row in torch_rows):
            continue
        findings.append(
            Finding(
                "error",
                "tool.torchpins.matrix",
                f"no row covers torch >={low},<{high} (e.g. torch {low}), which lies between "
                'the rows\' own bounds; with unmatched = "error" every build on such a torch fails',
                f"widen a row or add one for torch >={low},<{high}, or an error row saying it "
                "is unsupported",
            )
        )
    return findings


def _open_ended(settings: Settings) -> list[Finding]:
    points = boundaries(settings, "torch")
    future = far_future(points)
    findings = []
    for row in settings.matrix:
        conditions = _torch_conditions(row)
        if not conditions or row.error is not None or not _chooses_versions(row):
            continue
        if all(c.holds(str(future)) for c in conditions):
            top = points[-1] if points else Version("2.0")
            cap = f"{top.release[0]}.{(top.release[1] if len(top.release) > 1 else 0) + 1}"
            findings.append(
                Finding(
                    "warning",
                    f"{row.key}.when.torch",
                    f"{', '.join(c.text for c in conditions)!r} is open-ended: the row applies "
                    f"to every future torch (torch {future} too), so pins chosen for today's "
                    "torch reach torches nobody has tested",
                    f"bound it above (e.g. add ',<{cap}') and add a row when a new torch is "
                    'tested; with unmatched = "error" an untested torch then stops the build',
                )
            )
    return findings


def _chooses_versions(row: Row) -> bool:
    return bool(row.pins or row.add or row.extras)


# --------------------------------------------------------------------------------------------
# Rows that do nothing, or fight


def _no_effect(project: Project, outcomes: list[Outcome]) -> list[Finding]:
    settings = project.settings
    findings = []
    for row in settings.matrix:
        if row.error is not None:
            continue
        applied = [o for o in outcomes if o.resolution and row.index in o.resolution.matched]
        if not applied:
            continue
        without = replace(
            project,
            settings=replace(
                settings, matrix=tuple(r for r in settings.matrix if r.index != row.index)
            ),
        )
        changed = False
        later: set[int] = set()
        for outcome in applied:
            other = evaluate(without, outcome.environment)
            assert outcome.resolution is not None
            if other.resolution is None or _result(other) != _result(outcome):
                changed = True
                break
            later |= {i for i in outcome.resolution.matched if i > row.index}
        if changed:
            continue
        touching = sorted(i for i in later if _touches(settings.matrix[i], row))
        example = applied[0].environment.describe(ordered_facts(settings))
        if touching:
            what = f"later rows {touching} replace or undo everything it does wherever it applies"
        else:
            what = "it changes nothing in any environment where it applies"
        findings.append(
            Finding(
                "warning",
                row.key,
                f"has no effect: {what} (e.g. {example})",
                "remove it, or narrow the later rows",
            )
        )
    return findings


def _result(outcome: Outcome) -> tuple[tuple[str, ...], tuple[str, ...]]:
    assert outcome.resolution is not None
    return (
        tuple(sorted(outcome.resolution.requires_dist)),
        tuple(outcome.resolution.provides_extra),
    )


def _names(row: Row) -> set[NormalizedName]:
    names = set(row.remove) | {name for name, _ in row.pins}
    names |= {canonicalize_name(req.name) for req in row.add}
    names |= set(row.drop_extras) | {extra for extra, _ in row.extras}
    return names


def _touches(later: Row, row: Row) -> bool:
    return bool(_names(later) & _names(row))


def _row_pairs(settings: Settings, outcomes: list[Outcome]) -> Iterator[tuple[Outcome, Row, Row]]:
    """Every (environment, earlier row, later row) where both rows apply, error rows included."""
    for outcome in outcomes:
        matched = [settings.matrix[i] for i in outcome.matched]
        for position, first in enumerate(matched):
            for second in matched[position + 1 :]:
                yield outcome, first, second


def _conflicting_pins(settings: Settings, outcomes: list[Outcome]) -> list[Finding]:
    findings = []
    reported: set[tuple[int, int, str]] = set()
    for outcome, first, second in _row_pairs(settings, outcomes):
        pins = dict(first.pins)
        for name, specifier in second.pins:
            key = (first.index, second.index, name)
            if name in pins and pins[name] != specifier and key not in reported:
                reported.add(key)
                example = outcome.environment.describe(ordered_facts(settings))
                findings.append(
                    Finding(
                        "warning",
                        f"{second.key}.pins.{name}",
                        f"both {first.key} ({pins[name]}) and this row ({specifier}) pin {name} "
                        f"and both apply (e.g. {example}); the later row wins silently",
                        "make the rows exclusive (unless = {...}) if that is not meant",
                    )
                )
    return findings


def _extras_dropped_and_readded(settings: Settings, outcomes: list[Outcome]) -> list[Finding]:
    findings = []
    for row in settings.matrix:
        both = set(row.drop_extras) & {extra for extra, _ in row.extras}
        for extra in sorted(both):
            findings.append(
                Finding(
                    "warning",
                    f"{row.key}.drop-extras",
                    f"drops the extra {extra!r} and gives it back in its own extras (extras "
                    "apply after drop-extras)",
                    "keep one of the two",
                )
            )
    reported: set[tuple[int, int, str]] = set()
    for outcome, first, second in _row_pairs(settings, outcomes):
        for extra in sorted(set(first.drop_extras) & {name for name, _ in second.extras}):
            key = (first.index, second.index, extra)
            if key in reported:
                continue
            reported.add(key)
            example = outcome.environment.describe(ordered_facts(settings))
            findings.append(
                Finding(
                    "warning",
                    f"{second.key}.extras.{extra}",
                    f"gives back the extra {extra!r} that {first.key} drops, where both apply "
                    f"(e.g. {example})",
                    "make the rows exclusive, or drop the extra in the later row",
                )
            )
    return findings


# --------------------------------------------------------------------------------------------
# Names


def _undeclared_names(settings: Settings) -> list[Finding]:
    findings = []
    checks = (
        ("remove", settings.declared_names(), "is declared nowhere", "removing"),
        ("drop-extras", settings.declared_extras(), "is an extra nobody declares", "dropping"),
    )
    for row in settings.matrix:
        for field, known, what, doing in checks:
            for name in row.remove if field == "remove" else row.drop_extras:
                if name in known:
                    continue
                findings.append(
                    Finding(
                        "warning",
                        f"{row.key}.{field}",
                        f"{shorten(name)} {what}{did_you_mean(name, known)}, so {doing} it "
                        "does nothing",
                        f"fix the name, or drop it from {field}",
                    )
                )
    return findings
