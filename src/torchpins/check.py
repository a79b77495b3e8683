"""``torchpins check``: lint a matrix before users meet its faults.

Every finding names its key (``tool.torchpins.matrix[4].when.torch``), says what is wrong and how
to fix it. Errors are faults a build would hit or conditions that can never hold; warnings are
rows that rot: open-ended, shadowed, conflicting. The analysis runs the real
:func:`~torchpins.resolve.resolve` over the representative environments of
:mod:`torchpins.explore`.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Literal

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from torchpins.errors import ResolveError, did_you_mean, shorten
from torchpins.explore import (
    Outcome,
    boundaries,
    environments,
    evaluate,
    far_future,
    just_below,
    ordered_facts,
    spec_points,
)
from torchpins.facts import Kind, is_build_label
from torchpins.resolve import Resolution, resolve
from torchpins.settings import Condition, Project, Row, Settings
from torchpins.templates import TemplateError

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
    findings += _build_setup(project)
    findings += _impossible_conditions(settings)
    findings += _undeclared_names(settings)
    outcomes = [evaluate(project, env) for env in environments(settings)]
    findings += _never_applies(settings, outcomes)
    findings += _torch_gaps(settings)
    findings += _open_ended(settings)
    findings += _no_effect(project, outcomes)
    findings += _conflicting_pins(settings, outcomes)
    findings += _extras_dropped_and_readded(settings, outcomes)
    findings += _templates_that_fail(settings, outcomes)
    findings += _unused_environment_facts(settings)
    findings += _decided_installer_facts(settings)
    return findings


def _decided_installer_facts(settings: Settings) -> list[Finding]:
    """Rows whose conditions on python, platform or machine cannot become markers, because a
    template names that fact (SPEC section 8): the build decides them, and the wheel is tagged
    for the builder's values."""
    from torchpins.markers import INSTALLER_FACTS

    if not settings.markers:
        return []
    named: dict[str, str] = {}
    for template in settings.templates():
        for fact in template.facts & set(INSTALLER_FACTS):
            named.setdefault(fact, template.key)
    findings = []
    for row in settings.matrix:
        for condition in row.conditions:
            where = named.get(condition.fact)
            if where is None or row.error is not None:
                continue  # an error row is decided at build time anyway
            table = "when" if condition in row.when else "unless"
            findings.append(
                Finding(
                    "warning",
                    f"{row.key}.{table}.{condition.fact}",
                    f"tests {condition.fact}, which cannot become a marker because {where} "
                    f"names {{{condition.fact}}}: the build decides it, and the wheel is tagged "
                    f"for the builder's {condition.fact} (one wheel per "
                    f"{'Python' if condition.fact == 'python' else 'platform'})",
                    f"fill the template from another fact, or build one wheel per "
                    f"{condition.fact} (torchpins ci-matrix)",
                )
            )
            break
    return findings


def _build_setup(project: Project) -> list[Finding]:
    """What makes a build ignore the configuration, or refuse it: another backend, or a
    setup.py that passes the requirements itself."""
    findings = []
    if not project.backend_is_torchpins:
        backend = project.build_backend
        shown = f"is {backend!r}" if backend else "is not set (pip then uses setuptools)"
        findings.append(
            Finding(
                "error",
                "build-system.build-backend",
                f"{shown}, which does not read [tool.torchpins]: a build writes none of the "
                "requirements configured here, and no error says so",
                'set build-backend = "torchpins.build_meta" and add "torchpins" to '
                "build-system.requires (or wrap it in an in-tree backend on backend-path)",
            )
        )
    for argument in project.setup_py_arguments:
        table = "dependencies" if argument == "install_requires" else "optional-dependencies"
        findings.append(
            Finding(
                "error",
                "setup.py",
                f"passes {argument}=..., which a torchpins build refuses (the requirements come "
                "from [tool.torchpins])",
                f"move them to tool.torchpins.{table} and drop the argument",
            )
        )
    return findings


def _templates_that_fail(settings: Settings, outcomes: list[Outcome]) -> list[Finding]:
    """A template that cannot be filled in where its row applies: a fact it names is absent
    there, or it makes a requirement (or specifier) that is not one."""
    findings: list[Finding] = []
    seen: set[str] = set()
    for outcome in outcomes:
        error = outcome.error
        if isinstance(error, TemplateError) and error.key not in seen:
            seen.add(error.key)
            example = outcome.environment.describe(ordered_facts(settings))
            message = str(error).split(f"{error.key}: ", 1)[-1]
            findings.append(
                Finding(
                    "error",
                    error.key,
                    f"fails to fill in where its row applies (e.g. {example}): {message}",
                    "fix the template, or narrow the row's when to where its facts are known",
                )
            )
    return findings


def _unused_environment_facts(settings: Settings) -> list[Finding]:
    used = settings.facts_used() | settings.facts_in_templates()
    return [
        Finding(
            "warning",
            f"tool.torchpins.env.{fact.name}",
            f"is declared (from ${fact.variable}) but no row tests it and no template names it",
            "use it in a row's when, or remove it",
        )
        for fact in settings.env
        if fact.name not in used
    ]


# --------------------------------------------------------------------------------------------
# Conditions


def _impossible_conditions(settings: Settings) -> list[Finding]:
    findings = []
    verdicts: dict[tuple[str, str], Finding | None] = {}  # the same condition, many rows
    for row in settings.matrix:
        tables = [("when", row.when)]
        many = len(row.unless) > 1
        tables += [(f"unless[{i}]" if many else "unless", t) for i, t in enumerate(row.unless)]
        for part, conditions in tables:
            for condition in conditions:
                key = f"{row.key}.{part}.{condition.fact}"
                seen = (condition.fact, condition.text)
                if seen not in verdicts:
                    verdicts[seen] = _impossible(settings, condition, key)
                finding = verdicts[seen]
                if finding:
                    findings.append(replace(finding, key=key))
    return findings


def _impossible(settings: Settings, condition: Condition, key: str) -> Finding | None:
    fact = condition.fact
    kind = settings.facts[fact].kind
    if kind in (Kind.VERSION, Kind.VERSION_LIST):
        # Where a condition's answer can change is at its own versions: try each, a version
        # just inside its open bound (2.7.1.1 for >2.7.1), one below them all and one beyond.
        points = sorted({p for spec in condition.specifiers for s in spec for p in spec_points(s)})
        candidates = [str(v) for v in points] + [f"{v.base_version}.1" for v in points]
        candidates += [str(far_future(points))] + ([str(just_below(points[0]))] if points else [])
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
    applied = {row.index for o in outcomes for row in settings.matching(o.environment.values)}
    return [
        Finding(
            "warning",
            row.key,
            f"applies in none of the {len(outcomes)} representative environments "
            "(its when and unless exclude each other, or no torch build has that mix)",
            "fix its conditions or remove it",
        )
        for row in settings.matrix
        if row.index not in applied
    ]


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
    """Rows whose removal changes no environment where they apply: resolved again with the same
    rows but that one (the rows an environment matches are known; nothing is matched twice)."""
    settings = project.settings
    by_row: dict[int, list[Outcome]] = {}
    for outcome in outcomes:
        if outcome.resolution is not None:
            for index in outcome.resolution.matched:
                by_row.setdefault(index, []).append(outcome)
    torch_rows = Counter(c.text for row in settings.matrix for c in row.when if c.fact == "torch")
    findings = []
    for row in settings.matrix:
        applied = by_row.get(row.index, [])
        if row.error is not None or not applied:
            continue
        changed = False
        later: set[int] = set()
        for outcome in applied:
            assert outcome.resolution is not None
            if _only_cover(settings, row, outcome, torch_rows):
                changed = True  # without it, this torch would be unmatched
                break
            rows = [settings.matrix[i] for i in outcome.resolution.matched if i != row.index]
            try:
                other = resolve(project, outcome.environment.facts(), rows=rows)
            except ResolveError:
                changed = True
                break
            if _result_of(other) != _result_of(outcome.resolution):
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


def _only_cover(settings: Settings, row: Row, outcome: Outcome, counts: Counter[str]) -> bool:
    """Whether ``row`` is the only row whose torch condition covers this environment's torch
    (removing it would make the torch unmatched, which ``unmatched = "error"`` refuses)."""
    torch = outcome.environment.values.get("torch")
    if settings.unmatched != "error" or not row.names_torch or torch is None:
        return False
    mine = {c.text for c in row.when if c.fact == "torch"}
    holding = [c.text for c in settings.torch_conditions if c.holds(torch)]
    return all(text in mine and counts[text] == 1 for text in holding)


def _result_of(resolution: Resolution) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(sorted(resolution.requires_dist)), tuple(resolution.provides_extra)


def _names(row: Row) -> set[NormalizedName]:
    """The names a row touches, as written (a templated name is known only when it applies)."""
    names = {item.value for item in row.remove if item.value is not None}
    names |= {name.value for name, _ in row.pins if name.value is not None}
    names |= {canonicalize_name(item.value.name) for item in row.add if item.value is not None}
    names |= set(row.drop_extras) | {extra for extra, _ in (*row.extras, *row.extras_add)}
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
        pins = {name.value: value.template.text for name, value in first.pins if name.value}
        for pin_name, pin_value in second.pins:
            name, specifier = pin_name.value, pin_value.template.text
            if name is None:
                continue
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
            names = (
                [item.value for item in row.remove if item.value is not None]
                if field == "remove"
                else list(row.drop_extras)
            )
            for name in names:
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
