"""The matrix language, second edition (SPEC section 7): templates and filters, environment
facts, extras-add, all-extras, any-of versions, unless lists, the torch pin as a specifier and
gpu-vendor. Each case runs the real ``torchpins resolve --json`` (or a real build) and asserts what
it prints."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import (
    ROOT,
    Venv,
    canonical_set,
    clean_env,
    only,
    parse_metadata,
    pip_wheel,
    requirements,
    wheel_metadata_text,
    wheel_record,
)
from torchpins.cli import main

HEAD = '[project]\nname = "attn-kit"\nversion = "2.8.4"\ndynamic = ["dependencies", "optional-dependencies"]\n\n'  # noqa: E501


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    saved = dict(os.environ)
    try:
        for key in [k for k in os.environ if k.startswith(("TORCHPINS_", "KIT_", "FLASH_"))]:
            del os.environ[key]
        os.environ.update(env or {})
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return code, out.getvalue(), err.getvalue()


def project(tmp_path: Path, body: str, head: str = HEAD) -> Path:
    directory = tmp_path / "p"
    directory.mkdir(exist_ok=True)
    (directory / "pyproject.toml").write_text(head + textwrap.dedent(body), encoding="utf-8")
    return directory


def resolved(directory: Path, *sets: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    arguments = [a for s in sets for a in ("--set", s)]
    code, out, err = cli("resolve", "--json", str(directory), *arguments, env=env)
    assert code == 0, err
    record: dict[str, Any] = json.loads(out)
    return record


def error_of(directory: Path, *sets: str, env: dict[str, str] | None = None) -> str:
    arguments = [a for s in sets for a in ("--set", s)]
    code, _, err = cli("resolve", str(directory), *arguments, env=env)
    assert code == 1, err
    assert err.startswith("torchpins: error: ")
    assert len(err.strip().splitlines()) == 1, err
    return err


# --------------------------------------------------------------------------------------------
# Templates and filters

TEMPLATE_CASES = [
    # (an add item, the --set facts, the requirement it must fill in)
    ("torchvision==0.{torch|part(2)|add(15)}.*", ["torch=2.8.1"], "torchvision==0.23.*"),
    ("cupy-cuda{cuda|major}x", ["torch=2.8.0+cu128"], "cupy-cuda12x"),
    ("k-cu{cuda|nodot}", ["torch=2.8.0+cu128"], "k-cu128"),
    ("k=={torch|minor}.*", ["torch=2.8.1"], "k==2.8.*"),
    ("k>={torch|release}", ["torch=2.6.0a0+ecf3bae40a.nv25.01"], "k>=2.6.0"),
    ("k>={torch}", ["torch=2.6.0a0+ecf3bae40a.nv25.01"], "k>=2.6.0a0"),
    ("k=={glibc|public}", ["torch=2.8.0", "glibc=2.35"], "k==2.35"),
    ("k{torch|part(5)}", ["torch=2.8.1"], "k0"),  # 0 past the end
    ("k-{accelerator|upper}", ["torch=2.8.0+cu128"], "k-CUDA"),
    ("k-{platform|upper|lower}", ["torch=2.8.0", "platform=linux"], "k-linux"),
    ("k-{cxx11abi}", ["torch=2.8.0", "cxx11abi=0"], "k-false"),
    ("k=={version}", ["torch=2.8.0"], "k==2.8.4"),
    ("{name}-plugin", ["torch=2.8.0"], "attn-kit-plugin"),
    ("k; python_version >= '{python|minor}'", ["torch=2.8.0", "python=3.12.4"],
     'k; python_version >= "3.12"'),
]  # fmt: skip


@pytest.mark.parametrize(("item", "sets", "expected"), TEMPLATE_CASES)
def test_templates_fill_in_requirements(
    tmp_path: Path, item: str, sets: list[str], expected: str
) -> None:
    directory = project(
        tmp_path,
        f"""
        [tool.torchpins]
        dependencies = ["einops"]
        [tool.torchpins.torch]
        pin = "none"
        [[tool.torchpins.matrix]]
        add = [{json.dumps(item)}]
        """,
    )
    assert expected in resolved(directory, *sets)["requires_dist"]


def test_the_spec_prebuilt_wheel_url(tmp_path: Path) -> None:
    url = (
        "flash-attn @ https://example.org/v2.8.4/flash_attn-2.8.4+cu{cuda|major}torch"
        "{torch|minor}cxx11abi{cxx11abi|upper}-cp{python|minor|nodot}-cp{python|minor|nodot}"
        "-linux_{machine}.whl"
    )
    directory = project(tmp_path, f"[tool.torchpins]\ndependencies = [{json.dumps(url)}]\n")
    record = resolved(
        directory, "torch=2.8.0+cu128", "cxx11abi=1", "python=3.12.3", "machine=x86_64"
    )
    assert (
        "flash-attn @ https://example.org/v2.8.4/flash_attn-2.8.4+cu12torch2.8cxx11abiTRUE-"
        "cp312-cp312-linux_x86_64.whl" in record["requires_dist"]
    ), record["requires_dist"]
    # a lazy fact named only in a template is probed (here: stated) and recorded
    assert record["facts"]["cxx11abi"] is True


def test_templates_in_remove_pins_keys_values_and_error(tmp_path: Path) -> None:
    directory = project(
        tmp_path,
        """
        [tool.torchpins]
        dependencies = ["nvidia-nccl-cu12", "nvidia-nccl-cu11", "kit-cu12", "kit-cu11"]
        unmatched = "ignore"
        [[tool.torchpins.matrix]]
        when = { accelerator = "cuda" }
        remove = ["nvidia-nccl-cu{cuda|major}"]
        pins = { "kit-cu{cuda|major}" = "=={torch|minor}.*" }
        [[tool.torchpins.matrix]]
        when = { torch = "<2.5" }
        error = "torch {torch} is too old for {{attn-kit}}"
        """,
    )
    lines = resolved(directory, "torch=2.8.0+cu128")["requires_dist"]
    assert "nvidia-nccl-cu12" not in lines
    assert "nvidia-nccl-cu11" in lines
    assert "kit-cu12==2.8.*" in lines
    assert "kit-cu11" in lines
    assert "torch 2.4.1 is too old for {attn-kit}" in error_of(directory, "torch=2.4.1")


BAD_TEMPLATES = [
    ("k-{cudaa}", "tool.torchpins.matrix[0].add[0]: {cudaa} names no fact (did you mean 'cuda'?)"),
    ("k-{cuda|minr}", "uses the filter 'minr' (did you mean 'minor'?)"),
    ("k-{cuda|add(1)}", "{cuda|add(1)}: add takes an integer, but {cuda} is a version (use "
     "part(N) or major first)"),
    ("k-{platform|major}", "major takes a version, but {platform} is text"),
    ("k-{gpu-arch}", "gpu-arch is a list, which a template cannot hold"),
    ("k-{cuda", "has an unmatched brace '{'"),
    ("k-{cuda|part}", "write the filter as part(N)"),
    ("k-{cuda|part(0)}", "part(N) counts from 1"),
]  # fmt: skip


@pytest.mark.parametrize(("item", "words"), BAD_TEMPLATES)
def test_bad_templates_are_refused_when_the_project_loads(
    tmp_path: Path, item: str, words: str
) -> None:
    directory = project(
        tmp_path,
        f'[tool.torchpins]\ndependencies = ["a"]\n[[tool.torchpins.matrix]]\nadd = [{json.dumps(item)}]\n',  # noqa: E501
    )
    code, _, err = cli("check", str(directory))
    assert code == 1
    assert words in err + cli("resolve", str(directory), "--set", "torch=2.8.0")[2]


def test_a_first_edition_error_message_with_braces_is_told_to_double_them(tmp_path: Path) -> None:
    directory = project(
        tmp_path,
        """
        [tool.torchpins]
        dependencies = ["a"]
        [[tool.torchpins.matrix]]
        when = { torch = "<2.5" }
        error = "see {docs} for the supported versions"
        """,
    )
    err = error_of(directory, "torch=2.8.0")
    assert "tool.torchpins.matrix[0].error: {docs} names no fact" in err
    assert "a literal brace is written {{ or }}" in err


def test_an_absent_fact_and_an_invalid_filled_in_requirement_are_build_errors(
    tmp_path: Path,
) -> None:
    directory = project(
        tmp_path,
        """
        [tool.torchpins]
        dependencies = ["a"]
        [[tool.torchpins.matrix]]
        when = { torch = ">=2" }
        add = ["cupy-cuda{cuda|major}x", "k {torch-local}"]
        """,
    )
    err = error_of(directory, "torch=2.8.0+cpu")
    assert "tool.torchpins.matrix[0].add[0] uses {cuda|major}, but cuda is absent" in err
    err = error_of(directory, "torch=2.8.0+cu128")
    assert "tool.torchpins.matrix[0].add[1]: 'k cu128' is not a valid requirement" in err
    assert "filled in from 'k {torch-local}'" in err


def test_version_of_a_dynamic_version_comes_from_setuptools(tmp_path: Path) -> None:
    head = (
        '[project]\nname = "attn-kit"\ndynamic = ["version", "dependencies"]\n\n'
        '[tool.setuptools.dynamic]\nversion = { attr = "attn_kit.__version__" }\n\n'
    )
    directory = project(
        tmp_path,
        '[tool.torchpins]\ndependencies = ["transformer-engine-cu12=={version}"]\n',
        head=head,
    )
    package = directory / "attn_kit"
    package.mkdir()
    (package / "__init__.py").write_text('__version__ = "1.11.0"\n')
    lines = resolved(directory, "torch=2.8.0")["requires_dist"]
    assert "transformer-engine-cu12==1.11.0" in lines


def test_torch_pin_as_a_specifier_template(tmp_path: Path) -> None:
    directory = project(
        tmp_path,
        """
        [tool.torchpins]
        dependencies = ["a"]
        [tool.torchpins.torch]
        pin = ">={torch}"
        """,
    )
    lines = resolved(directory, "torch=2.6.0a0+ecf3bae40a.nv25.01")["requires_dist"]
    assert "torch>=2.6.0a0" in lines
    bad = project(
        tmp_path, '[tool.torchpins]\ndependencies = ["a"]\n[tool.torchpins.torch]\npin = "minnor"\n'
    )
    assert "tool.torchpins.torch.pin: 'minnor' is not one of" in error_of(bad, "torch=2.8.0")


# --------------------------------------------------------------------------------------------
# Environment facts

ENV = """
[tool.torchpins]
dependencies = ["deepspeed-kernels"]

[tool.torchpins.env]
ds-accelerator = "DS_ACCELERATOR"
triton-amd = { variable = "FLASH_ATTENTION_TRITON_AMD_ENABLE", kind = "boolean" }
trt = { variable = "TENSORRT_VERSION", kind = "version" }
target = { variable = "KIT_TARGET_DEVICE", default = "cuda" }

[[tool.torchpins.matrix]]
when = { ds-accelerator = "npu" }
add = ["torch-npu"]

[[tool.torchpins.matrix]]
when = { triton-amd = true }
add = ["triton-amd-kernels"]

[[tool.torchpins.matrix]]
when = { trt = ">=10" }
add = ["tensorrt-cu12=={trt}"]

[[tool.torchpins.matrix]]
when = { target = "rocm" }
add = ["amdsmi"]
"""

ENV_CASES = [
    ({"DS_ACCELERATOR": "npu"}, [], "torch-npu", {"ds-accelerator": "environment"}),
    ({"FLASH_ATTENTION_TRITON_AMD_ENABLE": "TRUE"}, [], "triton-amd-kernels", {}),
    ({"FLASH_ATTENTION_TRITON_AMD_ENABLE": "off"}, [], None, {"triton-amd": "environment"}),
    ({"TENSORRT_VERSION": "10.3.0"}, [], "tensorrt-cu12==10.3.0", {}),
    ({"KIT_TARGET_DEVICE": "rocm"}, [], "amdsmi", {}),
    ({}, [], None, {"target": "environment"}),  # unset: the default, cuda
    ({"KIT_TARGET_DEVICE": ""}, [], None, {}),  # empty is unset: the default
    ({"DS_ACCELERATOR": "cuda", "TORCHPINS_DS_ACCELERATOR": "npu"}, [], "torch-npu",
     {"ds-accelerator": "override"}),
    ({"TORCHPINS_DS_ACCELERATOR": "cuda"}, ["ds-accelerator=npu"], "torch-npu", {}),
]  # fmt: skip


@pytest.mark.parametrize(("env", "sets", "expected", "sources"), ENV_CASES)
def test_environment_facts(
    tmp_path: Path,
    env: dict[str, str],
    sets: list[str],
    expected: str | None,
    sources: dict[str, str],
) -> None:
    directory = project(tmp_path, ENV)
    record = resolved(directory, "torch=2.8.0", *sets, env=env)
    added = set(record["requires_dist"]) - {"deepspeed-kernels", "torch==2.8.*"}
    assert added == ({expected} if expected else set()), record["requires_dist"]
    for fact, source in sources.items():
        assert record["sources"][fact] == source
    assert record["facts"]["target"] == env.get("KIT_TARGET_DEVICE") or "cuda"


ENV_ERRORS = [
    ({"FLASH_ATTENTION_TRITON_AMD_ENABLE": "maybe"}, "FLASH_ATTENTION_TRITON_AMD_ENABLE: 'maybe' "
     "is not a boolean"),
    ({"TENSORRT_VERSION": "ten"}, "TENSORRT_VERSION: 'ten' is not a valid version"),
    ({"TORCHPINS_DS_ACCELERATOR": "a\nb"}, "TORCHPINS_DS_ACCELERATOR: the value 'a\\nb' holds a "
     "control character"),
]  # fmt: skip


@pytest.mark.parametrize(("env", "words"), ENV_ERRORS)
def test_environment_fact_errors_name_the_variable(
    tmp_path: Path, env: dict[str, str], words: str
) -> None:
    assert words in error_of(project(tmp_path, ENV), "torch=2.8.0", env=env)


BAD_ENV_TABLES = [
    ('cuda = "X"', "tool.torchpins.env.cuda: the fact name 'cuda' is a built-in fact"),
    ('version = "X"', "the fact name 'version' is the project's own"),
    ('DS = "X"', "must be lower-case letters, digits and '-'"),
    ('ds = { variable = "DS", kind = "number" }', "tool.torchpins.env.ds.kind: 'number' is not "
     "one of 'string', 'boolean', 'version'"),
    ('ds = { variable = "DS", kind = "boolean", default = "maybe" }', "tool.torchpins.env.ds."
     "default: 'maybe' is not a boolean"),
    ('ds = { variable = "DS", defualt = "x" }', "tool.torchpins.env.ds.defualt: unknown key "
     "(did you mean 'default'?)"),
    ('ds = { kind = "string" }', "tool.torchpins.env.ds.variable is missing"),
    ('ds = "TORCHPINS_DS"', "is torchpins' own override of a fact"),
    ('ds = "NOT A NAME"', "is not an environment variable name"),
]  # fmt: skip


@pytest.mark.parametrize(("line", "words"), BAD_ENV_TABLES)
def test_bad_environment_tables_are_refused(tmp_path: Path, line: str, words: str) -> None:
    directory = project(
        tmp_path, f'[tool.torchpins]\ndependencies = ["a"]\n[tool.torchpins.env]\n{line}\n'
    )
    assert words in error_of(directory, "torch=2.8.0")


# --------------------------------------------------------------------------------------------
# More actions and conditions


def test_extras_add_and_all_extras(tmp_path: Path) -> None:
    directory = project(
        tmp_path,
        """
        [tool.torchpins]
        dependencies = ["a"]
        all-extras = "all"
        [tool.torchpins.optional-dependencies]
        vllm = ["vllm>=0.10"]
        dev = ["pytest", "vllm>=0.10"]
        [[tool.torchpins.matrix]]
        when = { accelerator = "cuda" }
        extras-add = { vllm = ["flashinfer"], cuda = ["cupy-cuda{cuda|major}x"] }
        [[tool.torchpins.matrix]]
        when = { accelerator = "cuda" }
        drop-extras = ["dev"]
        """,
    )
    record = resolved(directory, "torch=2.8.0+cu128")
    assert record["provides_extra"] == ["vllm", "cuda", "all"]
    lines = record["requires_dist"]
    assert 'flashinfer; extra == "vllm"' in lines
    assert 'cupy-cuda12x; extra == "cuda"' in lines
    alls = [line for line in lines if line.endswith('extra == "all"')]
    assert alls == [
        'vllm>=0.10; extra == "all"',
        'flashinfer; extra == "all"',
        'cupy-cuda12x; extra == "all"',
    ]
    cpu = resolved(directory, "torch=2.8.0+cpu")
    assert cpu["provides_extra"] == ["vllm", "dev", "all"]
    assert [line for line in cpu["requires_dist"] if line.endswith('extra == "all"')] == [
        'vllm>=0.10; extra == "all"',
        'pytest; extra == "all"',
    ]


@pytest.mark.parametrize(
    ("clash", "where"),
    [
        (
            '[tool.torchpins.optional-dependencies]\nall = ["x"]\n',
            "tool.torchpins.optional-dependencies",
        ),
        (
            '[[tool.torchpins.matrix]]\nextras-add = { all = ["x"] }\n',
            "tool.torchpins.matrix[0].extras-add",
        ),
    ],
)
def test_all_extras_clashing_with_a_written_extra_is_refused(
    tmp_path: Path, clash: str, where: str
) -> None:
    directory = project(
        tmp_path, f'[tool.torchpins]\ndependencies = ["a"]\nall-extras = "all"\n{clash}'
    )
    err = error_of(directory, "torch=2.8.0")
    assert "tool.torchpins.all-extras: 'all' is written by torchpins after the rows" in err
    assert f"but {where} writes it too" in err


def test_any_of_versions_and_unless_lists(tmp_path: Path) -> None:
    directory = project(
        tmp_path,
        """
        [tool.torchpins]
        dependencies = ["a"]
        unmatched = "ignore"
        [tool.torchpins.env]
        target = { variable = "KIT_TARGET_DEVICE", default = "cuda" }
        disable-turbomind = { variable = "DISABLE_TURBOMIND", kind = "boolean" }
        [[tool.torchpins.matrix]]
        when = { torch = ["==2.7.0", "==2.8.0"] }
        unless = [{ target = "rocm" }, { disable-turbomind = true }]
        add = ["turbomind"]
        """,
    )
    assert "turbomind" in resolved(directory, "torch=2.8.0")["requires_dist"]
    assert "turbomind" in resolved(directory, "torch=2.7.0")["requires_dist"]
    assert "turbomind" not in resolved(directory, "torch=2.7.1")["requires_dist"]
    assert "turbomind" not in resolved(directory, "torch=2.8.0", "target=rocm")["requires_dist"]
    assert (
        "turbomind"
        not in resolved(directory, "torch=2.8.0", "disable-turbomind=1")["requires_dist"]
    )


# --------------------------------------------------------------------------------------------
# gpu-vendor


def pci_tree(root: Path, devices: list[tuple[str, str]]) -> Path:
    root.mkdir(parents=True)
    for index, (vendor, pci_class) in enumerate(devices):
        folder = root / f"0000:0{index}:00.0"
        folder.mkdir(parents=True)
        (folder / "vendor").write_text(vendor + "\n")
        (folder / "class").write_text(pci_class + "\n")
    return root


@pytest.mark.parametrize(
    ("devices", "expected"),
    [
        ([("0x10de", "0x030200"), ("0x8086", "0x060000")], ("nvidia",)),  # a bridge is no GPU
        ([("0x1002", "0x038000"), ("0x1002", "0x030000")], ("amd",)),
        ([("0x19e5", "0x120000"), ("0x10de", "0x030000")], ("ascend", "nvidia")),
        ([("0x8086", "0x020000")], ()),  # a network card
        ([], ()),
    ],
)
def test_gpu_vendor_from_pci_devices(
    tmp_path: Path, devices: list[tuple[str, str]], expected: tuple[str, ...]
) -> None:
    from torchpins.hardware import probe_gpu_vendor

    reading = probe_gpu_vendor({}, str(pci_tree(tmp_path / "pci", devices)))
    assert reading.value == expected
    assert str(tmp_path / "pci") in reading.detail


def test_gpu_vendor_is_unknown_without_sysfs(tmp_path: Path) -> None:
    from torchpins.hardware import probe_gpu_vendor

    reading = probe_gpu_vendor({}, str(tmp_path / "missing"))
    assert reading.value is None
    assert "set TORCHPINS_GPU_VENDOR" in reading.detail


def test_gpu_vendor_conditions_and_overrides(tmp_path: Path) -> None:
    directory = project(
        tmp_path,
        """
        [tool.torchpins]
        dependencies = ["a"]
        [[tool.torchpins.matrix]]
        when = { gpu-vendor = ["amd", "ascend"], accelerator = "cpu" }
        add = ["vendor-plugin"]
        """,
    )
    lines = resolved(directory, "torch=2.8.0+cpu", "gpu-vendor=nvidia,ascend")["requires_dist"]
    assert "vendor-plugin" in lines
    lines = resolved(directory, "torch=2.8.0+cpu", "gpu-vendor=nvidia")["requires_dist"]
    assert "vendor-plugin" not in lines
    lines = resolved(directory, "torch=2.8.0+cpu", "gpu-vendor=")["requires_dist"]
    assert "vendor-plugin" not in lines
    err = error_of(directory, "torch=2.8.0+cpu", "gpu-vendor=nvidai")
    assert "'nvidai' is not one of nvidia, amd, intel, ascend (did you mean 'nvidia'?)" in err
    bad = project(
        tmp_path,
        '[tool.torchpins]\ndependencies = ["a"]\n[[tool.torchpins.matrix]]\n'
        'when = { gpu-vendor = "nvidai" }\nadd = ["b"]\n',
    )
    assert "tool.torchpins.matrix[0].when.gpu-vendor: 'nvidai' is not one of" in error_of(
        bad, "torch=2.8.0"
    )


# --------------------------------------------------------------------------------------------
# The example: a CUDA-extension project's dependency logic, built for real

EXAMPLE = ROOT / "examples" / "attention-kernels"

BUILDS = [
    # (TORCHPINS_TORCH, more variables, requirements the wheel must carry)
    ("2.8.0+cu128", {"TORCHPINS_CXX11ABI": "1", "TORCHPINS_PYTHON": "3.12.3"},
     {"torch==2.8.*", "torchvision==0.23.*", "nvidia-cutlass-dsl>=4.1; extra == \"cute\""}),
    ("2.7.1+cu126", {"TORCHPINS_CXX11ABI": "0", "TORCHPINS_PYTHON": "3.11.9"},
     {"torch==2.7.*", "torchvision==0.22.*"}),
    ("2.8.0+rocm6.3", {"TORCHPINS_CXX11ABI": "1", "KERNELS_TRITON_AMD": "1"},
     {"torch==2.8.*", "torchvision==0.23.*", "triton==3.4.*"}),
    ("2.8.0+cpu", {}, {"torch==2.8.*", "torchvision==0.23.*"}),
]  # fmt: skip


@pytest.mark.parametrize(("torch", "variables", "expected"), BUILDS)
def test_the_attention_kernels_example_builds_with_its_formulas(
    venv: Venv, tmp_path: Path, torch: str, variables: dict[str, str], expected: set[str]
) -> None:
    import shutil

    source = tmp_path / "attention-kernels"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    env = clean_env(TORCHPINS_TORCH=torch, **variables)
    result = pip_wheel(venv, source, tmp_path / "out", env)
    assert result.returncode == 0, result.stderr
    wheel = only(tmp_path / "out", "*.whl")
    metadata = parse_metadata(wheel_metadata_text(wheel))
    assert canonical_set(expected) <= requirements(metadata)
    record = wheel_record(wheel)
    # The wheel says what the same facts resolve to, and the CLI agrees line for line.
    sets = [f"torch={torch}"] + [
        f"{name[len('TORCHPINS_') :].lower()}={value}"
        for name, value in variables.items()
        if name.startswith("TORCHPINS_")
    ]
    other = {k: v for k, v in variables.items() if not k.startswith("TORCHPINS_")}
    cli_record = resolved(EXAMPLE, *sets, env=other)
    assert canonical_set(cli_record["requires_dist"]) == requirements(metadata)
    assert record["requires_dist"] == cli_record["requires_dist"]
    if torch.endswith("cu128"):
        urls = [r for r in record["requires_dist"] if "flash_attn" in r and "prebuilt" in r]
        assert canonical_set(urls) == canonical_set(
            [
                "flash-attn @ https://github.com/Dao-AILab/flash-attention/releases/download/"
                "v2.8.3/flash_attn-2.8.3+cu12torch2.8cxx11abiTRUE-cp312-cp312-linux_x86_64.whl ; "
                "(platform_machine == 'x86_64' and sys_platform == 'linux') and extra == 'prebuilt'"
            ]
        ), urls
    # The URL names the builder's Python, which cannot become a marker: the wheel is tagged
    # for it (the platform is a marker, so the wheel stays platform-independent).
    python = variables.get("TORCHPINS_PYTHON", ".".join(map(str, sys.version_info[:2])))
    tag = "cp" + "".join(python.split(".")[:2])
    assert wheel.name.endswith(f"-{tag}-none-any.whl"), wheel.name
    assert record["facts"]["python"].startswith(python)
    assert "python" in record["decided"]
    assert "platform" not in record["facts"]
    assert record["markers"] == ["platform"]
