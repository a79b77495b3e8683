"""``torchpins ci-matrix``: one CI job per distinct wheel of the (torch build, Python, platform)
combinations ``[tool.torchpins.ci]`` lists, each with the command that installs that torch, the
overrides that describe it, and the requirements its wheel will carry: a GitHub Actions
``strategy.matrix``.

Combinations whose wheels would be identical (the same torch build, requirements and tags) are
one job, which lists the others under ``covers``: with markers, a project without compiled code
needs one job per torch build, not one per platform and Python. Each job writes into a folder
of its torch build's own (``out``), so wheels of two torch builds, which share a file name
unless ``local-version`` labels them, never overwrite each other.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from torchpins.errors import ConfigError, ResolveError
from torchpins.facts import FACTS, Facts, TorchBuild, format_value, torch_text
from torchpins.resolve import resolve
from torchpins.schema import CI_PLATFORMS
from torchpins.settings import Project

_INDEX = "https://download.pytorch.org/whl"


@dataclass(frozen=True)
class Job:
    values: dict[str, Any]  # the facts this job fixes, as --set would
    entry: dict[str, Any] | None  # the matrix entry, or None when excluded
    reason: str | None = None
    #: What tells this job's wheel apart from another's: jobs with equal ones build one wheel.
    identity: tuple[Any, ...] = ()


def jobs(project: Project) -> list[Job]:
    ci = project.settings.ci
    if ci is None:
        raise ConfigError(
            f"{project.directory}: pyproject.toml has no [tool.torchpins.ci] table; list the "
            "environments to build for there (python, platforms, [[tool.torchpins.ci.torch]] "
            "with version and builds); the docs' Command line page, ci-matrix, shows an example"
        )
    result = []
    for torch in ci.torch:
        for pair in ci.platforms:
            platform, machine = pair.split("-", 1)
            # macOS wheels of torch carry no build label; each version has one build there.
            labels: tuple[str | None, ...] = (None,)
            if platform != "darwin" and torch.builds:
                labels = torch.builds
            for label in labels:
                for python in ci.python:
                    result.append(_job(project, torch.version, label, python, platform, machine))
    return _merged(result)


def _merged(jobs: list[Job]) -> list[Job]:
    """One job per distinct wheel; the first of each kind stays, naming those it covers."""
    first: dict[tuple[Any, ...], Job] = {}
    result = []
    for job in jobs:
        if job.entry is None:
            result.append(job)
            continue
        kept = first.get(job.identity)
        if kept is None:
            first[job.identity] = job
            job.entry["covers"] = [job.entry["name"]]
            result.append(job)
        else:
            assert kept.entry is not None
            kept.entry["covers"].append(job.entry["name"])
    return result


def _job(
    project: Project, version: str, label: str | None, python: str, platform: str, machine: str
) -> Job:
    build = TorchBuild.parse(f"{version}+{label}" if label else version)
    torch = build.text
    values: dict[str, Any] = {
        **build.facts(),
        "python": python,
        "platform": platform,
        "machine": machine,
    }
    if values["accelerator"] is None:
        values["accelerator"] = "cpu" if platform == "darwin" else None
    facts = Facts.given(values, "ci-matrix")
    name = f"torch{torch}-py{python}-{platform}-{machine}"
    try:
        resolution = resolve(project, facts)
    except ResolveError as error:
        return Job(values, None, f"{name}: {error}")
    from torchpins.markers import decided_installer_facts

    # a compiled extension is tagged for its Python and platform by setuptools itself
    compiled = os.path.isfile(os.path.join(project.directory, "setup.py"))
    tagged = set(decided_installer_facts(project.settings))
    identity = (
        torch,
        tuple(resolution.requires_dist),
        tuple(resolution.provides_extra),
        resolution.local_label,
        python if compiled or "python" in tagged else None,
        (platform, machine) if compiled or tagged & {"platform", "machine"} else None,
    )
    install = f"pip install torch=={version}"
    if label:
        install += f" --index-url {_INDEX}/{label}"
    entry = {
        "name": name,
        "runs-on": CI_PLATFORMS[f"{platform}-{machine}"],
        "python": python,
        "platform": platform,
        "machine": machine,
        "torch": torch,
        "install": install,
        "env": {"TORCHPINS_TORCH": torch},
        "out": f"dist/torch-{torch}",
        "set": set_arguments(values, project.settings.facts),
        "requires-dist": resolution.requires_dist,
        "provides-extra": resolution.provides_extra,
    }
    return Job(values, entry, identity=identity)


def set_arguments(values: dict[str, Any], facts: Iterable[str] = FACTS) -> list[str]:
    """The ``torchpins resolve --set`` arguments that describe a job's environment: every fact,
    the ones the job does not fix (glibc, the lazy facts, the project's environment facts) set
    absent, as the preview assumes."""
    arguments = [f"torch={torch_text(values)}"]
    for name in facts:
        if name in ("torch", "torch-local"):
            continue
        value = values.get(name)
        arguments.append(f"{name}={'' if value is None else format_value(value)}")
    return arguments
