"""Markers for installer facts (SPEC section 8): one wheel, right for every Python and platform.

``python``, ``platform`` and ``machine`` are known only where the wheel is installed. When the
rows test them (and no template names them), the build does not decide them: it resolves the
project once per *region* of those facts (the Pythons between two versions the conditions name;
each platform or machine a condition names, and every other one), and writes each requirement
with the PEP 508 marker of the regions it appears in. A region where an ``error`` row applies is
left out (nothing installs there; the build fails when it is the builder's own). What comes out
depends on the project and the facts decided at build, never on the builder's own Python or
platform.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import NormalizedName

from torchpins.errors import ResolveError
from torchpins.facts import Facts, FactValue, Source
from torchpins.settings import Project, Settings

if TYPE_CHECKING:
    from torchpins.resolve import Resolution

#: The facts an installer knows and a build does not, and the PEP 508 marker variable of each.
INSTALLER_FACTS: dict[str, str] = {
    "python": "python_full_version",
    "platform": "sys_platform",
    "machine": "platform_machine",
}

#: The stand-in value of "any platform (machine) no condition names".
_OTHER = "\x00other"


class Regions:
    """One installer fact split where its conditions can change their answer. (A plain class:
    this module loads in every build, and a dataclass costs a millisecond to make.)"""

    __slots__ = ("fact", "values")

    def __init__(self, fact: str, values: tuple[str, ...]) -> None:
        self.fact = fact
        #: One value per region, in order; for python the region from ``values[i]`` up to
        #: ``values[i + 1]`` (the first: everything below ``values[1]``).
        self.values = values

    @property
    def variable(self) -> str:
        return INSTALLER_FACTS[self.fact]

    @property
    def other(self) -> int:
        """For platform and machine: the region of every value no condition names (the last)."""
        return len(self.values) - 1

    def marker(self, chosen: frozenset[int]) -> str | None:
        """The marker of the regions ``chosen`` (indexes into ``values``); None for all."""
        if len(chosen) == len(self.values):
            return None
        if self.fact == "python":
            return _or(self._python_run(run) for run in _runs(sorted(chosen)))
        if self.other in chosen:
            left_out = [self.values[i] for i in range(len(self.values)) if i not in chosen]
            return " and ".join(f'{self.variable} != "{value}"' for value in left_out)
        return _or(f'{self.variable} == "{self.values[i]}"' for i in sorted(chosen))

    def index_of(self, value: FactValue) -> int | None:
        """The region a value lies in (as conditions see it: a Python by its release)."""
        if not isinstance(value, str):
            return None
        if self.fact != "python":
            return self.values.index(value) if value in self.values[:-1] else self.other
        from packaging.version import InvalidVersion, Version

        try:
            release = Version(Version(value).base_version)
        except InvalidVersion:
            return None
        found = 0
        for index in range(1, len(self.values)):
            if Version(self.values[index]) <= release:
                found = index
        return found

    def _python_run(self, run: tuple[int, int]) -> str:
        first, last = run
        bounds = []
        if first > 0:
            bounds.append(f'{self.variable} >= "{self.values[first]}"')
        if last + 1 < len(self.values):
            bounds.append(f'{self.variable} < "{self.values[last + 1]}"')
        return " and ".join(bounds)


def _runs(indexes: Sequence[int]) -> list[tuple[int, int]]:
    """``[0, 1, 3]`` -> ``[(0, 1), (3, 3)]``."""
    runs: list[tuple[int, int]] = []
    for index in indexes:
        if runs and runs[-1][1] == index - 1:
            runs[-1] = (runs[-1][0], index)
        else:
            runs.append((index, index))
    return runs


def _or(parts: Iterable[str]) -> str:
    items = list(parts)
    if len(items) == 1:
        return items[0]
    return " or ".join(f"({item})" if " and " in item else item for item in items)


def _and(parts: Iterable[str]) -> str:
    return " and ".join(f"({item})" if " or " in item else item for item in parts)


# --------------------------------------------------------------------------------------------


def marker_facts(settings: Settings) -> tuple[str, ...]:
    """The installer facts this project writes as markers: those its rows test, unless a
    template names one (a filled-in value cannot become a marker) or ``markers = false``."""
    if not settings.markers:
        return ()
    named = settings.facts_in_templates()
    tested = settings.conditions_by_fact
    return tuple(fact for fact in INSTALLER_FACTS if fact in tested and fact not in named)


def decided_installer_facts(settings: Settings) -> tuple[str, ...]:
    """The installer facts a build decides and depends on, which the wheel's tags must then
    carry: every one the project uses with ``markers = false``, else those templates name."""
    used = settings.facts_used() | settings.facts_in_templates()
    named = settings.facts_in_templates()
    return tuple(
        fact for fact in INSTALLER_FACTS if fact in used and (not settings.markers or fact in named)
    )


def regions(settings: Settings, fact: str) -> Regions:
    if fact == "python":
        from torchpins.explore import boundaries, just_below

        points = boundaries(settings, fact)
        return Regions(fact, (str(just_below(points[0])), *(str(p) for p in points)))
    named: list[str] = []
    for condition in settings.conditions_by_fact[fact]:
        named += [value for value in condition.strings if value not in named]
    return Regions(fact, (*named, _OTHER))


Resolver = Callable[[Facts], "Resolution"]


class Merged(NamedTuple):
    dependencies: tuple[Requirement, ...]
    extras: tuple[tuple[NormalizedName, tuple[Requirement, ...]], ...]
    matched: tuple[int, ...]


def resolve_regions(
    project: Project, facts: Facts, split: tuple[str, ...], once: Resolver, own: Resolution
) -> Merged:
    """Resolve once per combination of the regions of ``split`` and merge the results. ``own``
    is the resolution for the builder's own facts, which stands for the region they lie in."""
    from torchpins.resolve import RowError

    every = [regions(project.settings, fact) for fact in split]
    source = Source("assumed", "a region of the markers")
    results: dict[tuple[int, ...], Resolution] = {}
    # Two combinations where the same rows apply resolve alike (no template names an installer
    # fact), so each distinct set of rows is resolved once; the builder's own stands for its.
    by_rows: dict[tuple[int, ...], Resolution | None] = {own.matched: own}
    for combination in itertools.product(*(range(len(r.values)) for r in every)):
        updates: dict[str, tuple[FactValue, Source]] = {
            r.fact: (r.values[i], source) for r, i in zip(every, combination, strict=True)
        }
        there = facts.with_values(updates)
        rows = tuple(row.index for row in project.settings.matching(there.values))
        if rows not in by_rows:
            try:
                by_rows[rows] = once(there)
            except RowError:
                by_rows[rows] = None  # an error row applies there: nothing installs
        resolution = by_rows[rows]
        if resolution is not None:
            results[combination] = resolution
    if not results:
        raise ResolveError(
            f"every Python and platform {project.name} could be installed on meets an error row"
        )
    return _merge(every, results)


def _merge(every: list[Regions], results: dict[tuple[int, ...], Resolution]) -> Merged:
    combinations = sorted(results)  # the same order wherever the wheel is built
    dependencies = _merged(
        every, combinations, [(c, results[c].dependencies) for c in combinations]
    )
    names: list[NormalizedName] = []
    for combination in combinations:
        names += [name for name, _ in results[combination].extras if name not in names]
    extras = []
    for name in names:
        lists = [(c, dict(results[c].extras).get(name, ())) for c in combinations]
        extras.append((name, _merged(every, combinations, lists)))
    matched = sorted({index for result in results.values() for index in result.matched})
    return Merged(dependencies, tuple(extras), tuple(matched))


def _merged(
    every: list[Regions],
    valid: list[tuple[int, ...]],
    lists: list[tuple[tuple[int, ...], tuple[Requirement, ...]]],
) -> tuple[Requirement, ...]:
    """Each distinct requirement once, with the marker of the combinations it appears in."""
    where: dict[str, set[tuple[int, ...]]] = {}
    first: dict[str, Requirement] = {}
    spelt: dict[int, list[tuple[str, Requirement]]] = {}  # combinations share resolutions
    for combination, requirements in lists:
        keyed = spelt.get(id(requirements))
        if keyed is None:
            keyed = spelt[id(requirements)] = [(str(r), r) for r in requirements]
        for key, requirement in keyed:
            where.setdefault(key, set()).add(combination)
            first.setdefault(key, requirement)
    result = []
    for key, found in where.items():
        marker = _marker(every, found, set(valid))
        result.append(_with_marker(first[key], marker))
    return tuple(result)


def _with_marker(requirement: Requirement, marker: str | None) -> Requirement:
    if marker is None:
        return requirement
    result = Requirement(str(requirement))
    own = requirement.marker
    result.marker = Marker(f"({own}) and ({marker})" if own is not None else marker)
    return result


def _marker(
    every: list[Regions], found: set[tuple[int, ...]], valid: set[tuple[int, ...]]
) -> str | None:
    """A marker true in every combination of ``found`` and false in every other one of
    ``valid`` (a combination outside ``valid`` may go either way). None: true everywhere."""
    if valid <= found:
        return None
    allowed = found | (_every(every) - valid)
    projections = [{c[i] for c in found} for i in range(len(every))]
    if all(c in allowed for c in itertools.product(*projections)):
        # widen each fact's regions over combinations nothing installs in, for a shorter marker
        for i, regions_of_fact in enumerate(every):

            def free(region: int, i: int = i) -> bool:
                wider = [*projections[:i], {region}, *projections[i + 1 :]]
                return all(c in allowed for c in itertools.product(*wider))

            projections[i] = _widened(regions_of_fact, projections[i], free)
        parts = [r.marker(frozenset(p)) for r, p in zip(every, projections, strict=True)]
        return _and(part for part in parts if part is not None) or None
    # not one product: split on the first fact, grouping its regions by what follows them
    head, rest = every[0], every[1:]
    groups: dict[frozenset[tuple[int, ...]], set[int]] = {}
    for region in range(len(head.values)):
        tails = frozenset(c[1:] for c in found if c[0] == region)
        if tails:
            groups.setdefault(tails, set()).add(region)
    alternatives = []
    for tails, chosen in groups.items():
        # false wherever a valid combination of these regions is not found
        rest_valid = set(tails) | {c[1:] for c in valid if c[0] in chosen}
        chosen = _widened(head, chosen, lambda r: not any(c[0] == r for c in valid))
        parts = [head.marker(frozenset(chosen)), _marker(rest, set(tails), rest_valid)]
        alternatives.append(_and(part for part in parts if part is not None))
    return _or(alternatives)


def _widened(regions: Regions, chosen: set[int], free: Callable[[int], bool]) -> set[int]:
    """``chosen`` with those regions added that ``free`` allows and that shorten the marker."""
    chosen = set(chosen)
    for region in range(len(regions.values)):
        if region not in chosen and free(region):
            before = regions.marker(frozenset(chosen)) or ""
            after = regions.marker(frozenset(chosen | {region})) or ""
            if len(after) < len(before):
                chosen.add(region)
    return chosen


def _every(every: list[Regions]) -> set[tuple[int, ...]]:
    return set(itertools.product(*(range(len(r.values)) for r in every)))
