"""A real project's historical dependency logic, restated as a torchpins matrix
(tests/projects/axolotl-0.8), reproduced situation by situation by `torchpins resolve --json`.

The expectations below were worked out by hand from axolotl 0.8's setup.py rules, not from
torchpins' output."""

from __future__ import annotations

import json

import pytest

from tests.helpers import PROJECTS, Venv, canonical_set, clean_env

COMMON = {"transformers==4.51.0", "peft==0.15.1", "accelerate==1.6.0", "datasets==3.5.0"}
LINUX_KEEP = {"bitsandbytes==0.45.4", "triton>=3.0.0", "liger-kernel==0.5.5"}
EXTRAS = {
    'flash-attn==2.7.4.post1; extra == "flash-attn"',
    'deepspeed==0.15.4; extra == "deepspeed"',
    'deepspeed-kernels; extra == "deepspeed"',
    'mamba-ssm==1.2.0.post1; extra == "mamba-ssm"',
    'causal_conv1d; extra == "mamba-ssm"',
}
OLD_VLLM = {'vllm==0.7.2; extra == "vllm"'}
NEW_VLLM = {'vllm==0.8.3; extra == "vllm"'}
AWQ = {"autoawq==0.2.7.post3"}

SITUATIONS = [
    pytest.param(
        {"torch": "2.6.0+cu124"},
        COMMON
        | LINUX_KEEP
        | AWQ
        | EXTRAS
        | NEW_VLLM
        | {"torch==2.6.0+cu124", "xformers==0.0.29.post2"},
        id="linux-2.6.0-cu124",
    ),
    pytest.param(
        {"torch": "2.6.0"},
        COMMON | LINUX_KEEP | AWQ | EXTRAS | NEW_VLLM | {"torch==2.6.0", "xformers==0.0.29.post2"},
        id="linux-2.6.0-unlabelled",
    ),
    pytest.param(
        {"torch": "2.7.0+cu126"},
        COMMON
        | LINUX_KEEP
        | AWQ
        | EXTRAS
        | NEW_VLLM
        | {"torch==2.7.0+cu126", "xformers==0.0.29.post2"},
        id="linux-2.7.0",
    ),
    pytest.param(
        {"torch": "2.5.0+cu124"},
        COMMON | LINUX_KEEP | EXTRAS | OLD_VLLM | {"torch==2.5.0+cu124", "xformers==0.0.28.post2"},
        id="linux-2.5.0",
    ),
    pytest.param(
        {"torch": "2.5.1+cu121"},
        COMMON | LINUX_KEEP | EXTRAS | OLD_VLLM | {"torch==2.5.1+cu121", "xformers>=0.0.28.post3"},
        id="linux-2.5.1",
    ),
    pytest.param(
        {"torch": "2.4.0"},
        COMMON | LINUX_KEEP | AWQ | EXTRAS | OLD_VLLM | {"torch==2.4.0", "xformers>=0.0.27"},
        id="linux-2.4.0",
    ),
    pytest.param(
        {"torch": "2.4.1+cu121"},
        COMMON
        | LINUX_KEEP
        | AWQ
        | EXTRAS
        | OLD_VLLM
        | {"torch==2.4.1+cu121", "xformers==0.0.28.post1"},
        id="linux-2.4.1",
    ),
    pytest.param(
        {"torch": ""},
        COMMON | LINUX_KEEP | EXTRAS | OLD_VLLM | {"torch==2.5.1", "xformers>=0.0.28.post3"},
        id="linux-no-torch-assumes-2.5.1",
    ),
    pytest.param(
        {"torch": "2.7.0.dev20250301+cu128"},
        COMMON
        | LINUX_KEEP
        | AWQ
        | EXTRAS
        | NEW_VLLM
        | {"torch==2.7.0.dev20250301+cu128", "xformers==0.0.29.post2"},
        id="linux-nightly",
    ),
    pytest.param(
        {"torch": "2.6.0", "platform": "darwin", "machine": "arm64"},
        COMMON | EXTRAS | OLD_VLLM,
        id="macos-no-torch-pin",
    ),
    pytest.param(
        {"torch": "2.6.0+cu124", "platform": "win32", "machine": "AMD64"},
        COMMON
        | LINUX_KEEP
        | AWQ
        | EXTRAS
        | NEW_VLLM
        | {"torch==2.6.0+cu124", "xformers==0.0.29.post2"},
        id="windows-2.6.0",
    ),
]


@pytest.mark.parametrize(("situation", "expected"), SITUATIONS)
def test_axolotl_0_8_logic(venv: Venv, situation: dict[str, str], expected: set[str]) -> None:
    situation = {"platform": "linux", "machine": "x86_64", **situation}
    args = [arg for fact, value in situation.items() for arg in ("--set", f"{fact}={value}")]
    result = venv.run(
        "-m",
        "torchpins",
        "resolve",
        str(PROJECTS / "axolotl-0.8"),
        *args,
        "--json",
        env=clean_env(),
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert canonical_set(record["requires_dist"]) == canonical_set(expected)
    assert record["provides_extra"] == ["flash-attn", "deepspeed", "mamba-ssm", "vllm"]


def test_axolotl_0_8_refuses_old_torch(venv: Venv) -> None:
    result = venv.run(
        "-m",
        "torchpins",
        "resolve",
        str(PROJECTS / "axolotl-0.8"),
        "--set",
        "torch=2.3.1",
        "--set",
        "platform=linux",
        env=clean_env(),
    )
    assert result.returncode == 1
    assert "axolotl requires torch>=2.4" in result.stderr
