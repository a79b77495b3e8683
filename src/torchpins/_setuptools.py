"""torchpins' two setuptools plug-ins, registered as entry points, and what switches them on.

setuptools' documented way to set ``install_requires``/``extras_require`` without a ``setup.py``
is a ``setuptools.finalize_distribution_options`` hook. Entry points are global to the
environment, so both plug-ins do nothing unless a torchpins hook activated them for this build
through :data:`ACTIVE` (a context variable, so nothing leaks between builds in one process).

- :func:`finalize_distribution_options` hands setuptools the resolved requirements, and has
  setuptools spell the ``Dynamic`` fields the canonical way (uv compares them case-sensitively).
- :func:`write_build_record` is an ``egg_info.writers`` plug-in: setuptools writes
  ``torchpins.json`` into the egg-info and copies it into the wheel's ``.dist-info``, for
  prepared metadata, wheels and editable wheels alike.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from types import MethodType
from typing import IO, Any

from torchpins.errors import ResolveError
from torchpins.facts import (
    CORE_FACTS,
    LAZY_FACTS,
    Facts,
    FactValue,
    Source,
    SourceKind,
    format_value,
    torch_text,
)
from torchpins.probe import gather_facts
from torchpins.resolve import Resolution, base_lists, resolve
from torchpins.settings import Project, load_project


@dataclass(frozen=True)
class Injection:
    """What one build hands setuptools."""

    install_requires: tuple[str, ...]
    extras_require: tuple[tuple[str, tuple[str, ...]], ...]
    #: The build record's JSON text; ``None`` for an sdist, which is resolved afresh per wheel.
    record: str | None
    #: ``+label`` for setuptools' ``egg_info.tag_build`` (``local-version``), or None.
    tag_build: str | None = None
    #: The guard module (``guard.file`` relative to the project, and its text) that a wheel
    #: build writes into its own build folder; None when there is none, or for an editable
    #: build, which writes it into the source tree instead.
    guard: tuple[str, str] | None = None
    #: A sdist leaves this file (a guard an editable build wrote) out of the archive.
    exclude: str | None = None
    #: A folder of this build's own for setuptools' build/ and egg-info, so that builds of one
    #: tree running at once never share files (None: setuptools' defaults, in the tree).
    work_dir: str | None = None
    #: The wheel's Python tag (``cp312``) and platform tag (``linux_x86_64``) when the build
    #: decided those installer facts (a template names them, or ``markers = false``): the
    #: wheel installs only where its metadata is right. None: setuptools' own tags.
    python_tag: str | None = None
    plat_name: str | None = None


@dataclass
class BuildState:
    """One build under way: what to inject, and whether setuptools' plug-in hook took it."""

    injection: Injection
    applied: bool = False


ACTIVE: ContextVar[BuildState | None] = ContextVar("torchpins_build", default=None)


@contextlib.contextmanager
def switched_on(injection: Injection) -> Iterator[BuildState]:
    """Switch the plug-ins on for one setuptools hook call, in this context only."""
    state = BuildState(injection)
    token = ACTIVE.set(state)
    try:
        yield state
    finally:
        ACTIVE.reset(token)


#: The spelling of the Dynamic values torchpins owns (setuptools writes them lower-case).
_OWN_DYNAMIC = {"requires-dist": "Requires-Dist", "provides-extra": "Provides-Extra"}


def prepare_injection(
    directory: str,
    config_settings: Mapping[str, str | list[str]] | None,
    *,
    sdist: bool,
    editable: bool = False,
    metadata_directory: str | None = None,
    work_dir: str | None = None,
) -> Injection:
    """Load the project and resolve it (an sdist gets the unpinned base lists). A wheel built
    from prepared metadata (``metadata_directory``) reuses the facts that metadata was resolved
    with, after checking that the environment still has them."""
    source_date_epoch()  # a bad one is refused before setuptools' wheel writer meets it
    project = load_project(directory)
    guard = project.settings.guard
    if sdist:
        install_requires, extras_require = base_lists(project.settings)
        return Injection(
            tuple(install_requires),
            tuple((name, tuple(reqs)) for name, reqs in extras_require.items()),
            record=None,
            exclude=guard.file if guard else None,
        )
    facts = _facts(project, config_settings, metadata_directory)
    resolution = resolve(project, facts)
    tag_build = _local_label(project, resolution)
    _report(resolution)
    guard_module = None
    if guard is not None:
        from torchpins.guard import check_not_foreign, render, write

        path = os.path.join(project.directory, *guard.file.split("/"))
        text = render(project, guard, resolution.facts.values, resolution.outcomes)
        if editable:  # the source tree is what an editable install imports
            write(path, text, guard.file)
        else:  # never the tree: another build's guard, or the developer's own, stays as it is
            check_not_foreign(path, guard.file)
            guard_module = (guard.file, text)
    python_tag, plat_name = _tags(project, resolution.facts)
    return Injection(
        tuple(resolution.install_requires),
        tuple((name, tuple(reqs)) for name, reqs in resolution.extras_require.items()),
        record=json.dumps(resolution.record(), indent=2) + "\n",
        tag_build=tag_build,
        guard=guard_module,
        work_dir=None if editable else work_dir,
        python_tag=python_tag,
        plat_name=plat_name,
    )


def _tags(project: Project, facts: Facts) -> tuple[str | None, str | None]:
    """The tags a wheel needs for the installer facts its build decided (SPEC section 8)."""
    from torchpins.markers import decided_installer_facts

    decided = decided_installer_facts(project.settings)
    python_tag = plat_name = None
    python = facts.values.get("python")
    if not decided:
        return None, None
    import platform
    import sysconfig

    from packaging.tags import interpreter_name

    if "python" in decided and isinstance(python, str):
        major, minor = [*python.split("."), "0"][:2]
        python_tag = f"{interpreter_name()}{major}{minor}"
    if "platform" in decided or "machine" in decided:
        here = {"platform": sys.platform, "machine": platform.machine()}
        other = [f for f in ("platform", "machine") if facts.values.get(f) not in (None, here[f])]
        if other:
            shown = ", ".join(f"{f} {format_value(facts.values.get(f))}" for f in other)
            raise ResolveError(
                f"this build decides {' and '.join(other)} (a template names it, or markers = "
                f"false) and was told {shown}, but runs on {sys.platform} {platform.machine()}: "
                "its wheel could not be tagged for where its metadata is right. Build on that "
                "platform, or unset TORCHPINS_PLATFORM / TORCHPINS_MACHINE"
            )
        plat_name = sysconfig.get_platform()
    return python_tag, plat_name


def _facts(
    project: Project,
    config_settings: Mapping[str, str | list[str]] | None,
    metadata_directory: str | None,
) -> Facts:
    """The facts of this build. pip runs prepare_metadata_for_build_wheel and build_wheel in two
    processes; the second reuses what the first recorded (a lazy fact is probed once per build),
    and refuses when the environment changed in between, so that METADATA (which setuptools
    copies from the prepared metadata) and the wheel's guard can never disagree."""
    needed = project.settings.facts_needed()
    declared = project.settings.env
    recorded = _recorded(metadata_directory)
    if recorded is None:
        return gather_facts(config_settings, needed=needed, declared=declared)
    values, kinds = recorded
    lazy = {name for name in LAZY_FACTS if name in values}
    facts = gather_facts(config_settings, needed=needed - lazy, declared=declared)
    changed = [
        name
        for name in CORE_FACTS
        if name in values and _as_value(values[name]) != facts.values.get(name)
    ]
    if changed:
        was = ", ".join(f"{name} {format_value(_as_value(values[name]))}" for name in changed)
        now = ", ".join(f"{name} {format_value(facts.values.get(name))}" for name in changed)
        raise ResolveError(
            f"the metadata prepared for this build ({metadata_directory}) was resolved for "
            f"{was}, but the wheel is being built with {now}: the environment changed between "
            "the frontend's two steps. Nothing was built; run the install or build again"
        )
    detail = "recorded by prepare_metadata_for_build_wheel"
    return facts.with_values(
        {
            name: (_as_value(values[name]), Source(kinds.get(name, "probed"), detail))
            for name in lazy
        }
    )


def _recorded(
    metadata_directory: str | None,
) -> tuple[dict[str, object], dict[str, SourceKind]] | None:
    if not metadata_directory:
        return None
    try:
        with open(os.path.join(metadata_directory, "torchpins.json"), encoding="utf-8") as file:
            record = json.load(file)
        return dict(record["facts"]), dict(record["sources"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # not prepared by torchpins: probe afresh


def _as_value(value: object) -> FactValue:
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    return value if value is None or isinstance(value, str | bool) else str(value)


def _local_label(project: Project, resolution: Resolution) -> str | None:
    """``+label`` for a wheel of a project with ``local-version``; refused in an unpacked sdist,
    whose wheel pip would reject for not matching the sdist's version."""
    label = resolution.local_label
    if label is None:
        return None
    from torchpins.label import KEY

    version = project.version or "?"
    if "+" in version:
        raise ResolveError(
            f"{KEY} is set, but project.version {version!r} already has a local label; "
            "remove one of the two"
        )
    if os.path.isfile(os.path.join(project.directory, "PKG-INFO")):
        raise ResolveError(
            f"this is an sdist of version {version}, and {KEY} would make its wheel "
            f"{version}+{label}: pip rejects a wheel whose version differs from the sdist it "
            "was built from. Labelled wheels are built from the source tree (python -m build "
            "--wheel, pip wheel .); a project whose sdist users install should not set "
            "local-version in the released pyproject.toml"
        )
    return "+" + label


def _report(resolution: Resolution) -> None:
    """One short account on stderr (frontends show it with -v)."""
    source = resolution.facts.sources["torch"]
    where = f"{source.kind}: {source.detail}" if source.detail else source.kind
    print(
        f"torchpins: torch {torch_text(resolution.facts.values)} ({where}); rows applied "
        f"(counted from 0): {list(resolution.matched) or 'none'}",
        file=sys.stderr,
    )
    for line in resolution.requires_dist:
        print(f"torchpins:   Requires-Dist: {line}", file=sys.stderr)
    for warning in (*resolution.facts.warnings, *resolution.warnings):
        print(f"torchpins: warning: {warning}", file=sys.stderr)


def finalize_distribution_options(dist: Any) -> None:
    """``setuptools.finalize_distribution_options`` plug-in; a no-op unless a torchpins build
    is under way in this context."""
    state = ACTIVE.get()
    if state is None or getattr(dist, "_torchpins_injected", False):
        return
    injection = state.injection
    for attribute in ("install_requires", "extras_require"):
        if getattr(dist, attribute, None):
            raise SystemExit(
                f"torchpins: error: setup.py passes {attribute}=..., but this project's "
                "requirements come from [tool.torchpins]; move them to "
                "tool.torchpins.dependencies / optional-dependencies and drop the argument"
            )
    dist.install_requires = list(injection.install_requires)
    dist.extras_require = {name: list(reqs) for name, reqs in injection.extras_require}
    metadata = dist.metadata
    metadata.write_pkg_file = MethodType(
        _canonical_dynamic(type(metadata).write_pkg_file), metadata
    )
    dist.cmdclass["sdist"] = _reproducible_sdist(dist.cmdclass.get("sdist"), injection.exclude)
    if injection.guard is not None:
        dist.cmdclass["build_py"] = _with_guard(dist.cmdclass.get("build_py"), *injection.guard)
    if injection.work_dir is not None:
        # This build's own build/ and egg-info: concurrent builds of one tree share nothing.
        options = dist.command_options
        options.setdefault("egg_info", {})["egg_base"] = ("torchpins", injection.work_dir)
        build_base = os.path.join(injection.work_dir, "build")
        options.setdefault("build", {})["build_base"] = ("torchpins", build_base)
    wheel_options = dist.command_options.setdefault("bdist_wheel", {})
    if injection.python_tag is not None and not dist.has_ext_modules():
        wheel_options["python_tag"] = ("torchpins", injection.python_tag)
    if injection.plat_name is not None:
        wheel_options["plat_name"] = ("torchpins", injection.plat_name)
    if injection.tag_build:
        # setuptools' own way to label a version: file name and METADATA both carry it.
        dist.command_options.setdefault("egg_info", {})["tag_build"] = (
            "tool.torchpins.local-version",
            injection.tag_build,
        )
    dist._torchpins_injected = True
    state.applied = True


# Run after setuptools' own finalizers (order 0), so setup.py arguments are in place.
finalize_distribution_options.order = 100  # type: ignore[attr-defined]


def _with_guard(base: Any, file: str, text: str) -> type:
    """setuptools' build_py (or the project's own) that, after copying the package, writes this
    build's guard module into the build folder, where the wheel is made from: the source tree
    (and any other build's guard) is never touched."""
    if base is None:
        from setuptools.command.build_py import build_py

        base = build_py
    inherited: Callable[[Any], None] = base.run

    def run(self: Any) -> None:
        inherited(self)
        from torchpins.guard import write

        folder, _, name = file.rpartition("/")
        for package in self.packages or ():
            source = os.path.normpath(self.get_package_dir(package))
            if source == os.path.normpath(folder or "."):
                target = os.path.join(self.build_lib, *package.split("."), name)
                write(target, text, file)
                return
        raise SystemExit(
            f"torchpins: error: tool.torchpins.guard.file: {file!r} is not inside any package "
            f"this build ships ({', '.join(self.packages or ()) or 'none'}); point it into one, "
            "e.g. src/mypkg/_torch_guard.py"
        )

    return type(base.__name__, (base,), {"run": run})


def _reproducible_sdist(base: Any, exclude: str | None = None) -> type:
    """setuptools' sdist (or the project's own), whose archive is byte-for-byte reproducible when
    ``SOURCE_DATE_EPOCH`` is set (setuptools' wheels honour it, its sdists do not: member times
    are the build's, and so is the gzip header's), and which leaves out ``exclude`` (a guard
    module an editable build wrote into the tree: build data, not source)."""
    if base is None:
        from setuptools.command.sdist import sdist

        base = sdist
    inherited: Callable[..., str] = base.make_archive
    inherited_tree: Callable[..., None] = base.make_release_tree

    def make_release_tree(self: Any, base_dir: str, files: list[str]) -> None:
        if exclude is not None:
            files = [f for f in files if f.replace(os.sep, "/").lstrip("./") != exclude]
        inherited_tree(self, base_dir, files)

    def make_archive(
        self: Any,
        base_name: str,
        format: str,
        root_dir: str | None = None,
        base_dir: str | None = None,
        owner: str | None = None,
        group: str | None = None,
    ) -> str:
        epoch = source_date_epoch()
        if format != "gztar" or epoch is None or root_dir is not None or base_dir is None:
            return inherited(self, base_name, format, root_dir, base_dir, owner, group)
        return write_tarball(base_name + ".tar.gz", base_dir, epoch)

    methods = {"make_archive": make_archive, "make_release_tree": make_release_tree}
    return type(base.__name__, (base,), methods)


def source_date_epoch() -> int | None:
    """``SOURCE_DATE_EPOCH`` as seconds, None when unset; anything but a whole number of seconds
    that a tar header can hold is an error naming the variable."""
    text = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 11 or int(text) >= 8**11:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise SystemExit(
            f"torchpins: error: SOURCE_DATE_EPOCH={shown!r} is not a time: set it to the number "
            "of seconds since 1970 (e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)), or unset it"
        )
    return int(text)


def write_tarball(archive: str, base_dir: str, epoch: int) -> str:
    """A .tar.gz of ``base_dir`` (relative to the working directory, as distutils passes it)
    whose bytes depend only on the files' contents, names and modes: members sorted, times
    clamped to ``epoch``, owners zeroed, and the gzip header dated ``epoch``."""
    import gzip
    import tarfile

    paths = []
    for root, dirs, files in os.walk(base_dir):
        dirs.sort()
        paths.append(root)
        paths.extend(os.path.join(root, name) for name in sorted(files))
    os.makedirs(os.path.dirname(archive) or ".", exist_ok=True)
    with (
        open(archive, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=epoch) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in paths:
            info = tar.gettarinfo(path, arcname=path.replace(os.sep, "/"))
            info.mtime = min(int(info.mtime), epoch)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isfile():
                with open(path, "rb") as file:
                    tar.addfile(info, file)
            else:
                tar.addfile(info)
    return archive


def write_build_record(cmd: Any, basename: str, filename: str) -> None:
    """``egg_info.writers`` plug-in for ``torchpins.json``."""
    state = ACTIVE.get()
    if state is None:
        return
    # An sdist carries no record: a stale one from an earlier build is deleted.
    record = state.injection.record
    cmd.write_or_delete_file("torchpins build record", filename, record, force=record is None)


def _canonical_dynamic(write_pkg_file: Callable[[Any, IO[str]], None]) -> Callable[..., None]:
    """Wrap setuptools' own ``write_pkg_file`` (for this one metadata object) so that the
    ``Dynamic`` values torchpins owns read ``Requires-Dist`` and ``Provides-Extra`` and are
    present even when a list is empty (PEP 643: an sdist that declares no requirements and
    does not mark them Dynamic forbids every wheel built from it to have any)."""

    def write(self: Any, file: IO[str]) -> None:
        proxy = _DynamicSpelling(file)
        write_pkg_file(self, proxy)  # type: ignore[arg-type]
        proxy.finish()

    return write


class _DynamicSpelling:
    """A file proxy for setuptools' metadata writer, which writes one header per ``write``."""

    def __init__(self, file: IO[str]) -> None:
        self._file = file
        self._pending = dict(_OWN_DYNAMIC)

    def write(self, text: str) -> int:
        if text.startswith("Dynamic: "):
            field = text[len("Dynamic: ") :].strip().lower()
            if field in self._pending:
                text = f"Dynamic: {self._pending.pop(field)}\n"
            elif field in _OWN_DYNAMIC:
                return 0  # already written
        elif text.startswith("\n"):
            self.finish()  # the headers end where the long description begins
        return self._file.write(text)

    def finish(self) -> None:
        for field in list(self._pending.values()):
            self._file.write(f"Dynamic: {field}\n")
        self._pending.clear()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)
