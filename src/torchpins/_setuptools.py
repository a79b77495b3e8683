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

import json
import os
import sys
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from types import MethodType
from typing import IO, Any

from torchpins.facts import torch_text
from torchpins.probe import gather_facts
from torchpins.resolve import Resolution, base_lists, resolve
from torchpins.settings import load_project


@dataclass(frozen=True)
class Injection:
    """What one build hands setuptools."""

    install_requires: tuple[str, ...]
    extras_require: tuple[tuple[str, tuple[str, ...]], ...]
    #: The build record's JSON text; ``None`` for an sdist, which is resolved afresh per wheel.
    record: str | None
    #: ``+label`` for setuptools' ``egg_info.tag_build`` (``local-version``), or None.
    tag_build: str | None = None


@dataclass
class BuildState:
    """One build under way: what to inject, and whether setuptools' plug-in hook took it."""

    injection: Injection
    applied: bool = False


ACTIVE: ContextVar[BuildState | None] = ContextVar("torchpins_build", default=None)

#: The spelling of the Dynamic values torchpins owns (setuptools writes them lower-case).
_OWN_DYNAMIC = {"requires-dist": "Requires-Dist", "provides-extra": "Provides-Extra"}


def prepare_injection(
    directory: str, config_settings: Mapping[str, str | list[str]] | None, *, sdist: bool
) -> Injection:
    """Load the project and resolve it (an sdist gets the unpinned base lists)."""
    project = load_project(directory)
    if sdist:
        install_requires, extras_require = base_lists(project.settings)
        return Injection(
            tuple(install_requires),
            tuple((name, tuple(reqs)) for name, reqs in extras_require.items()),
            record=None,
        )
    facts = gather_facts(config_settings, needed=project.settings.facts_needed())
    resolution = resolve(project, facts)
    tag_build = _local_label(project, resolution)
    _report(resolution)
    if project.settings.guard is not None:
        from torchpins.guard import write

        write(project, resolution.facts.values)
    return Injection(
        tuple(resolution.install_requires),
        tuple((name, tuple(reqs)) for name, reqs in resolution.extras_require.items()),
        record=json.dumps(resolution.record(), indent=2) + "\n",
        tag_build=tag_build,
    )


def _local_label(project: Any, resolution: Resolution) -> str | None:
    """``+label`` for a wheel of a project with ``local-version``; refused in an unpacked sdist,
    whose wheel pip would reject for not matching the sdist's version."""
    label = resolution.local_label
    if label is None:
        return None
    from torchpins.errors import ResolveError
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
        f"torchpins: torch {torch_text(resolution.facts.values)} ({where}); rows applied: "
        f"{list(resolution.matched) or 'none'}",
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
    dist.cmdclass["sdist"] = _reproducible_sdist(dist.cmdclass.get("sdist"))
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


def _reproducible_sdist(base: Any) -> type:
    """setuptools' sdist (or the project's own), whose archive is byte-for-byte reproducible when
    ``SOURCE_DATE_EPOCH`` is set: setuptools' wheels honour it, its sdists do not (member times
    are the build's, and so is the gzip header's)."""
    if base is None:
        from setuptools.command.sdist import sdist

        base = sdist
    inherited: Callable[..., str] = base.make_archive

    def make_archive(
        self: Any,
        base_name: str,
        format: str,
        root_dir: str | None = None,
        base_dir: str | None = None,
        owner: str | None = None,
        group: str | None = None,
    ) -> str:
        epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
        if format != "gztar" or not epoch.isdigit() or root_dir is not None or base_dir is None:
            return inherited(self, base_name, format, root_dir, base_dir, owner, group)
        return write_tarball(base_name + ".tar.gz", base_dir, int(epoch))

    return type(base.__name__, (base,), {"make_archive": make_archive})


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
    # An sdist carries no record: a stale one from an earlier wheel build is deleted.
    cmd.write_or_delete_file("torchpins build record", filename, state.injection.record)


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
