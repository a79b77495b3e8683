"""Representative environments of a matrix, and what the matrix gives in each.

The facts a matrix tests split every fact's range into regions at the versions its conditions
name. One value per region (and the values string conditions name) is enough to see everything
the matrix can do: ``check`` lints over these environments, ``table`` prints them. Everything
here is pure: environments are fact values given to :func:`torchpins.resolve.resolve`, never
probed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.specifiers import Specifier
from packaging.version import Version

from torchpins.errors import ResolveError
from torchpins.facts import (
    BUILD_FACTS,
    FACTS,
    Facts,
    FactValue,
    Kind,
    build_label,
    format_value,
    label_build,
    torch_text,
)
from torchpins.resolve import Resolution, RowError, UnmatchedTorch, resolve
from torchpins.settings import Condition, Project, Settings

#: Defaults for facts the matrix does not test (they cannot change its outcome).
_DEFAULTS: dict[str, FactValue] = {
    "python": "3.12",
    "platform": "linux",
    "machine": "x86_64",
    "glibc": "2.35",
    # for facts a template names but no condition tests
    "nvcc": "12.8",
    "cuda-driver": "12.8",
}
#: A machine each platform runs on, when the matrix does not test the machine.
_MACHINES = {"linux": "x86_64", "darwin": "arm64", "win32": "AMD64"}
#: A CUDA version for a CUDA build when no condition names one.
_DEFAULT_CUDA = "12.8"


@dataclass(frozen=True)
class Environment:
    """One representative environment: every fact it sets, as ``--set`` would."""

    values: Mapping[str, FactValue]

    def describe(self, facts: Iterable[str]) -> str:
        """``torch 2.7.1+cu126, linux`` over the facts that matter."""
        parts = []
        for name in facts:
            value = self.values.get(name)
            if name == "torch" and isinstance(value, str):
                parts.append(f"torch {torch_text(self.values)}")
            elif name in BUILD_FACTS:
                continue
            else:
                parts.append(f"{name} {format_value(value)}")
        return ", ".join(parts)

    def set_arguments(self) -> list[str]:
        """``FACT=VALUE`` strings that make ``torchpins resolve --set`` see this environment."""
        arguments = []
        for name, value in self.values.items():
            if name == "torch-local":
                continue  # carried by torch's label
            if name == "torch":
                arguments.append(f"torch={torch_text(self.values) if value else ''}")
            elif isinstance(value, tuple):
                arguments.append(f"{name}={','.join(value)}")
            else:
                arguments.append(f"{name}={'' if value is None else format_value(value)}")
        return arguments

    def facts(self) -> Facts:
        return Facts.given(self.values, "a representative environment")


@dataclass(frozen=True)
class Outcome:
    environment: Environment
    resolution: Resolution | None
    error: ResolveError | None

    @property
    def matched(self) -> tuple[int, ...]:
        """The rows that apply here, an error row among them."""
        if self.resolution is not None:
            return self.resolution.matched
        return self.error.matched if isinstance(self.error, RowError) else ()


def evaluate(project: Project, environment: Environment, *, markers: bool = False) -> Outcome:
    """What one target installs (``markers``: what a wheel built there carries)."""
    try:
        return Outcome(environment, resolve(project, environment.facts(), markers=markers), None)
    except ResolveError as error:
        return Outcome(environment, None, error)


# --------------------------------------------------------------------------------------------
# Representative values


def conditions(settings: Settings, fact: str) -> tuple[Condition, ...]:
    return settings.conditions_by_fact.get(fact, ())


def boundaries(settings: Settings, fact: str) -> list[Version]:
    """The versions at which ``fact``'s conditions can change their answer."""
    points: set[Version] = set()
    for condition in conditions(settings, fact):
        for specifier in condition.specifiers:
            for spec in specifier:
                points.update(spec_points(spec))
    return sorted(points)


def spec_points(spec: Specifier) -> list[Version]:
    text = spec.version
    if text.endswith(".*"):
        base = Version(text[:-2])
        return [base, _next_at(base, len(base.release) - 1)]
    version = Version(text)
    if spec.operator == "~=":
        return [version, _next_at(version, len(version.release) - 2)]
    if spec.operator in (">", "<=", "==", "!="):
        return [version, just_above(version)]
    return [version]


def _next_at(version: Version, position: int) -> Version:
    """``2.7.1`` bumped at ``position`` 1 -> ``2.8``."""
    release = list(version.release[: position + 1])
    release[-1] += 1
    return Version(".".join(map(str, release)))


def just_above(version: Version) -> Version:
    """The nearest release above ``version`` that a person would write: 2.7 -> 2.7.1,
    2.7.1 -> 2.7.2."""
    release = list(version.release)
    if len(release) < 3:
        return Version(".".join(map(str, [*release, *([0] * (2 - len(release))), 1])))
    release[-1] += 1
    return Version(".".join(map(str, release)))


def just_below(version: Version) -> Version:
    """A release below ``version``: 2.6 -> 2.5, 12.6 -> 12.5, 3.0 -> 2.9, 2.7.1 -> 2.7.0."""
    release = list(version.release)
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    if release[-1] > 0:
        release[-1] -= 1
        if len(release) == 1:
            release.append(9)
    else:
        return Version("0")
    return Version(".".join(map(str, release)))


def far_future(points: list[Version]) -> Version:
    """A version above every boundary: the torch of some future year."""
    top = points[-1] if points else Version("2.0")
    return Version(f"{top.release[0] + 1}.0")


def version_representatives(settings: Settings, fact: str) -> list[str]:
    """One version per region between the boundaries, plus one below them."""
    points = boundaries(settings, fact)
    if not points:
        return []
    values = {just_below(points[0]), *points}
    return [str(v) for v in sorted(values)]


def _strings(settings: Settings, fact: str) -> list[str]:
    found: list[str] = []
    for condition in conditions(settings, fact):
        for item in condition.strings:
            if item not in found:
                found.append(item)
    return found


def representative_values(settings: Settings, fact: str) -> list[FactValue]:
    """The values of one fact worth trying (for facts other than torch and its build)."""
    spec = settings.facts[fact]
    declared = fact not in FACTS  # an environment fact: unset is a case too
    if spec.kind == Kind.BOOLEAN:
        return [True, False, None] if declared else [True, False]
    if spec.kind == Kind.STRING_LIST:
        return [(), *[(value,) for value in _strings(settings, fact)]]
    if spec.kind == Kind.VERSION_LIST:
        return [(), *[(v,) for v in version_representatives(settings, fact)]]
    if spec.kind == Kind.VERSION:
        values: list[FactValue] = list(version_representatives(settings, fact))
        if fact in ("glibc", "nvcc", "cuda-driver") or declared:
            values.append(None)
        return values or [_DEFAULTS.get(fact)]
    return [*_strings(settings, fact), *([None] if declared else [])]


def builds(settings: Settings) -> list[dict[str, FactValue]]:
    """The torch builds worth trying: CPU, and CUDA / ROCm / XPU builds at the versions the rows
    name, each with the label, CUDA/ROCm version and accelerator that go together."""
    used = settings.facts_used()
    if not used & set(BUILD_FACTS):
        return [{"torch-local": None, "cuda": None, "rocm": None, "accelerator": "cpu"}]
    accelerators = set(_strings(settings, "accelerator"))
    labels = _strings(settings, "torch-local")
    found: list[dict[str, FactValue]] = [
        {"torch-local": "cpu", "cuda": None, "rocm": None, "accelerator": "cpu"}
    ]
    cuda = version_representatives(settings, "cuda")
    implied = [label_build(label) for label in labels]
    cuda += [str(build["cuda"]) for build in implied if build["cuda"]]
    if not cuda and ("cuda" in used or "cuda" in accelerators):
        cuda = [_DEFAULT_CUDA]
    rocm = version_representatives(settings, "rocm")
    rocm += [str(build["rocm"]) for build in implied if build["rocm"]]
    if not rocm and ("rocm" in used or "rocm" in accelerators):
        rocm = ["6.3"]
    accelerated = [("cuda", version) for version in sorted(set(cuda), key=Version)]
    accelerated += [("rocm", version) for version in sorted(set(rocm), key=Version)]
    if "xpu" in accelerators or "xpu" in labels:
        accelerated.append(("xpu", ""))
    for accelerator, version in accelerated:
        label = build_label(accelerator, version)
        found.append({"torch-local": label, **label_build(label)})
    return found


def platforms(settings: Settings) -> list[tuple[str, str]]:
    """(platform, machine) pairs: linux, the platforms the rows name, and the machines they name
    on the platforms those machines exist on."""
    names = ["linux", *[p for p in _strings(settings, "platform") if p != "linux"]]
    machines = _strings(settings, "machine")
    pairs: list[tuple[str, str]] = []
    for platform in names:
        default = _MACHINES.get(platform, "x86_64")
        pairs.append((platform, default))
        for machine in machines:
            if machine != default and _machine_fits(platform, machine):
                pairs.append((platform, machine))
    return pairs


def _machine_fits(platform: str, machine: str) -> bool:
    if platform == "darwin":
        return machine in ("arm64", "x86_64")
    if platform == "win32":
        return machine in ("AMD64", "ARM64", "x86")
    return machine not in ("arm64", "AMD64", "ARM64")


def environments(
    settings: Settings, fixed: Mapping[str, FactValue] | None = None
) -> list[Environment]:
    """Every combination of representative values of the facts the matrix uses: torch regions x
    platforms x builds x the other facts. ``fixed`` pins some facts (``table --set``)."""
    fixed = dict(fixed or {})
    used = settings.facts_used() | settings.facts_in_templates()
    torch_values: list[FactValue] = list(version_representatives(settings, "torch"))
    if not torch_values:
        torch_values = ["2.8.0"]
    if settings.torch.missing == "unpinned":
        torch_values.append(None)  # a build with no torch is one these settings allow
    others = [
        name
        for name in settings.facts
        if name in used and name not in ("torch", "platform", "machine", *BUILD_FACTS)
    ]
    values_of = [representative_values(settings, name) for name in others]
    result: list[Environment] = []
    seen: set[tuple[tuple[str, FactValue], ...]] = set()
    pairs = platforms(settings)
    if "platform" in fixed:
        wanted = fixed["platform"]
        pairs = [pair for pair in pairs if pair[0] == wanted] or [
            (str(wanted), _MACHINES.get(str(wanted), "x86_64"))
        ]
    if "machine" in fixed:
        pairs = sorted({(platform, str(fixed["machine"])) for platform, _ in pairs})
    for torch, (platform, machine), build in itertools.product(
        torch_values, pairs, builds(settings)
    ):
        if platform == "darwin" and build["accelerator"] not in ("cpu",):
            continue
        build = dict(build) if torch is not None else dict.fromkeys(BUILD_FACTS)
        if platform == "darwin":
            build["torch-local"] = None
        base: dict[str, FactValue] = {
            "torch": torch,
            **build,
            "python": _DEFAULTS["python"],
            "platform": platform,
            "machine": machine,
            "glibc": _DEFAULTS["glibc"] if platform == "linux" else None,
        }
        for combination in itertools.product(*values_of):
            values = dict(base)
            values.update(zip(others, combination, strict=True))
            if values.get("platform") != "linux" and "glibc" in others:
                values["glibc"] = None
            values.update(fixed)
            key = tuple(sorted(values.items(), key=lambda item: item[0]))
            if key not in seen:
                seen.add(key)
                result.append(Environment(values))
    return result


def ordered_facts(settings: Settings) -> list[str]:
    """The facts worth showing for this matrix, in the registry's order."""
    used = settings.facts_used() | settings.facts_in_templates() | {"torch"}
    return [name for name in settings.facts if name in used or name == "platform"]


# --------------------------------------------------------------------------------------------
# The table


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    outcomes: tuple[Outcome, ...]


def requirement_cells(resolution: Resolution) -> dict[str, str]:
    """Column -> cell for one resolution: ``xformers`` -> ``==0.0.31``; an extra's requirement
    is the column ``vllm [vllm]``; ``extra vllm`` says whether the extra is provided at all.
    Several requirements on one name (under different markers) share a cell, joined by ``&``;
    a direct reference shows its URL."""
    cells: dict[str, list[str]] = {}
    for requirement in resolution.dependencies:
        name = "torch (pin)" if requirement.name == "torch" else requirement.name
        cells.setdefault(name, []).append(_requirement_text(requirement))
    for extra, requirements in resolution.extras:
        cells[f"extra {extra}"] = ["provided"]
        for requirement in requirements:
            column = f"{requirement.name} [{extra}]"
            cells.setdefault(column, []).append(_requirement_text(requirement))
    return {column: " & ".join(texts) for column, texts in cells.items()}


def _requirement_text(requirement: Requirement) -> str:
    text = f"@ {requirement.url}" if requirement.url else str(requirement.specifier) or "any"
    if requirement.extras:
        text = f"[{','.join(sorted(requirement.extras))}] {text}"
    if requirement.marker is not None:
        text += f"; {requirement.marker}"
    return text


def build_table(
    project: Project, fixed: Mapping[str, FactValue] | None = None, *, markers: bool = False
) -> Table:
    """Environments as rows; the facts that tell them apart and the requirements that vary
    between them as columns. With ``markers``, one row per combination of the build-time facts
    (a wheel's metadata does not depend on the installer facts), in the marker form."""
    from torchpins.markers import INSTALLER_FACTS

    every = environments(project.settings, fixed)
    if markers:
        # per combination of build-time facts, the first builder an error row lets build
        groups: dict[tuple[tuple[str, FactValue], ...], list[Environment]] = {}
        for env in every:
            key = tuple((n, v) for n, v in env.values.items() if n not in INSTALLER_FACTS)
            groups.setdefault(key, []).append(env)
        outcomes = []
        for group in groups.values():
            tried = [evaluate(project, env, markers=True) for env in group]
            outcomes.append(next((o for o in tried if not isinstance(o.error, RowError)), tried[0]))
    else:
        outcomes = [evaluate(project, env) for env in every]
    facts = [
        name
        for name in ordered_facts(project.settings)
        if len({_fact_cell(o.environment, name) for o in outcomes}) > 1 or name == "torch"
    ]
    if markers:
        facts = [name for name in facts if name not in INSTALLER_FACTS]
    if any(o.environment.values.get("torch-local") for o in outcomes):
        facts = [name for name in facts if name not in BUILD_FACTS]
        facts.insert(facts.index("torch") + 1, "build")
    cells = [requirement_cells(o.resolution) if o.resolution else {} for o in outcomes]
    names: list[str] = []
    for row in cells:
        for name in row:
            if name not in names:
                names.append(name)
    varying = [
        name
        for name in names
        if len({row.get(name, "-") for row, o in zip(cells, outcomes, strict=True) if not o.error})
        > 1
    ]
    rows = []
    for outcome, row in zip(outcomes, cells, strict=True):
        context = [_fact_cell(outcome.environment, name) for name in facts]
        if outcome.error:
            requirements = ["-"] * len(varying)
            note = f"error: {short_error(outcome.error)}"
        else:
            requirements = [row.get(name, "-") for name in varying]
            assert outcome.resolution is not None
            note = "; ".join(outcome.resolution.warnings)
        rows.append((*context, *requirements, note))
    if markers:  # builders that differ only in installer facts give one row
        unique = dict(zip(rows, outcomes, strict=True))
        rows, outcomes = list(unique), list(unique.values())
    return Table((*facts, *varying, "notes"), tuple(rows), tuple(outcomes))


def _fact_cell(environment: Environment, name: str) -> str:
    values = environment.values
    if name == "torch":
        torch = values.get("torch")
        return torch if isinstance(torch, str) else "(none)"
    if name == "build":
        label = values.get("torch-local")
        return label if isinstance(label, str) else "-"
    return format_value(values.get(name))


def short_error(error: ResolveError) -> str:
    """A build error as a table cell: the row's own message, or that no row covers torch."""
    if isinstance(error, UnmatchedTorch):
        return 'no row covers this torch (unmatched = "error")'
    if isinstance(error, RowError):
        return str(error).split(f" ({error.row.key} applies")[0]
    return str(error)
