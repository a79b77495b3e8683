"""The pure fact layer: which facts there are, what a fact value is, where it came from, and every
rule about a torch version and its build label (:class:`TorchBuild`).

Nothing here reads the machine (that is :mod:`torchpins.probe`) or the project (that is
:mod:`torchpins.settings`). A fact value is a version string (packaging's normal form), a plain
string, a boolean, a tuple of version strings (``gpu-arch``) or ``None`` for "absent". Versions stay
strings so that the build record can hold them as they are; conditions parse them when they
compare.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from packaging.version import InvalidVersion, Version

from torchpins.errors import OverrideError, did_you_mean, has_control_characters, shorten

FactValue = str | bool | tuple[str, ...] | None
SourceKind = Literal["probed", "override", "assumed", "environment"]


class Kind(str, enum.Enum):
    """The kinds of fact."""

    VERSION = "version"
    STRING = "string"
    BOOLEAN = "boolean"
    VERSION_LIST = "list of versions"
    STRING_LIST = "list of strings"


@dataclass(frozen=True)
class FactSpec:
    name: str
    kind: Kind
    #: Lazy facts are probed only when a row needs them (they may be slow or need hardware).
    lazy: bool
    help: str
    #: For string facts with a closed set of values.
    choices: tuple[str, ...] = ()


FACTS: dict[str, FactSpec] = {
    spec.name: spec
    for spec in (
        FactSpec("torch", Kind.VERSION, False, "installed torch version (public part)"),
        FactSpec("torch-local", Kind.STRING, False, "local label of torch: cu128, cpu, rocm6.3"),
        FactSpec("cuda", Kind.VERSION, False, "CUDA version torch was built with"),
        FactSpec("rocm", Kind.VERSION, False, "HIP/ROCm version torch was built with"),
        FactSpec(
            "accelerator",
            Kind.STRING,
            False,
            "accelerator torch was built for",
            ("cuda", "rocm", "xpu", "cpu"),
        ),
        FactSpec("python", Kind.VERSION, False, "running interpreter version"),
        FactSpec("platform", Kind.STRING, False, "sys.platform (linux, darwin, win32)"),
        FactSpec("machine", Kind.STRING, False, "platform.machine() (x86_64, aarch64, arm64)"),
        FactSpec("glibc", Kind.VERSION, False, "C library version on glibc systems"),
        FactSpec("cxx11abi", Kind.BOOLEAN, True, "torch's C++11 ABI flag"),
        FactSpec("nvcc", Kind.VERSION, True, "CUDA toolkit compiler version"),
        FactSpec("cuda-driver", Kind.VERSION, True, "highest CUDA version the driver supports"),
        FactSpec("gpu-arch", Kind.VERSION_LIST, True, "compute capabilities of visible GPUs"),
        FactSpec(
            "gpu-vendor",
            Kind.STRING_LIST,
            True,
            "vendors of the accelerators this machine has",
            ("nvidia", "amd", "intel", "ascend"),
        ),
    )
}

#: Spellings people reach for that a fact never has, and the value they mean.
ALIASES: dict[str, dict[str, str]] = {
    "platform": {
        "macos": "darwin", "mac": "darwin", "osx": "darwin", "macosx": "darwin",
        "windows": "win32", "win": "win32", "win64": "win32",
        "Linux": "linux", "Darwin": "darwin", "Windows": "win32",
    },
    "accelerator": {
        "gpu": "cuda", "nvidia": "cuda", "cu": "cuda", "amd": "rocm", "hip": "rocm",
        "intel": "xpu", "none": "cpu",
    },
}  # fmt: skip


def misspelt(fact: str, value: str) -> str | None:
    """The message for a value ``fact`` never has but people write (``platform = "macos"``),
    or None."""
    meant = ALIASES.get(fact, {}).get(value)
    if meant is None:
        return None
    source = {"platform": "sys.platform"}.get(fact, fact)
    return f"{shorten(value)} is never a value of {source} (did you mean {meant!r}?)"


CORE_FACTS: tuple[str, ...] = tuple(name for name, spec in FACTS.items() if not spec.lazy)
LAZY_FACTS: tuple[str, ...] = tuple(name for name, spec in FACTS.items() if spec.lazy)
#: The facts that describe the torch build; they follow the torch they came with.
TORCH_FACTS: tuple[str, ...] = ("torch", "torch-local", "cuda", "rocm", "accelerator")
#: The build facts alone, which a torch's label implies.
BUILD_FACTS: tuple[str, ...] = TORCH_FACTS[1:]


#: No real version is longer; a longer text is refused before packaging parses it (a release
#: number of thousands of digits is beyond Python's int conversion limit).
LONGEST_VERSION = 200


def parse_version(text: str) -> Version:
    """``packaging.version.Version(text)``, but :class:`InvalidVersion` for any text packaging
    cannot turn into a version (too long, or numbers too large for ``int``)."""
    if len(text) > LONGEST_VERSION:
        raise InvalidVersion(f"longer than {LONGEST_VERSION} characters")
    try:
        return Version(text)
    except InvalidVersion:
        raise
    except ValueError as error:
        raise InvalidVersion(str(error)) from None


def env_var(fact: str) -> str:
    """``cuda-driver`` -> ``TORCHPINS_CUDA_DRIVER``."""
    return "TORCHPINS_" + fact.upper().replace("-", "_")


def format_value(value: FactValue) -> str:
    """A fact value as ``torchpins probe`` shows it."""
    if value is None:
        return "(absent)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value) if value else "(none)"
    return value


# --------------------------------------------------------------------------------------------
# Where a fact came from


@dataclass(frozen=True)
class Source:
    kind: SourceKind
    #: Human detail: the file probed, the variable read, or why the fact is absent.
    detail: str
    #: Set when the fact could not be determined (a broken torch install): the message, with
    #: the fix, that stops a build whose matrix needs this fact.
    problem: str | None = None


@dataclass(frozen=True)
class TorchHint:
    """Why a build sees no torch: a sentence, and the torch it cannot see, when one was found."""

    sentence: str
    hidden_version: str | None = None
    #: Whether the build is known to run in an isolated environment.
    isolated: bool = True


@dataclass(frozen=True)
class Facts:
    values: Mapping[str, FactValue]
    sources: Mapping[str, Source]
    #: Things worth saying that do not stop a build (a shadowed torch, a hung nvidia-smi).
    warnings: tuple[str, ...] = ()
    #: When no torch was found: what the isolated build environment hides, if that can be told.
    torch_hint: TorchHint | None = None

    @classmethod
    def given(cls, values: Mapping[str, FactValue], detail: str) -> Facts:
        """Facts stated rather than probed (a representative environment, a CI job)."""
        return cls(dict(values), dict.fromkeys(values, Source("override", detail)))

    def with_values(self, updates: Mapping[str, tuple[FactValue, Source]]) -> Facts:
        values = dict(self.values)
        sources = dict(self.sources)
        for name, (value, source) in updates.items():
            values[name] = value
            sources[name] = source
        return replace(self, values=values, sources=sources)


# --------------------------------------------------------------------------------------------
# torch versions and build labels: every rule in one place

#: The labels torch's own indexes use: cpu, xpu, cuXYZ, rocmX.Y.
_BUILD_LABEL = re.compile(r"cpu|xpu|cu(\d+)(\d)|rocm(\d+(?:\.\d+)*)")


@dataclass(frozen=True)
class TorchBuild:
    """A torch version with its local label (``2.8.0+cu128``, ``2.5.0a0+872d972e41.nv24.08``)
    and what the label says about its build."""

    version: Version

    @classmethod
    def parse(cls, text: str) -> TorchBuild:
        """:class:`packaging.version.InvalidVersion` when ``text`` is not a version."""
        return cls(parse_version(text))

    @classmethod
    def from_facts(cls, values: Mapping[str, FactValue]) -> TorchBuild | None:
        """The torch of a set of facts (``torch`` and ``torch-local``), or None for no torch."""
        torch = values.get("torch")
        if not isinstance(torch, str):
            return None
        label = values.get("torch-local")
        return cls.parse(f"{torch}+{label}" if isinstance(label, str) and label else torch)

    @property
    def public(self) -> str:
        """``2.8.0`` of ``2.8.0+cu128`` (epoch and pre-release kept)."""
        return self.version.public

    @property
    def label(self) -> str | None:
        return self.version.local

    @property
    def text(self) -> str:
        return str(self.version)

    @property
    def minor(self) -> str:
        """``2.8`` (``1!2.8`` for an epoch torch): what a minor pin matches."""
        epoch = f"{self.version.epoch}!" if self.version.epoch else ""
        return f"{epoch}{self.version.major}.{self.version.minor}"

    def build_facts(self) -> dict[str, FactValue]:
        """What the label implies: ``cu128`` -> CUDA 12.8, ``rocm6.3`` -> ROCm 6.3, ``cpu`` ->
        CPU. Unknown labels (NGC's ``872d972e41.nv24.08``) imply nothing."""
        return {"torch-local": self.label, **label_build(self.label)}

    def facts(self) -> dict[str, FactValue]:
        return {"torch": self.public, **self.build_facts()}


def label_build(label: str | None) -> dict[str, FactValue]:
    """``cuda``, ``rocm`` and ``accelerator`` as a local label implies them (all None when the
    label says nothing)."""
    facts: dict[str, FactValue] = {"cuda": None, "rocm": None, "accelerator": None}
    match = _BUILD_LABEL.fullmatch(label or "")
    if match is None:
        return facts
    if match.group(1) is not None:
        facts["cuda"] = f"{int(match.group(1))}.{match.group(2)}"
        facts["accelerator"] = "cuda"
    elif match.group(3) is not None:
        facts["rocm"] = match.group(3)
        facts["accelerator"] = "rocm"
    else:
        facts["accelerator"] = label
    return facts


def is_build_label(label: str) -> bool:
    """A label torch's own indexes use: cpu, xpu, cuXYZ, rocmX.Y."""
    return _BUILD_LABEL.fullmatch(label) is not None


def build_label(accelerator: str, version: str | None = None) -> str:
    """The label of a build: ``("cuda", "12.8")`` -> ``cu128``, ``("rocm", "6.3")`` ->
    ``rocm6.3``, ``("cpu", None)`` -> ``cpu``."""
    if accelerator == "cuda" and version:
        release = Version(version).release
        return f"cu{release[0]}{release[1] if len(release) > 1 else 0}"
    if accelerator == "rocm" and version:
        return f"rocm{version}"
    return accelerator


def torch_text(values: Mapping[str, FactValue]) -> str:
    """``2.8.0+cu128``, or ``(no torch)``."""
    torch = TorchBuild.from_facts(values)
    return torch.text if torch else "(no torch)"


# --------------------------------------------------------------------------------------------
# Fact values from text


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def fact_spec(name: str, where: str, specs: Mapping[str, FactSpec] = FACTS) -> FactSpec:
    """The spec of fact ``name``; an error naming ``where`` when there is no such fact."""
    try:
        return specs[name]
    except KeyError:
        declared = "" if specs is FACTS else " (and those the project declares)"
        raise OverrideError(
            f"{where}: {shorten(name)} is not a fact{did_you_mean(name, specs)}; "
            f"the facts are {', '.join(specs)}{declared}"
        ) from None


def parse_fact_value(
    name: str, raw: str, origin: str, specs: Mapping[str, FactSpec] = FACTS
) -> FactValue:
    """Turn the text of an override into a fact value. ``origin`` names the variable or setting
    the text came from, for the error message. An empty text means "absent"."""
    spec = fact_spec(name, origin, specs)
    if has_control_characters(raw):
        raise OverrideError(
            f"{origin}: the value {shorten(raw)} holds a control character or newline"
        )
    text = raw.strip()
    if not text:
        return None
    if spec.kind == Kind.VERSION:
        return str(_parse_version(text, origin, allow_local=(name == "torch")))
    if spec.kind == Kind.VERSION_LIST:
        items = [item for item in re.split(r"[\s,;]+", text) if item]
        return tuple(str(_parse_version(item, origin, allow_local=False)) for item in items)
    if spec.kind == Kind.STRING_LIST:
        items = [item for item in re.split(r"[\s,;]+", text) if item]
        for item in items:
            if spec.choices and item not in spec.choices:
                raise OverrideError(
                    f"{origin}: {shorten(item)} is not one of {', '.join(spec.choices)}"
                    f"{did_you_mean(item, spec.choices)}"
                )
        return tuple(dict.fromkeys(items))
    if spec.kind == Kind.BOOLEAN:
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise OverrideError(
            f"{origin}: {shorten(raw)} is not a boolean; use 1/0, true/false or yes/no"
        )
    if name == "torch-local":
        try:
            label = parse_version(f"0+{text}").local
        except InvalidVersion:
            label = None
        if label is None:
            raise OverrideError(
                f"{origin}: {shorten(raw)} is not a local version label such as cu128 or cpu"
            )
        return label
    wrong = misspelt(name, text)
    if wrong is not None:
        raise OverrideError(f"{origin}: {wrong}")
    if spec.choices and text not in spec.choices:
        raise OverrideError(
            f"{origin}: {shorten(raw)} is not one of {', '.join(spec.choices)}"
            f"{did_you_mean(text, spec.choices)}"
        )
    return text


def _parse_version(text: str, origin: str, *, allow_local: bool) -> Version:
    try:
        version = parse_version(text)
    except InvalidVersion:
        raise OverrideError(f"{origin}: {shorten(text)} is not a valid version (PEP 440)") from None
    if version.local is not None and not allow_local:
        raise OverrideError(
            f"{origin}: {shorten(text)} has a local label (+...); give the version only"
        )
    return version


# --------------------------------------------------------------------------------------------
# Environment facts: [tool.torchpins.env]


@dataclass(frozen=True)
class EnvFact:
    """A fact a project declares, read at build time from an environment variable."""

    name: str
    variable: str
    kind: Kind = Kind.STRING
    #: The value when the variable is unset or empty (its text, as the variable would hold it).
    default: str | None = None

    @property
    def spec(self) -> FactSpec:
        return FactSpec(self.name, self.kind, False, f"from ${self.variable}")


def registry(declared: Sequence[EnvFact] = ()) -> dict[str, FactSpec]:
    """The built-in facts and a project's environment facts."""
    return {**FACTS, **{fact.name: fact.spec for fact in declared}}


def read_environment(
    declared: Sequence[EnvFact], environ: Mapping[str, str], overrides: Overrides
) -> dict[str, tuple[FactValue, Source]]:
    """The declared environment facts that no override set, from their variables: an unset or
    empty variable gives the default, or absent; a bad value is an error naming the variable."""
    specs = registry(declared)
    found: dict[str, tuple[FactValue, Source]] = {}
    for fact in declared:
        if fact.name in overrides:
            continue
        text = environ.get(fact.variable, "")
        if text.strip():
            value = parse_fact_value(fact.name, text, fact.variable, specs)
            found[fact.name] = (value, Source("environment", fact.variable))
        elif fact.default is not None:
            value = parse_fact_value(fact.name, fact.default, f"the default of {fact.name}", specs)
            found[fact.name] = (value, Source("environment", f"{fact.variable} (unset: default)"))
        else:
            found[fact.name] = (None, Source("environment", f"{fact.variable} is unset"))
    return found


# --------------------------------------------------------------------------------------------
# Overrides: one parser for every place a fact can be set from outside

#: Established override names that mean the same as a torchpins fact (conda's virtual packages);
#: read after TORCHPINS_<FACT>, and only for a fact that is needed.
CONDA_OVERRIDES = {"cuda-driver": "CONDA_OVERRIDE_CUDA", "gpu-arch": "CONDA_OVERRIDE_CUDA_ARCH"}


@dataclass(frozen=True)
class Layer:
    """One place overrides come from: ``fact -> text``, and ``fact -> how to name it`` in a
    message (``-C torchpins.cuda``, ``--set cuda``, ``TORCHPINS_CUDA``)."""

    texts: Mapping[str, str | list[str]]
    names: Mapping[str, str]


@dataclass(frozen=True)
class Overrides:
    """Every fact set from outside, with its source. ``facts`` also holds what a torch set with a
    label implies (``torch-local``, ``cuda``, ``rocm``, ``accelerator``, source ``assumed``)."""

    facts: Mapping[str, tuple[FactValue, Source]] = field(default_factory=dict)

    def __contains__(self, name: object) -> bool:
        return name in self.facts


def layers(
    config_settings: Mapping[str, str | list[str]] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    set_pairs: Sequence[tuple[str, str]] = (),
    setting_origin: str = "-C torchpins.{fact}",
    specs: Mapping[str, FactSpec] = FACTS,
) -> list[Layer]:
    """The override layers in precedence order (SPEC section 4): ``-C torchpins.*`` (or the
    CLI's ``--set``), then ``TORCHPINS_*``. Unknown ``TORCHPINS_*`` variables are errors."""
    result: list[Layer] = []
    settings: dict[str, str | list[str]] = {}
    for key, text in (config_settings or {}).items():
        if key.startswith("torchpins."):
            settings[key[len("torchpins.") :]] = text
    for fact, text in set_pairs:
        if fact in settings:
            raise OverrideError(
                f"{setting_origin.format(fact=fact)} is given more than once; give it once"
            )
        settings[fact] = text
    result.append(Layer(settings, {fact: setting_origin.format(fact=fact) for fact in settings}))
    variables: dict[str, str | list[str]] = {}
    variable_names: dict[str, str] = {}
    for variable, text in (environ or {}).items():
        if not variable.startswith("TORCHPINS_"):
            continue
        fact = variable[len("TORCHPINS_") :].lower().replace("_", "-")
        if fact not in specs:
            names = [env_var(name) for name in specs]
            declared = "" if specs is FACTS else " and those the project declares"
            raise OverrideError(
                f"{shorten(variable, quote=False)} is not a torchpins variable"
                f"{did_you_mean(variable, names)}; the variables are TORCHPINS_<FACT> for the "
                f"facts {', '.join(specs)}{declared}"
            )
        variables[fact] = text
        variable_names[fact] = variable
    result.append(Layer(variables, variable_names))
    return result


def read_overrides(
    config_settings: Mapping[str, str | list[str]] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    set_pairs: Sequence[tuple[str, str]] = (),
    setting_origin: str = "-C torchpins.{fact}",
    needed: Collection[str] = (),
    specs: Mapping[str, FactSpec] = FACTS,
) -> Overrides:
    """Every override, parsed and validated, the first layer that sets a fact winning. conda's
    ``CONDA_OVERRIDE_*`` come last, and only for facts in ``needed``. ``specs`` are the facts
    there are (a project adds its environment facts)."""
    found: dict[str, tuple[FactValue, Source]] = {}
    for layer in layers(
        config_settings, environ, set_pairs=set_pairs, setting_origin=setting_origin, specs=specs
    ):
        for fact, text in layer.texts.items():
            origin = layer.names[fact]
            fact_spec(fact, origin, specs)
            if not isinstance(text, str):
                raise OverrideError(f"{origin} is given more than once; give it once")
            if fact not in found:
                value = parse_fact_value(fact, text, origin, specs)
                found[fact] = (value, Source("override", origin))
    for fact, variable in CONDA_OVERRIDES.items():
        if fact in needed and fact not in found and environ and variable in environ:
            found[fact] = (
                parse_fact_value(fact, environ[variable], variable),
                Source("override", variable),
            )
    if "torch" in found:
        value, source = found["torch"]
        named = named_torch(value if isinstance(value, str) else None, source)
        found = {**named, **found, "torch": named["torch"]}
    return Overrides(found)


def named_torch(version: str | None, source: Source) -> dict[str, tuple[FactValue, Source]]:
    """The torch facts of a torch that is named (by an override, or ``missing``) rather than
    probed: its public version with ``source``, and the build facts its label implies, assumed
    (a torch named without a label, or named empty, implies none)."""
    if version is None:
        why = Source("assumed", f"no torch (from {source.detail})")
        return {"torch": (None, source), **dict.fromkeys(BUILD_FACTS, (None, why))}
    torch = TorchBuild.parse(version)
    why = Source("assumed", f"label of the torch version from {source.detail}")
    return {
        "torch": (torch.public, source),
        **{name: (value, why) for name, value in torch.build_facts().items()},
    }


def cxx11abi_assumed(torch: str | None, platform: FactValue, why: str) -> tuple[FactValue, Source]:
    """``cxx11abi`` for a torch that is named, not installed: Linux wheels of torch 2.7 and newer
    all use the C++11 ABI; for anything else it cannot be known and must be stated."""
    if torch is None:
        return None, Source("assumed", f"no torch ({why})")
    if platform == "linux" and Version(torch) >= Version("2.7.0.dev0"):
        detail = f"Linux builds of torch 2.7 and newer use the C++11 ABI (torch {torch} {why})"
        return True, Source("assumed", detail)
    message = (
        f"the matrix tests cxx11abi, which cannot be known for torch {torch} {why} "
        f"on {platform}; state it with TORCHPINS_CXX11ABI=1 or 0 (or -C torchpins.cxx11abi=...)"
    )
    return None, Source("assumed", message, problem=message)
