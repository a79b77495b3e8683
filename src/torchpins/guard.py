"""The runtime guard: a small module written at build time into the project (``[tool.torchpins.
guard] file``), which the package imports from its ``__init__.py``. At import it compares the torch
it was built for with the torch present, and raises one clear ``ImportError`` (or warns) when they
differ. The module uses the standard library only: no torchpins, setuptools or packaging at run
time. It reads torch's version from ``torch.__version__`` when torch is already imported, else
from its installed metadata; it never imports torch itself.

The rule is the one ``torchpins inspect --check`` applies: another torch minor release, or another
build (CPU / CUDA / ROCm, or another CUDA or ROCm version, as the local label tells).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from torchpins import __version__
from torchpins.errors import ConfigError
from torchpins.facts import FactValue
from torchpins.settings import GuardSettings, Project

_TEMPLATE = '''\
# Written by torchpins {torchpins} when {project} was built: the torch it was built for, checked
# when the package is imported. Do not edit, and do not commit it (each build rewrites it).
# It needs only the standard library.
from __future__ import annotations

PROJECT = {project!r}
VERSION = {version!r}
BUILT_FOR = {built_for!r}
ON_MISMATCH = {on_mismatch!r}


def _release(text):
    numbers = []
    for part in text.split("+")[0].split("."):
        digits = ""
        for character in part:
            if not character.isdigit():
                break
            digits += character
        if not digits:
            break
        numbers.append(int(digits))
        if digits != part:
            break
    return tuple(numbers)


def _build(label):
    """(accelerator, version) that a local label names: cu128 -> ("cuda", (12, 8))."""
    if not label:
        return None
    if label.startswith("cu") and label[2:].isdigit() and len(label) >= 4:
        return ("cuda", (int(label[2:-1]), int(label[-1])))
    if label.startswith("rocm"):
        return ("rocm", _release(label[4:])[:2])
    return (label, ())


def installed_torch():
    """The torch version present ("2.8.0+cu128"), or None; torch is not imported for it."""
    import sys

    module = sys.modules.get("torch")
    version = getattr(module, "__version__", None)
    if version:
        return str(version)
    try:
        from importlib.metadata import PackageNotFoundError, version as distribution_version
    except ImportError:  # pragma: no cover
        return None
    try:
        return distribution_version("torch")
    except PackageNotFoundError:
        return None


def _shown_torch():
    try:
        return installed_torch()
    except Exception:
        return "(unreadable)"


def mismatch(present=None):
    """Why the torch present does not fit this build, or None when it does."""
    present = installed_torch() if present is None else present
    built = BUILT_FOR["torch"]
    if not built or not present:
        return None  # built without torch facts, or no torch here: the import of torch will say
    public, _, label = present.partition("+")
    if _release(public)[:2] != _release(built)[:2]:
        return "another torch release"
    built_build, present_build = _build(BUILT_FOR["torch-local"]), _build(label)
    if built_build and present_build and built_build != present_build:
        return "another torch build"
    return None


def check():
    try:
        reason = mismatch()
    except Exception as error:  # a broken torch install: unreadable or mangled metadata
        reason = f"the installed torch cannot be read ({{type(error).__name__}}: {{error}})"
    if reason is None:
        return
    label = BUILT_FOR["torch-local"]
    built = BUILT_FOR["torch"] + ("+" + label if label else "")
    package = PROJECT + (" " + VERSION if VERSION else "")
    requirement = PROJECT + ("==" + VERSION if VERSION else "")
    message = (
        f"{{package}} was built for torch {{built}}, but torch {{_shown_torch()}} is installed "
        f"({{reason}}): its pinned dependencies and compiled code fit the torch it was built for. "
        "Rebuild it against this torch: pip install --no-cache-dir --force-reinstall "
        f"--no-build-isolation --no-deps {{requirement}}"
    )
    if ON_MISMATCH == "warn":
        import warnings

        warnings.warn(message, RuntimeWarning, stacklevel=3)
        return
    raise ImportError(message)


check()
'''


def render(project: Project, guard: GuardSettings, facts: Mapping[str, FactValue]) -> str:
    built_for = {name: facts.get(name) for name in ("torch", "torch-local", "cuda", "rocm")}
    return _TEMPLATE.format(
        torchpins=__version__,
        project=project.name,
        version=project.version,
        built_for=built_for,
        on_mismatch=guard.on_mismatch,
    )


#: The first line of every guard module torchpins writes: a file without it is the user's.
HEADER = "# Written by torchpins"


def check_not_foreign(path: str, file: str) -> None:
    """Refuse to replace a file at ``path`` that torchpins did not write (``guard.file``
    pointing at the package's ``__init__.py``, say)."""
    try:
        with open(path, "rb") as handle:
            first = handle.read(len(HEADER))
    except FileNotFoundError:
        return
    except OSError as error:
        raise ConfigError(
            f"tool.torchpins.guard.file: {file!r} cannot be read ({error.strerror})"
        ) from None
    if first != HEADER.encode():
        raise ConfigError(
            f"tool.torchpins.guard.file: {file!r} is a file torchpins did not write (it does not "
            f"start with {HEADER!r}); torchpins will not replace it. Point guard.file at a new "
            "module, e.g. src/mypkg/_torch_guard.py, and import that from the package"
        )


def write(path: str, text: str, file: str) -> None:
    """Write the guard module ``text`` to ``path``; a file already holding the same text is left
    alone (no needless rebuilds), a file torchpins did not write is refused. Written to a
    temporary file and renamed, so an interrupted build never leaves half a module."""
    check_not_foreign(path, file)
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise ConfigError(
            f"tool.torchpins.guard.file: {file!r} is not inside an existing folder of the "
            "project; point it into the package, e.g. src/mypkg/_torch_guard.py"
        )
    try:
        with open(path, encoding="utf-8") as handle:
            if handle.read() == text:
                return
    except (OSError, UnicodeDecodeError):
        pass
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except OSError as error:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise ConfigError(
            f"tool.torchpins.guard.file: {file!r} cannot be written ({error.strerror})"
        ) from None
