"""``torchpins ci-matrix``: one CI job per (torch build, Python, platform) that
``[tool.torchpins.ci]`` lists, each with the command that installs that torch, the overrides that
describe it, and the requirements its wheel will carry: a GitHub Actions ``strategy.matrix``.
"""

from __future__ import annotations

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


def jobs(project: Project) -> list[Job]:
    ci = project.settings.ci
    if ci is None:
        raise ConfigError(
            f"{project.directory}: pyproject.toml has no [tool.torchpins.ci] table; list the "
            "environments to build for there (python, platforms, [[tool.torchpins.ci.torch]] "
            "with version and builds), see the README"
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
        "set": set_arguments(values, project.settings.facts),
        "requires-dist": resolution.requires_dist,
        "provides-extra": resolution.provides_extra,
    }
    return Job(values, entry)


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
