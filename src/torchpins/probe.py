"""Probing: the facts of this environment, and where each came from.

All I/O of reading the machine lives here, behind :func:`gather_facts`, which returns a frozen
:class:`~torchpins.facts.Facts`. torch is never imported: its version comes from its
``*.dist-info`` folder and its build from ``torch/version.py`` read as text (importing torch takes
seconds). What a fact is, and how an override is read, belong to :mod:`torchpins.facts`.

Precedence for every fact (SPEC section 4): ``-C torchpins.<fact>`` / ``--set``, then
``TORCHPINS_<FACT>``, then probing. When torch itself is overridden, the facts that describe its
build (``torch-local``, ``cuda``, ``rocm``, ``accelerator``) are *assumed* from its local label
instead of being probed from whatever torch happens to be installed.
"""

from __future__ import annotations

import ast
import os
import sys
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from packaging.version import InvalidVersion

from torchpins.errors import ResolveError
from torchpins.facts import (
    BUILD_FACTS,
    CORE_FACTS,
    LAZY_FACTS,
    TORCH_FACTS,
    EnvFact,
    Facts,
    FactValue,
    Source,
    TorchBuild,
    TorchHint,
    cxx11abi_assumed,
    env_var,
    label_build,
    parse_version,
    read_environment,
    read_overrides,
    registry,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from torchpins.hardware import NvidiaProbe


@dataclass(frozen=True)
class InstalledTorch:
    """What the installed torch says about itself, read without importing it."""

    version: str
    metadata_path: str | None
    version_py: str | None
    build: Mapping[str, str | None] = field(default_factory=dict)
    #: Why ``torch/version.py`` could not be read (missing, or does not parse).
    version_py_problem: str | None = None
    #: Why the torch version itself is in doubt (two distributions in one directory).
    problem: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def package(self) -> str | None:
        """The ``torch`` package directory."""
        if self.version_py:
            return os.path.dirname(self.version_py)
        if self.metadata_path:
            candidate = os.path.join(os.path.dirname(self.metadata_path), "torch")
            return candidate if os.path.isdir(candidate) else None
        return None


class VersionPyError(Exception):
    """``torch/version.py`` cannot be read or parsed."""


def gather_facts(
    config_settings: Mapping[str, str | list[str]] | None = None,
    environ: Mapping[str, str] | None = None,
    needed: Collection[str] = (),
    *,
    set_pairs: Sequence[tuple[str, str]] = (),
    setting_origin: str = "-C torchpins.{fact}",
    declared: Sequence[EnvFact] = (),
    probe_all: bool = False,
) -> Facts:
    """The core facts, plus the lazy facts in ``needed`` (all of them with ``probe_all``), with
    their sources. Overrides come from ``config_settings`` or the CLI's ``set_pairs`` (named
    after ``setting_origin``), then ``environ`` (see :func:`torchpins.facts.read_overrides`). A
    needed fact that cannot be determined (a broken torch install) is an error; with
    ``probe_all`` it is reported in its source instead. ``declared`` are the project's
    environment facts ([tool.torchpins.env]), read after the overrides."""
    environ = os.environ if environ is None else environ
    lazy = [name for name in LAZY_FACTS if probe_all or name in needed]
    overrides = read_overrides(
        config_settings,
        environ,
        set_pairs=set_pairs,
        setting_origin=setting_origin,
        needed=frozenset(lazy),
        specs=registry(declared),
    )
    installed, probed = (None, {}) if "torch" in overrides else _torch_facts()
    probed.update(_platform_facts())
    probed.update(overrides.facts)
    probed.update(read_environment(declared, environ, overrides))
    values = {name: value for name, (value, _) in probed.items()}
    sources = {name: source for name, (_, source) in probed.items()}
    warnings = list(installed.warnings) if installed else []
    if lazy:  # imported only here: a build that needs no lazy fact loads none of this
        from torchpins.hardware import NvidiaProbe, probe_gpu_vendor, probe_nvcc
    nvidia: NvidiaProbe | None = None
    for name in lazy:
        if name in overrides:
            continue
        if name == "cxx11abi":
            values[name], sources[name] = _cxx11abi(installed, values, sources)
            continue
        if name == "nvcc":
            reading = probe_nvcc(environ)
        elif name == "gpu-vendor":
            reading = probe_gpu_vendor(environ)
        else:
            nvidia = nvidia or NvidiaProbe(environ)
            reading = nvidia.cuda_driver() if name == "cuda-driver" else nvidia.gpu_arch()
        values[name], sources[name] = reading.value, Source("probed", reading.detail)
        if reading.warning and reading.warning not in warnings:
            warnings.append(f"{name}: {reading.warning}; treating {name} as absent")
    if not probe_all:
        for name in needed:
            problem = sources[name].problem if name in sources else None
            if problem:
                raise ResolveError(problem)
    hint = None if values.get("torch") or "torch" in overrides else torch_elsewhere(environ)
    return Facts(values, sources, tuple(warnings), hint)


def _torch_facts() -> tuple[InstalledTorch | None, dict[str, tuple[FactValue, Source]]]:
    installed = find_torch()
    if installed is None:
        reason = f"no torch distribution on the path of {sys.executable}"
        return None, {name: (None, Source("probed", reason)) for name in TORCH_FACTS}
    if installed.problem:
        unknown = Source("probed", installed.problem, problem=installed.problem)
        return installed, dict.fromkeys(TORCH_FACTS, (None, unknown))
    torch = TorchBuild.parse(installed.version)
    label = torch.label
    where = installed.metadata_path or installed.version_py or "torch"
    facts: dict[str, tuple[FactValue, Source]] = {
        "torch": (torch.public, Source("probed", where)),
        "torch-local": (label, Source("probed", where)),
    }
    if installed.version_py_problem:
        # A broken install: the label may still tell the build (cu128); otherwise it is unknown.
        assumed = label_build(label)
        why = installed.version_py_problem
        for name in BUILD_FACTS[1:]:
            if assumed["accelerator"] is not None:
                detail = f"{why}; assumed from the label {label!r} of torch {installed.version}"
                facts[name] = (assumed[name], Source("assumed", detail))
            else:
                fix = (
                    f"{why}. Reinstall torch (pip install --force-reinstall "
                    f"torch=={torch.public}), or state its build with {env_var(name)}=<value> "
                    "(empty for none)"
                )
                facts[name] = (None, Source("probed", why, problem=fix))
        return installed, facts
    build = installed.build
    where = installed.version_py or where
    cuda = _leading_version(build.get("cuda"))
    rocm = _leading_version(build.get("rocm") or build.get("hip"))
    if not rocm:
        rocm = label_build(label)["rocm"]  # type: ignore[assignment]
    xpu = build.get("xpu")
    accelerator = "cuda" if cuda else "rocm" if rocm else "xpu" if xpu else "cpu"
    facts["cuda"] = (cuda, Source("probed", where))
    facts["rocm"] = (rocm, Source("probed", where))
    facts["accelerator"] = (accelerator, Source("probed", where))
    return installed, facts


def _cxx11abi(
    installed: InstalledTorch | None,
    values: Mapping[str, FactValue],
    sources: Mapping[str, Source],
) -> tuple[FactValue, Source]:
    torch = values.get("torch")
    if sources["torch"].kind != "probed":
        return cxx11abi_assumed(
            torch if isinstance(torch, str) else None,
            values.get("platform"),
            f"from {sources['torch'].detail}",
        )
    if installed is None or installed.package is None:
        return None, Source("probed", sources["torch"].detail or "no torch installed")
    from torchpins.hardware import probe_cxx11abi

    reading = probe_cxx11abi(installed.package)
    if reading.value is None:
        fix = f"{reading.detail}. State it with TORCHPINS_CXX11ABI=1 or 0"
        return None, Source("probed", reading.detail, problem=fix)
    return reading.value, Source("probed", reading.detail)


def torch_elsewhere(environ: Mapping[str, str]) -> TorchHint | None:
    """When no torch is on the path: is this an isolated build environment that hides one? Looks
    in the environments a frontend may have hidden: the interpreter's own site-packages when it
    is not on ``sys.path`` (pip's isolation), ``$VIRTUAL_ENV`` and ``$CONDA_PREFIX``."""
    import sysconfig

    on_path = {os.path.realpath(entry) for entry in sys.path if entry}
    places: list[tuple[str, list[str]]] = []
    own = [sysconfig.get_paths()[key] for key in ("purelib", "platlib")]
    places.append((sys.prefix, own))
    # An activated environment the build does not run in is hidden only when the build runs in
    # a frontend's isolated environment: a VIRTUAL_ENV left over from another shell is no sign.
    isolated = sys.prefix != sys.base_prefix and _looks_isolated(sys.prefix)
    for variable in ("VIRTUAL_ENV", "CONDA_PREFIX") if isolated else ():
        prefix = environ.get(variable, "")
        if prefix and os.path.realpath(prefix) != os.path.realpath(sys.prefix):
            places.append((prefix, _site_packages(prefix)))
    for prefix, sites in places:
        hidden = [site for site in sites if os.path.realpath(site) not in on_path]
        if not hidden:
            continue
        installed = find_torch(hidden)
        if installed is not None and installed.problem is None:
            if prefix == sys.prefix:  # pip: the environment's own interpreter, its path hidden
                sentence = (
                    f"this build runs in an isolated environment, which does not see the "
                    f"environment at {prefix} (whose interpreter runs it), where torch "
                    f"{installed.version} is installed"
                )
            else:
                sentence = (
                    f"this build runs in an isolated environment ({sys.prefix}), which does not "
                    f"see the environment at {prefix}, where torch {installed.version} is "
                    "installed"
                )
            return TorchHint(sentence, installed.version)
    if isolated:
        return TorchHint(f"this build runs in an isolated environment ({sys.prefix})")
    if any(os.path.realpath(site) in on_path for site in own):
        # The interpreter's own environment is on the path: no isolation hides torch.
        return TorchHint(f"the environment of {sys.executable} has no torch", isolated=False)
    return None


def _looks_isolated(prefix: str) -> bool:
    """The temporary environments build frontends make: pip-build-env-*, build-env-*, uv's
    builds-v0 cache."""
    text = prefix.replace("\\", "/")
    return any(part in text for part in ("pip-build-env-", "/build-env-", "/builds-v0/"))


def _site_packages(prefix: str) -> list[str]:
    import glob

    found = glob.glob(os.path.join(prefix, "lib", "python3*", "site-packages"))
    found += glob.glob(os.path.join(prefix, "lib64", "python3*", "site-packages"))
    found += glob.glob(os.path.join(prefix, "Lib", "site-packages"))
    return sorted(found)


def _platform_facts() -> dict[str, tuple[FactValue, Source]]:
    python = python_version()
    facts: dict[str, tuple[FactValue, Source]] = {
        "python": (python, Source("probed", "platform.python_version()")),
        "platform": (sys.platform, Source("probed", "sys.platform")),
        "machine": (_machine(), Source("probed", "platform.machine()")),
    }
    glibc: str | None = None
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):
        libc = ""
    name, _, version = libc.strip().partition(" ")
    if name == "glibc" and _valid_version(version) and version.count(".") == 1:
        glibc = version
    detail = "os.confstr('CS_GNU_LIBC_VERSION')" if glibc else "not a glibc system"
    facts["glibc"] = (glibc, Source("probed", detail))
    assert set(facts) | set(TORCH_FACTS) == set(CORE_FACTS)
    return facts


def python_version(info: Sequence[object] = sys.version_info) -> str:
    """The running interpreter as a PEP 440 version: ``3.13.1``, ``3.14.0a1`` (a build from git
    says ``3.14.0a1+`` in ``sys.version``, which is not a version)."""
    major, minor, micro, level, serial = info[:5]
    suffix = {"alpha": "a", "beta": "b", "candidate": "rc"}.get(str(level))
    return f"{major}.{minor}.{micro}" + (f"{suffix}{serial}" if suffix else "")


def _machine() -> str:
    """``platform.machine()``; on POSIX it is ``os.uname().machine``, which skips importing
    :mod:`platform`."""
    if hasattr(os, "uname"):
        return os.uname().machine
    import platform

    return platform.machine()


def _leading_version(text: str | None) -> str | None:
    """``"12.8"`` -> ``"12.8"``; ``"6.3.42131-fa1d09cbd"`` (a HIP version) -> ``"6.3.42131"``."""
    if not text:
        return None
    leading = ""
    for character in text.strip():
        if not (character.isdigit() or character == "."):
            break
        leading += character
    leading = leading.split("..")[0].strip(".")
    return leading or None


def find_torch(path: Iterable[str] | None = None) -> InstalledTorch | None:
    """The torch distribution on ``path`` (default ``sys.path``) that ``import torch`` would use:
    the first directory holding one, as importlib.metadata finds it, plus its
    ``torch/version.py``. Reads a few small files; imports nothing. Two torch distributions in
    one directory (an upgrade that went wrong) are told apart by ``version.py``, or reported as a
    problem; a torch in a later directory is shadowed, which is reported as a warning."""
    entries = list(sys.path if path is None else path)
    found: list[tuple[str, list[tuple[str, str]]]] = []
    for entry in entries:
        directory = entry or "."
        distributions = _torch_distributions(directory)
        if distributions:
            found.append((directory, distributions))
    if not found:
        # A torch without dist-info (a source checkout on sys.path): its version.py still tells.
        return _torch_without_metadata(entries)
    directory, distributions = found[0]
    first = os.path.realpath(directory)
    warnings = [
        f"torch {later[0][0]} in {where} is shadowed by torch {distributions[0][0]} in "
        f"{directory}, which the build uses"
        for where, later in found[1:]
        if os.path.realpath(where) != first
    ]
    installed = _with_version_py(distributions[0][0], distributions[0][1], directory)
    if len({version for version, _ in distributions}) > 1:
        installed = _pick_among(installed, distributions, directory)
    return replace(installed, warnings=(*installed.warnings, *warnings))


def _torch_distributions(directory: str) -> list[tuple[str, str]]:
    """(version, metadata folder) of every torch distribution in ``directory``."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    found: list[tuple[str, str]] = []
    for name in sorted(names):
        stem, dot, suffix = name.rpartition(".")
        if suffix not in ("dist-info", "egg-info") or not dot:
            continue
        project, _, rest = stem.partition("-")
        if project.lower() != "torch":
            continue
        metadata_path = os.path.join(directory, name)
        # torch-2.8.0+cu128.dist-info, legacy torch-2.1.0-py3.11.egg-info, torch.egg-info
        version = _valid_version(rest.split("-")[0]) or _version_from_metadata(metadata_path)
        if version:
            found.append((version, metadata_path))
    return found


def _pick_among(
    installed: InstalledTorch, distributions: list[tuple[str, str]], directory: str
) -> InstalledTorch:
    names = ", ".join(os.path.basename(path) for _, path in distributions)
    code_version = installed.build.get("__version__")
    for version, metadata_path in distributions:
        if code_version and _same_version(version, code_version):
            stale = ", ".join(
                os.path.basename(path) for _, path in distributions if path != metadata_path
            )
            warning = (
                f"{directory} holds several torch distributions ({names}); torch/version.py "
                f"says {code_version}, so the build uses that one; remove the stale {stale}"
            )
            return replace(
                installed, version=version, metadata_path=metadata_path, warnings=(warning,)
            )
    problem = (
        f"{directory} holds several torch distributions ({names}) and torch/version.py does not "
        "say which one is installed; reinstall torch (pip install --force-reinstall torch==...) "
        "or name it with TORCHPINS_TORCH=<version>"
    )
    return replace(installed, problem=problem, warnings=())


def _same_version(one: str, other: str) -> bool:
    try:
        return parse_version(one) == parse_version(other)
    except InvalidVersion:
        return False


def _valid_version(text: str | None) -> str | None:
    if not text:
        return None
    try:
        parse_version(text)
    except InvalidVersion:
        return None
    return text


def _version_from_metadata(metadata_path: str) -> str | None:
    from email.parser import HeaderParser

    for filename in ("METADATA", "PKG-INFO"):
        candidate = os.path.join(metadata_path, filename)
        if os.path.isfile(candidate):
            with open(candidate, encoding="utf-8", errors="replace") as file:
                version = HeaderParser().parse(file).get("Version")
            return _valid_version(version.strip() if version else None)
    return None


def _with_version_py(version: str, metadata_path: str, directory: str) -> InstalledTorch:
    version_py = os.path.join(directory, "torch", "version.py")
    if not os.path.isfile(version_py):
        version_py = _version_py_from_spec() or ""
    if not version_py:
        problem = f"{metadata_path} has no torch/version.py beside it (a broken torch install)"
        return InstalledTorch(version, metadata_path, None, version_py_problem=problem)
    try:
        build = read_version_py(version_py)
    except VersionPyError as error:
        problem = f"{error} (a broken torch install)"
        return InstalledTorch(version, metadata_path, version_py, version_py_problem=problem)
    installed = InstalledTorch(version, metadata_path, version_py, build)
    code_version = build.get("__version__")
    if code_version and not _same_version(code_version, version):
        warning = (
            f"{metadata_path} says torch {version} but {version_py} says {code_version}: the "
            "install is mixed up; reinstall torch (pip install --force-reinstall torch==...)"
        )
        installed = replace(installed, warnings=(warning,))
    return installed


def _torch_without_metadata(path: Iterable[str] | None) -> InstalledTorch | None:
    version_py = _version_py_from_spec(path)
    if version_py is None:
        return None
    try:
        build = read_version_py(version_py)
    except VersionPyError:
        return None
    version = _valid_version(build.get("__version__"))
    if not version:
        return None
    return InstalledTorch(version, None, version_py, build)


def _version_py_from_spec(path: Iterable[str] | None = None) -> str | None:
    from importlib.machinery import PathFinder
    from importlib.util import find_spec

    try:
        spec = find_spec("torch") if path is None else PathFinder.find_spec("torch", list(path))
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = os.path.join(location, "version.py")
        if os.path.isfile(candidate):
            return candidate
    return None


#: torch/version.py is a few hundred bytes; a file far larger than this is not one.
VERSION_PY_LIMIT = 1 << 16
#: The assignments of torch/version.py that tell the build; each must be a plain constant.
BUILD_NAMES = ("__version__", "cuda", "hip", "rocm", "xpu")


def read_version_py(path: str) -> dict[str, str | None]:
    """The plain ``name = 'value'`` assignments of ``torch/version.py``, parsed, not executed.
    :class:`VersionPyError` says why when the file cannot be read or parsed, is far larger than
    a version.py, or computes one of :data:`BUILD_NAMES` (``cuda = '12' + '.8'``), which reading
    it as text cannot tell: a CPU wheel must never come from a CUDA torch by accident."""
    try:
        with open(path, "rb") as file:
            source = file.read(VERSION_PY_LIMIT + 1)
    except OSError as error:
        raise VersionPyError(f"{path} cannot be read ({error.strerror or error})") from None
    if len(source) > VERSION_PY_LIMIT:
        raise VersionPyError(f"{path} is larger than {VERSION_PY_LIMIT} bytes, not a version.py")
    try:
        tree = ast.parse(source, path)
    except SyntaxError as error:
        raise VersionPyError(f"{path} does not parse ({error.msg}, line {error.lineno})") from None
    except (ValueError, RecursionError, MemoryError) as error:  # null bytes, absurd nesting
        reason = type(error).__name__ if not str(error) else error
        raise VersionPyError(f"{path} does not parse ({reason})") from None
    values: dict[str, str | None] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        if isinstance(value, ast.Constant) and (
            value.value is None or isinstance(value.value, str)
        ):
            values[target.id] = value.value
        elif target.id in BUILD_NAMES:
            raise VersionPyError(
                f"{path} computes {target.id} (line {node.lineno}) instead of stating it, so it "
                "cannot be read without running it"
            )
    return values
