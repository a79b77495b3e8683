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

from torchpins.errors import TorchpinsError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per build
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
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


@contextlib.contextmanager
def _build(config_settings: ConfigSettings, *, sdist: bool) -> Iterator[dict[str, Any] | None]:
    from torchpins import _setuptools

    with user_errors():
        injection = _setuptools.prepare_injection(".", config_settings, sdist=sdist)
    token = _setuptools.ACTIVE.set(injection)
    try:
        yield _for_setuptools(config_settings)
    finally:
        _setuptools.ACTIVE.reset(token)


def _check(config_settings: ConfigSettings) -> dict[str, Any] | None:
    """For the get_requires hooks: fail early on a bad configuration or override."""
    import os

    from torchpins.probe import read_overrides
    from torchpins.settings import load_project

    with user_errors():
        load_project(".")
        read_overrides(config_settings, os.environ)
    return _for_setuptools(config_settings)


def get_requires_for_build_wheel(config_settings: ConfigSettings = None) -> list[str]:
    from setuptools import build_meta

    return list(build_meta.get_requires_for_build_wheel(_check(config_settings)))


def get_requires_for_build_editable(config_settings: ConfigSettings = None) -> list[str]:
    from setuptools import build_meta

    return list(build_meta.get_requires_for_build_editable(_check(config_settings)))


def get_requires_for_build_sdist(config_settings: ConfigSettings = None) -> list[str]:
    from setuptools import build_meta

    return list(build_meta.get_requires_for_build_sdist(_check(config_settings)))


def prepare_metadata_for_build_wheel(
    metadata_directory: str, config_settings: ConfigSettings = None
) -> str:
    from setuptools import build_meta

    with _build(config_settings, sdist=False) as settings:
        return str(build_meta.prepare_metadata_for_build_wheel(metadata_directory, settings))


def prepare_metadata_for_build_editable(
    metadata_directory: str, config_settings: ConfigSettings = None
) -> str:
    from setuptools import build_meta

    with _build(config_settings, sdist=False) as settings:
        return str(build_meta.prepare_metadata_for_build_editable(metadata_directory, settings))


def build_wheel(
    wheel_directory: str,
    config_settings: ConfigSettings = None,
    metadata_directory: str | None = None,
) -> str:
    from setuptools import build_meta

    with _build(config_settings, sdist=False) as settings:
        return str(build_meta.build_wheel(wheel_directory, settings, metadata_directory))


def build_editable(
    wheel_directory: str,
    config_settings: ConfigSettings = None,
    metadata_directory: str | None = None,
) -> str:
    from setuptools import build_meta

    with _build(config_settings, sdist=False) as settings:
        return str(build_meta.build_editable(wheel_directory, settings, metadata_directory))


def build_sdist(sdist_directory: str, config_settings: ConfigSettings = None) -> str:
    from setuptools import build_meta

    with _build(config_settings, sdist=True) as settings:
        return str(build_meta.build_sdist(sdist_directory, settings))
