"""The runtime guard: a small module written at build time into the project (``[tool.torchpins.
guard] file``), which the package imports from its ``__init__.py``. At import it compares the torch
it was built for with the torch present, and raises one clear ``ImportError`` (or warns) when they
differ. The module uses the standard library only: no torchpins, setuptools or packaging at run
time. It reads torch's version from ``torch.__version__`` when torch is already imported, else
from its installed metadata; it never imports torch itself.

The rule is the one ``torchpins inspect --check`` applies (:mod:`torchpins.fit`, embedded):
another torch minor release, another build (CPU / CUDA / ROCm, or another CUDA or ROCm version),
or a decided fact beyond torch outside the outcome the build rested on, of those this module can
read cheaply (glibc; the C++ ABI when torch is imported already).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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


{fit}

def _version_py(folder):
    """cuda, hip and xpu of torch/version.py, read as text (never run), or None."""
    import ast
    import os

    try:
        with open(os.path.join(folder, "version.py"), "rb") as file:
            tree = ast.parse(file.read(1 << 16))
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    found = {{}}
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets:
            target = node.targets[0]
        else:
            target = getattr(node, "target", None)
        value = getattr(node, "value", None)
        if isinstance(target, ast.Name) and isinstance(value, ast.Constant):
            found[target.id] = value.value
    return found


def present_torch():
    """The build facts of the torch present, as a build record holds them; torch is not
    imported for it (its version and version.py are read as they are installed)."""
    import sys

    module = sys.modules.get("torch")
    version = getattr(module, "__version__", None)
    info = getattr(module, "version", None)
    build = {{k: getattr(info, k, None) for k in ("cuda", "hip", "xpu")}} if info else None
    if not version:
        from importlib.metadata import PackageNotFoundError, version as distribution_version

        try:
            version = distribution_version("torch")
        except PackageNotFoundError:
            return None
    if build is None:
        from importlib.util import find_spec

        spec = find_spec("torch")
        folders = list(spec.submodule_search_locations or []) if spec else []
        build = _version_py(folders[0]) if folders else None
    public, _, label = str(version).partition("+")
    facts = {{"torch": public, "torch-local": label or None, "cuda": None, "rocm": None}}
    facts["accelerator"] = None
    if build is not None:
        facts["cuda"], facts["rocm"] = build.get("cuda"), build.get("hip")
        if facts["cuda"]:
            facts["accelerator"] = "cuda"
        elif facts["rocm"]:
            facts["accelerator"] = "rocm"
        else:
            facts["accelerator"] = "xpu" if build.get("xpu") else "cpu"
    return facts


def present_decided():
    """The decided facts beyond torch that this module can read cheaply: glibc, and the C++ ABI
    when torch is already imported. The CUDA driver and GPU architectures need NVML, which an
    import should not load: torchpins inspect --check compares those."""
    import os
    import sys

    found = {{}}
    outcomes = BUILT_FOR.get("outcomes") or {{}}
    if "glibc" in outcomes:
        try:
            name, _, version = (os.confstr("CS_GNU_LIBC_VERSION") or "").partition(" ")
        except (AttributeError, ValueError, OSError):
            name = version = ""
        found["glibc"] = version if name == "glibc" else None
    compiled = getattr(sys.modules.get("torch"), "_C", None)
    if "cxx11abi" in outcomes and hasattr(compiled, "_GLIBCXX_USE_CXX11_ABI"):
        found["cxx11abi"] = bool(compiled._GLIBCXX_USE_CXX11_ABI)
    return found


def _shown(facts):
    return facts["torch"] + ("+" + facts["torch-local"] if facts.get("torch-local") else "")


def check():
    present = None
    elsewhere = None
    try:
        present = present_torch()
        # no torch here: the package's own import of torch will say so
        reason = mismatch(BUILT_FOR, present) if present else None
        if reason is None:
            elsewhere = outcome_mismatch(BUILT_FOR.get("outcomes") or {{}}, present_decided())
    except Exception as error:  # a broken torch install: unreadable or mangled metadata
        reason = f"the installed torch cannot be read ({{type(error).__name__}}: {{error}})"
    if reason is None and elsewhere is None:
        return
    built = _shown(BUILT_FOR)
    package = PROJECT + (" " + VERSION if VERSION else "")
    requirement = PROJECT + ("==" + VERSION if VERSION else "")
    rebuild = (
        "pip install --no-cache-dir --force-reinstall --no-build-isolation --no-deps "
        + requirement
    )
    if elsewhere is not None:
        message = (
            f"{{package}} does not fit this environment: {{elsewhere}}. Its pinned dependencies "
            f"and compiled code fit the environment it was built in. Rebuild it here: {{rebuild}}"
        )
    else:
        message = (
            f"{{package}} was built for torch {{built}}, but torch "
            f"{{_shown(present) if present else '(unreadable)'}} is installed "
            f"({{reason}}): its pinned dependencies and compiled code fit the torch it was built "
            f"for. Rebuild it against this torch: {{rebuild}}"
        )
    if ON_MISMATCH == "warn":
        import warnings

        warnings.warn(message, RuntimeWarning, stacklevel=3)
        return
    raise ImportError(message)


check()
'''


def render(
    project: Project,
    guard: GuardSettings,
    facts: Mapping[str, FactValue],
    outcomes: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    from torchpins import fit

    built_for: dict[str, Any] = {name: facts.get(name) for name in fit.BUILD_KEYS}
    if outcomes:
        built_for["outcomes"] = {fact: dict(outcome) for fact, outcome in outcomes.items()}
    rule = Path(fit.__file__).read_text(encoding="utf-8")
    body = rule[rule.index("from __future__ import annotations") :]
    body = body.replace("from __future__ import annotations\n", "", 1)
    return _TEMPLATE.format(
        torchpins=__version__,
        project=project.name,
        version=project.version,
        built_for=built_for,
        on_mismatch=guard.on_mismatch,
        fit="# The compatibility rule, the same as torchpins inspect --check's (torchpins/fit.py)"
        + body,
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
