"""The PEP 517 / PEP 660 backend: ``build-backend = "torchpins.build_meta"``.

Each hook loads ``[tool.torchpins]``, resolves, and delegates to ``setuptools.build_meta`` with
the result switched on for setuptools' plug-ins (see :mod:`torchpins._setuptools`). Config
settings pass through to setuptools, except the ``torchpins.*`` keys, which are ours.

Imports of setuptools and packaging happen inside the hooks, so importing this module is cheap.
A user error ends the hook with one line on stderr and exit status 1, as distutils does: the
frontend shows the message, not a traceback.
"""

from __future__ import annotations

import contextlib
import os

from torchpins.errors import TorchpinsError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per build
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from typing import Any, TypeAlias

    ConfigSettings: TypeAlias = Mapping[str, str | list[str]] | None

__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "prepare_metadata_for_build_wheel",
]


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn a :class:`TorchpinsError` into the one-line exit a frontend shows as it is."""
    try:
        yield
    except TorchpinsError as error:
        raise SystemExit(f"torchpins: error: {error}") from None


def _for_setuptools(config_settings: ConfigSettings) -> dict[str, Any] | None:
    if config_settings is None:
        return None
    return {k: v for k, v in config_settings.items() if not k.startswith("torchpins.")}


def _run(
    config_settings: ConfigSettings,
    output_directory: str,
    setuptools_hook: Callable[[dict[str, Any] | None], str],
    *,
    sdist: bool = False,
    editable: bool = False,
    metadata_directory: str | None = None,
) -> str:
    """Resolve, run one setuptools hook with the result switched on, and make sure setuptools
    really took it: a wheel without its pins must never be left behind. A wheel build gets a
    folder of its own for setuptools' build/ and egg-info, removed afterwards."""
    import tempfile

    from torchpins import _setuptools

    work_dir = None if sdist or editable else tempfile.mkdtemp(prefix="torchpins-build-")
    try:
        with user_errors():
            injection = _setuptools.prepare_injection(
                ".",
                config_settings,
                sdist=sdist,
                editable=editable,
                metadata_directory=metadata_directory,
                work_dir=work_dir,
            )
        with _setuptools.switched_on(injection) as state:
            result = str(setuptools_hook(_for_setuptools(config_settings)))
    finally:
        if work_dir is not None:
            _remove(work_dir)
    if not state.applied:
        _remove(os.path.join(output_directory, result))
        raise SystemExit(
            "torchpins: error: torchpins' setuptools plug-in did not run, so setuptools built "
            "without the requirements torchpins resolved (nothing was kept). torchpins must be "
            "installed, with its metadata, in the environment that runs the build: add "
            "'torchpins' to build-system.requires, or pip install torchpins before building "
            "with --no-build-isolation; a copy imported from PYTHONPATH or backend-path does not "
            "register the plug-in"
        )
    return result


def _remove(path: str) -> None:
    import shutil

    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.exists(path):
        os.remove(path)


def _requires(
    config_settings: ConfigSettings, hook: Callable[[dict[str, Any] | None], list[str]]
) -> list[str]:
    """For the get_requires hooks: fail early on a bad configuration or override, and keep the
    egg-info setuptools writes to answer out of the source tree (a folder of this call's own)."""
    import tempfile

    from torchpins import _setuptools
    from torchpins.facts import read_overrides
    from torchpins.settings import load_project

    with user_errors():
        project = load_project(".")
        read_overrides(config_settings, os.environ, specs=project.settings.facts)
    work_dir = tempfile.mkdtemp(prefix="torchpins-build-")
    try:
        with _setuptools.switched_on(_setuptools.Injection((), (), None, work_dir=work_dir)):
            return list(hook(_for_setuptools(config_settings)))
    finally:
        _remove(work_dir)


def get_requires_for_build_wheel(config_settings: ConfigSettings = None) -> list[str]:
    from setuptools import build_meta

    return _requires(config_settings, build_meta.get_requires_for_build_wheel)


def get_requires_for_build_editable(config_settings: ConfigSettings = None) -> list[str]:
    from setuptools import build_meta

    return _requires(config_settings, build_meta.get_requires_for_build_editable)


def get_requires_for_build_sdist(config_settings: ConfigSettings = None) -> list[str]:
    from setuptools import build_meta

    return _requires(config_settings, build_meta.get_requires_for_build_sdist)


def prepare_metadata_for_build_wheel(
    metadata_directory: str, config_settings: ConfigSettings = None
) -> str:
    from setuptools import build_meta

    return _run(
        config_settings,
        metadata_directory,
        lambda settings: build_meta.prepare_metadata_for_build_wheel(metadata_directory, settings),
    )


def prepare_metadata_for_build_editable(
    metadata_directory: str, config_settings: ConfigSettings = None
) -> str:
    from setuptools import build_meta

    return _run(
        config_settings,
        metadata_directory,
        lambda settings: build_meta.prepare_metadata_for_build_editable(
            metadata_directory, settings
        ),
        editable=True,
    )


def build_wheel(
    wheel_directory: str,
    config_settings: ConfigSettings = None,
    metadata_directory: str | None = None,
) -> str:
    from setuptools import build_meta

    return _run(
        config_settings,
        wheel_directory,
        lambda settings: build_meta.build_wheel(wheel_directory, settings, metadata_directory),
        metadata_directory=metadata_directory,
    )


def build_editable(
    wheel_directory: str,
    config_settings: ConfigSettings = None,
    metadata_directory: str | None = None,
) -> str:
    from setuptools import build_meta

    return _run(
        config_settings,
        wheel_directory,
        lambda settings: build_meta.build_editable(wheel_directory, settings, metadata_directory),
        editable=True,
        metadata_directory=metadata_directory,
    )


def build_sdist(sdist_directory: str, config_settings: ConfigSettings = None) -> str:
    from setuptools import build_meta

    return _run(
        config_settings,
        sdist_directory,
        lambda settings: build_meta.build_sdist(sdist_directory, settings),
        sdist=True,
    )
