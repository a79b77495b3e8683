"""``torchpins init [DIR]``: turn a setuptools project into a torchpins one, in place.

It moves ``project.dependencies`` and ``project.optional-dependencies`` into ``[tool.torchpins]``,
marks them ``dynamic``, switches ``build-system`` to torchpins and adds a starter matrix for the
torch installed here, keeping the file's formatting and comments (tomlkit, imported only here:
the backend itself needs no TOML writer). It never overwrites a torchpins configuration, and
``--dry-run`` shows the change as a diff without writing it. What it cannot move (requirements a
``setup.py`` computes, dependencies read from a file) it names, with what to do.
"""

from __future__ import annotations

import difflib
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from torchpins.errors import ConfigError, TorchpinsError

_BACKEND = "torchpins.build_meta"
_SETUPTOOLS_BACKENDS = ("setuptools.build_meta", "setuptools.build_meta:__legacy__")


@dataclass
class Conversion:
    path: str
    before: str
    after: str
    #: What was done, one line each.
    done: list[str] = field(default_factory=list)
    #: What the maintainer still has to do by hand, one line each.
    left: list[str] = field(default_factory=list)

    def diff(self) -> str:
        lines = difflib.unified_diff(
            self.before.splitlines(keepends=True),
            self.after.splitlines(keepends=True),
            fromfile=f"{self.path} (now)",
            tofile=f"{self.path} (torchpins init)",
        )
        return "".join(lines)


def _tomlkit() -> Any:
    try:
        import tomlkit
    except ImportError:
        raise TorchpinsError(
            "torchpins init edits pyproject.toml with tomlkit, which keeps its comments and "
            "layout, and tomlkit is not installed: pip install 'torchpins[init]' (or pip install "
            "tomlkit)"
        ) from None
    return tomlkit


def convert(directory: str, torch: str | None) -> Conversion:
    """The converted text of ``directory``'s pyproject.toml (nothing is written here).
    ``torch`` is the installed torch (``2.8.0+cu128``), which the starter matrix is for."""
    tomlkit = _tomlkit()
    path = os.path.join(directory, "pyproject.toml")
    try:
        with open(path, encoding="utf-8") as file:
            before = file.read()
    except FileNotFoundError:
        raise ConfigError(
            f"{directory}: there is no pyproject.toml to convert. torchpins init converts a "
            "project that declares [project] (name, version, dependencies) in pyproject.toml; "
            "for a setup.py-only project, write that first (see the porting guide)"
        ) from None
    document = tomlkit.parse(before)
    conversion = Conversion(path, before, before)
    project = document.get("project")
    if project is None or "name" not in project:
        raise ConfigError(
            f"{path}: there is no [project] table with a name; torchpins init converts a project "
            "whose metadata is in pyproject.toml. Add [project] with name and version first"
        )
    tool = document.get("tool", {})
    system = document.get("build-system", {})
    backend = system.get("build-backend")
    if "torchpins" in tool or backend == _BACKEND:
        raise ConfigError(
            f"{path} already uses torchpins ([tool.torchpins] or build-backend = "
            f'"{_BACKEND}"); torchpins init leaves it as it is. torchpins check {directory} '
            "lints it"
        )
    if backend is not None and backend not in _SETUPTOOLS_BACKENDS:
        raise ConfigError(
            f"{path}: build-backend is {str(backend)!r}; torchpins wraps setuptools, so it can "
            "convert a setuptools project only. Move the build to setuptools first (or wrap "
            "torchpins.build_meta in an in-tree backend)"
        )
    dynamic = [str(item) for item in project.get("dynamic", [])]
    for key in ("dependencies", "optional-dependencies"):
        if key in dynamic:
            source = tool.get("setuptools", {}).get("dynamic", {}).get(key)
            where = (
                f"tool.setuptools.dynamic.{key} ({tomlkit.dumps({'x': source}).strip()[4:]})"
                if source is not None
                else "setup.py"
            )
            raise ConfigError(
                f"{path}: project.dynamic lists {key!r}, so they come from {where}, which "
                f"torchpins init cannot move. Write them into project.{key} (a list of "
                "requirement strings), remove them from project.dynamic, and run torchpins init "
                "again"
            )

    # [tool.torchpins]: the requirements, moved with their comments
    table = tomlkit.table()
    dependencies = project.get("dependencies")
    optional = project.get("optional-dependencies")
    table.add("dependencies", dependencies if dependencies is not None else tomlkit.array())
    if dependencies is not None:
        del project["dependencies"]
    conversion.done.append(
        f"moved project.dependencies ({len(dependencies or [])}) into tool.torchpins.dependencies"
    )
    if optional is not None:
        table.add("optional-dependencies", optional)
        del project["optional-dependencies"]
        conversion.done.append(
            f"moved project.optional-dependencies ({', '.join(optional) or 'none'}) into "
            "tool.torchpins.optional-dependencies"
        )
    wanted = ["dependencies", *(["optional-dependencies"] if optional is not None else [])]
    new_dynamic = project.get("dynamic")
    if new_dynamic is None:
        new_dynamic = tomlkit.array()
        project["dynamic"] = new_dynamic
    for key in wanted:
        new_dynamic.append(key)
    conversion.done.append(f"project.dynamic lists {', '.join(wanted)}")
    _starter(tomlkit, table, str(project["name"]), torch, conversion)

    if "tool" not in document:
        document["tool"] = tomlkit.table(is_super_table=True)
    document["tool"]["torchpins"] = table

    # build-system: torchpins, keeping what the project listed
    if "build-system" not in document:
        system = tomlkit.table()
        system.add("requires", tomlkit.array())
        document.add("build-system", system)
    system = document["build-system"]
    requires = system.get("requires")
    if requires is None:
        requires = tomlkit.array()
        system["requires"] = requires
    names = {str(item).split(";")[0].strip().lower() for item in requires}
    if not any(name.startswith("torchpins") for name in names):
        requires.append("torchpins")
    if not any(name.startswith("setuptools") for name in names):
        requires.append("setuptools>=77")
    system["build-backend"] = _BACKEND
    conversion.done.append(f'build-system: build-backend = "{_BACKEND}", requires torchpins')

    from torchpins.settings import setup_py_arguments

    for argument in setup_py_arguments(directory):
        target = "dependencies" if argument == "install_requires" else "optional-dependencies"
        conversion.left.append(
            f"setup.py passes {argument}=..., which torchpins init cannot move (it is computed "
            f"in code) and a torchpins build refuses: write what it computes as "
            f"tool.torchpins.{target} plus matrix rows (the porting guide shows the usual "
            f"patterns), then delete the argument from setup.py"
        )
    conversion.after = tomlkit.dumps(document)
    return conversion


def _starter(
    tomlkit: Any, table: Any, name: str, torch: str | None, conversion: Conversion
) -> None:
    """A first matrix row for the torch installed here, with a comment that says what it is."""
    from torchpins.facts import TorchBuild

    if torch is None:
        table.add(
            tomlkit.comment("No torch is installed here, so no starter row was written. A row:")
        )
        table.add(tomlkit.comment('[[tool.torchpins.matrix]] when = { torch = "<2.6" }'))
        table.add(tomlkit.comment('error = "needs torch 2.6 or newer"'))
        conversion.done.append("no torch is installed here: no starter matrix row")
        return
    minor = TorchBuild.parse(torch).minor
    table.add("unmatched", "ignore")
    table["unmatched"].comment("a torch no row names builds with the base pins")
    rows = tomlkit.aot()
    row = tomlkit.table()
    row.add(tomlkit.comment(f"Written by torchpins init, where torch {torch} is installed. Rows"))
    row.add(tomlkit.comment("apply in file order, every row that matches; add one per torch"))
    row.add(tomlkit.comment("minor whose pins differ (torchpins table shows what each gets)."))
    row.add("when", tomlkit.inline_table())
    row["when"]["torch"] = f"<{minor}"
    row.add("error", f"{name} is tested with torch {minor} and newer; install a newer torch")
    rows.append(row)
    table.add("matrix", rows)
    conversion.done.append(f"a starter matrix row for torch {torch} (older torch: an error)")


def init(directory: str, *, dry_run: bool) -> int:
    from torchpins.install import installed_torch

    try:
        torch: str | None = installed_torch()
    except TorchpinsError:
        torch = None
    conversion = convert(directory, torch)
    if dry_run:
        sys.stdout.write(conversion.diff())
        for line in conversion.left:
            print(f"torchpins init: left for you: {line}", file=sys.stderr)
        return 0
    temporary = conversion.path + ".torchpins-init"
    with open(temporary, "w", encoding="utf-8", newline="") as file:
        file.write(conversion.after)
    os.replace(temporary, conversion.path)
    print(f"torchpins init: converted {conversion.path}:")
    for line in conversion.done:
        print(f"  - {line}")
    for line in conversion.left:
        print(f"torchpins init: left for you: {line}", file=sys.stderr)
    print(f"Next: torchpins check {directory}; torchpins resolve {directory}")
    return 0
