"""The pure centre: ``resolve(project, facts) -> Resolution``. No I/O.

Every hook (prepared metadata, wheel, editable wheel) and ``torchpins resolve`` call this one
function, so they cannot disagree.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from torchpins import __version__
from torchpins.errors import ResolveError
from torchpins.facts import (
    FACTS,
    Facts,
    FactValue,
    Source,
    TorchBuild,
    cxx11abi_assumed,
    format_value,
    named_torch,
)
from torchpins.settings import Project, Row, Settings, Templated

_TORCH = canonicalize_name("torch")
#: Requirement names as compared: the same few names are canonicalised over and over.
_canonical = functools.lru_cache(maxsize=1 << 14)(canonicalize_name)
Extras = dict[NormalizedName, list[Requirement]]


class RowError(ResolveError):
    """A matrix row's ``error`` applies to this environment."""

    def __init__(self, message: str, row: Row, matched: tuple[int, ...]) -> None:
        super().__init__(message)
        self.row = row
        #: The rows that applied, this one last.
        self.matched = matched


class UnmatchedTorch(ResolveError):
    """Rows test torch, none matches this torch, and ``unmatched = "error"``."""


@dataclass(frozen=True)
class Resolution:
    project: str
    facts: Facts
    matched: tuple[int, ...]
    dependencies: tuple[Requirement, ...]
    extras: tuple[tuple[NormalizedName, tuple[Requirement, ...]], ...]
    warnings: tuple[str, ...] = ()
    #: The wheel's local version label (``local-version``), or None.
    local_label: str | None = None
    #: The installer facts written as markers (SPEC section 8), in the registry's order.
    markers: tuple[str, ...] = ()
    #: The installer facts this build did not decide: the build record leaves them out.
    undecided: tuple[str, ...] = ()
    #: For the other decided facts rows test: the outcome the build rests on (torchpins.fit).
    outcomes: Mapping[str, Mapping[str, Any]] | None = None

    @property
    def install_requires(self) -> list[str]:
        return [str(requirement) for requirement in self.dependencies]

    @property
    def extras_require(self) -> dict[str, list[str]]:
        return {extra: [str(r) for r in requirements] for extra, requirements in self.extras}

    @property
    def requires_dist(self) -> list[str]:
        """What ``Requires-Dist`` says, in packaging's canonical spelling."""
        lines = list(self.install_requires)
        for extra, requirements in self.extras:
            lines.extend(str(for_extra(requirement, extra)) for requirement in requirements)
        return lines

    @property
    def provides_extra(self) -> list[str]:
        return [extra for extra, _ in self.extras]

    def record(self) -> dict[str, Any]:
        """The build record (SPEC section 5), as written to ``torchpins.json``."""
        values = {n: v for n, v in self.facts.values.items() if n not in self.undecided}
        return {
            "torchpins": __version__,
            "facts": {name: _json_value(value) for name, value in values.items()},
            "sources": {name: self.facts.sources[name].kind for name in values},
            "decided": list(values),
            "markers": list(self.markers),
            "matched": list(self.matched),
            "requires_dist": self.requires_dist,
            "provides_extra": self.provides_extra,
            **({"local_version": self.local_label} if self.local_label else {}),
            **({"outcomes": dict(self.outcomes)} if self.outcomes else {}),
        }


def for_extra(requirement: Requirement, extra: str) -> Requirement:
    """``requirement`` as it reads inside extra ``extra``: ``x; (marker) and extra == "e"``."""
    result = Requirement(str(requirement))
    condition = f'extra == "{extra}"'
    if requirement.marker is not None:
        condition = f"({requirement.marker}) and {condition}"
    result.marker = Marker(condition)
    return result


def _json_value(value: FactValue) -> Any:
    return list(value) if isinstance(value, tuple) else value


# --------------------------------------------------------------------------------------------


def resolve(
    project: Project,
    facts: Facts,
    *,
    rows: Sequence[Row] | None = None,
    markers: bool | None = None,
) -> Resolution:
    """Apply the torch pin and every matching matrix row, in file order, to the base lists.

    With markers (``tool.torchpins.markers``, unless ``markers`` says otherwise), the rows'
    conditions on installer facts become PEP 508 markers (:mod:`torchpins.markers`); without,
    the facts decide everything, as for the one target they describe. ``rows`` are the rows
    that apply, when the caller knows them already (check asks what an environment gives
    without one of them): that is one target, so markers are off."""
    from torchpins.markers import INSTALLER_FACTS, marker_facts, resolve_regions

    settings = project.settings
    facts = _apply_missing(project, facts)
    on = settings.markers if markers is None else markers
    if rows is not None:
        return _resolve_once(project, facts, rows)
    outcomes = _outcomes(settings, facts.values)
    if not on:
        return replace(_resolve_once(project, facts, None), outcomes=outcomes)
    own = _resolve_once(project, facts, None)  # the builder's own target: an error row stops it
    own = replace(own, outcomes=outcomes)
    undecided = tuple(f for f in INSTALLER_FACTS if f not in settings.facts_in_templates())
    split = marker_facts(settings)
    if not split:
        return replace(own, undecided=undecided)
    merged = resolve_regions(project, facts, split, lambda f: _resolve_once(project, f, None), own)
    return replace(
        own,
        matched=merged.matched,
        dependencies=merged.dependencies,
        extras=merged.extras,
        markers=split,
        undecided=undecided,
    )


def _outcomes(
    settings: Settings, values: Mapping[str, FactValue]
) -> dict[str, dict[str, Any]] | None:
    """What a wheel's fit rests on, for the decided facts beyond torch that rows test: the
    version range around the build's value in which every condition answers alike (one per GPU
    architecture), or the boolean (SPEC section 8; the rule is :mod:`torchpins.fit`'s)."""
    from torchpins.fit import OUTCOME_KEYS

    found: dict[str, dict[str, Any]] = {}
    for fact in OUTCOME_KEYS:
        value = values.get(fact)
        if fact not in settings.conditions_by_fact or value is None or value == ():
            continue
        if isinstance(value, bool):
            found[fact] = {"value": value}
            continue
        from torchpins.explore import boundaries

        points = boundaries(settings, fact)
        regions: list[list[str | None]] = []
        for item in value if isinstance(value, tuple) else (value,):
            version = Version(str(item))
            low = max((p for p in points if p <= version), default=None)
            high = min((p for p in points if p > version), default=None)
            region = [None if low is None else str(low), None if high is None else str(high)]
            if region not in regions:
                regions.append(region)
        found[fact] = {"regions": regions}
    return found or None


def _resolve_once(project: Project, facts: Facts, rows: Sequence[Row] | None) -> Resolution:
    settings = project.settings
    values = template_values(project, facts.values)
    dependencies = [item.fill(values) for item in settings.dependencies]
    extras: Extras = {
        name: [item.fill(values) for item in items]
        for name, items in settings.optional_dependencies
    }

    pin = torch_pin(settings, values)
    if pin is not None:
        if not any(_canonical(r.name) == _TORCH for r in dependencies):
            dependencies.append(Requirement(f"torch{pin}"))
        dependencies = _pinned(dependencies, _TORCH, pin)
        extras = {name: _pinned(reqs, _TORCH, pin) for name, reqs in extras.items()}

    matched: list[int] = []
    for row in settings.matching(values) if rows is None else rows:
        matched.append(row.index)
        if row.error is not None:
            message = row.error.render(values)
            raise RowError(
                f"{message} ({row.key} applies: {_because(row, values)})", row, tuple(matched)
            )
        dependencies, extras = _apply(row, dependencies, extras, values)

    if settings.all_extras is not None:
        every = [r for name, reqs in extras.items() if name != settings.all_extras for r in reqs]
        extras[settings.all_extras] = list(_unique(every))
    warnings = _check_unmatched(settings, values, project.name)
    label = None
    if settings.local_version is not None:
        from torchpins.label import render

        label = render(settings.local_version, values)
    return Resolution(
        project=project.name,
        facts=facts,
        matched=tuple(matched),
        dependencies=_unique(dependencies),
        extras=tuple((name, _unique(reqs)) for name, reqs in extras.items()),
        warnings=warnings,
        local_label=label,
    )


def template_values(project: Project, values: Mapping[str, FactValue]) -> dict[str, FactValue]:
    """What templates are filled in from: the facts, and the distribution's name and version
    (a dynamic version only when a template names it: setuptools computes it)."""
    version: str | None = project.version
    if version is None and project.settings.uses_version():
        from torchpins.settings import computed_version

        version = computed_version(project)
    return {**values, "name": project.name, "version": version}


def _unique(requirements: Sequence[Requirement]) -> tuple[Requirement, ...]:
    """Requirements with exact repeats dropped (an ``add`` of what is there, or two requirements
    that pins made equal): METADATA lists each once."""
    seen: set[str] = set()
    unique = []
    for requirement in requirements:
        if str(requirement) not in seen:
            seen.add(str(requirement))
            unique.append(requirement)
    return tuple(unique)


def base_lists(settings: Settings) -> tuple[list[str], dict[str, list[str]]]:
    """The unpinned base requirements, as the sdist declares them. A templated one is filled in
    only when a wheel is built, so the sdist leaves it to its ``Dynamic`` fields."""
    return (
        [str(item.value) for item in settings.dependencies if item.value is not None],
        {
            name: [str(item.value) for item in items if item.value is not None]
            for name, items in settings.optional_dependencies
        },
    )


def torch_pin(settings: Settings, values: Mapping[str, FactValue]) -> SpecifierSet | None:
    """The specifier the wheel requires torch with (``[tool.torchpins.torch].pin``)."""
    torch = TorchBuild.from_facts(values)
    if settings.torch.pin == "none" or torch is None:
        return None
    if isinstance(settings.torch.pin, Templated):
        return settings.torch.pin.fill(values)
    if settings.torch.pin == "minor":
        return SpecifierSet(f"=={torch.minor}.*")
    if settings.torch.pin == "exact":
        return SpecifierSet(f"=={torch.public}")
    if settings.torch.pin == "local":
        return SpecifierSet(f"=={torch.text}")
    # floor: the minor release, or the pre-release itself when it comes before that release
    minor = Version(torch.minor)
    return SpecifierSet(f">={minor}" if minor <= torch.version else f">={torch.public}")


def _apply_missing(project: Project, facts: Facts) -> Facts:
    if facts.values.get("torch") is not None:
        return facts
    missing = project.settings.torch.missing
    if missing == "unpinned":
        return facts
    if missing != "error":
        assumed = named_torch(missing, Source("assumed", "tool.torchpins.torch.missing"))
        if "cxx11abi" in facts.values and facts.sources["cxx11abi"].kind != "override":
            # needed, and probed from no torch: assume it for the torch named here
            public = assumed["torch"][0]
            assumed["cxx11abi"] = cxx11abi_assumed(
                public if isinstance(public, str) else None,
                facts.values.get("platform"),
                "in tool.torchpins.torch.missing",
            )
            if assumed["cxx11abi"][1].problem:
                raise ResolveError(assumed["cxx11abi"][1].problem)
        # Facts the user set explicitly keep their values.
        keep = {n for n, s in facts.sources.items() if s.kind == "override" and n != "torch"}
        return facts.with_values({n: v for n, v in assumed.items() if n not in keep})
    source = facts.sources.get("torch", Source("probed", ""))
    if source.kind == "override":
        raise ResolveError(
            f"{project.name} pins its dependencies to the installed torch, but {source.detail} "
            f"is set empty, which means no torch; set it to the torch to build for "
            f"({source.detail}=<version>, e.g. {source.detail}=2.8.0+cu128), or unset it to use "
            "the installed torch"
        )
    hint = facts.torch_hint
    # when the hint names where torch is, that says it all: the build's own path is noise
    hidden = hint is not None and hint.isolated and hint.hidden_version
    why = "this build sees no torch" if hidden else f"torch is not installed ({source.detail})"
    example = hint.hidden_version if hint and hint.hidden_version else "2.8.0+cu128"
    name_it = (
        f"or name the torch to build for with TORCHPINS_TORCH=<version> (e.g. "
        f"TORCHPINS_TORCH={example}) or -C torchpins.torch=<version>"
    )
    if hint is not None and not hint.isolated:
        raise ResolveError(
            f"{project.name} pins its dependencies to the installed torch, but {why}: "
            f"{hint.sentence}. Install torch there first (pip install torch), {name_it}"
        )
    cause = (
        f"This is build isolation: {hint.sentence}."
        if hint
        else "This is usually build isolation: pip and uv build in a fresh environment without "
        "torch."
    )
    raise ResolveError(
        f"{project.name} pins its dependencies to the installed torch, but {why}. {cause} "
        "Install torch and build with --no-build-isolation (pip install --no-build-isolation ..., "
        "uv pip install --no-build-isolation ..., python -m build --no-isolation), " + name_it
    )


def _apply(
    row: Row, dependencies: list[Requirement], extras: Extras, values: Mapping[str, FactValue]
) -> tuple[list[Requirement], Extras]:
    """One row's actions, in the order SPEC section 7.3 gives: take away, put in, tighten."""
    if row.remove:
        removed = {item.fill(values) for item in row.remove}
        dependencies = [r for r in dependencies if _canonical(r.name) not in removed]
        extras = {
            name: [r for r in reqs if _canonical(r.name) not in removed]
            for name, reqs in extras.items()
        }
    for name in row.drop_extras:
        extras.pop(name, None)
    for name, items in row.extras:
        extras[name] = [item.fill(values) for item in items]
    for name, items in row.extras_add:
        extras[name] = [*extras.get(name, []), *(item.fill(values) for item in items)]
    dependencies = dependencies + [item.fill(values) for item in row.add]
    for key, value in row.pins:
        name, specifier = key.fill(values), value.fill(values)
        dependencies = _pinned(dependencies, name, specifier)
        extras = {extra: _pinned(reqs, name, specifier) for extra, reqs in extras.items()}
    return dependencies, extras


def _pinned(
    requirements: Sequence[Requirement], name: NormalizedName, specifier: SpecifierSet
) -> list[Requirement]:
    """``requirements`` with the specifier of ``name`` replaced; extras and marker are kept."""
    result = []
    for requirement in requirements:
        if _canonical(requirement.name) == name:
            requirement = Requirement(str(requirement))
            requirement.url = None
            requirement.specifier = specifier
        result.append(requirement)
    return result


def _check_unmatched(
    settings: Settings, values: Mapping[str, FactValue], name: str = "this project"
) -> tuple[str, ...]:
    torch = values.get("torch")
    conditions = settings.torch_conditions
    if torch is None or not conditions or settings.unmatched == "ignore":
        return ()
    if any(condition.holds(torch) for condition in conditions):
        return ()
    ranges = "; ".join(
        f"[{row.index}] {c.text}" for row in settings.matrix for c in row.when if c.fact == "torch"
    )
    message = (
        f"torch {torch} matches none of the matrix rows that test torch ({ranges}, counted from "
        f"0), so {name} has no pins for it"
    )
    if settings.unmatched == "warn":
        return (message + ". Building with the pins that apply regardless of torch.",)
    raise UnmatchedTorch(
        f"{message}. Installing it: use a torch it supports, or ask its maintainers to support "
        f"torch {torch}. Maintaining it: add a row for it, or set tool.torchpins.unmatched = "
        '"warn" to build with the other pins'
    )


def _because(row: Row, values: Mapping[str, FactValue]) -> str:
    used = sorted(row.facts_used(), key=list(FACTS).index)
    have = ", ".join(f"{name} {format_value(values.get(name))}" for name in used)
    return f"when {row.describe()}; this build has {have}" if have else "it has no conditions"
