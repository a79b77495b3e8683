"""Every bad input gets one clear message that names the key or variable and the fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import (
    Venv,
    assert_failed_with,
    build_with,
    clean_env,
    copy_project,
    pip_wheel,
)
from torchpins.errors import ConfigError, OverrideError
from torchpins.probe import gather_facts
from torchpins.settings import load_project

#: Run on every Python of the nox matrix (the rest runs on the oldest and newest).
pytestmark = pytest.mark.core

HEAD = """
[project]
name = "demo"
version = "1.0"
dynamic = ["dependencies", "optional-dependencies"]
"""

# (pyproject.toml text, expected fragments of the message)
CONFIG_ERRORS = [
    pytest.param(HEAD, ["has no [tool.torchpins] table"], id="no-table"),
    pytest.param(
        HEAD + "[tool.torchpins]\ndependecies = []",
        ["tool.torchpins.dependecies: unknown key", "did you mean 'dependencies'"],
        id="unknown-top-key",
    ),
    pytest.param(
        HEAD + '[tool.torchpins]\ndependencies = "numpy"',
        ["tool.torchpins.dependencies: expected a list of requirement strings, got a string"],
        id="dependencies-not-list",
    ),
    pytest.param(
        HEAD + '[tool.torchpins]\ndependencies = ["numpy", 3]',
        ["tool.torchpins.dependencies[1]: expected a string, got an integer"],
        id="dependency-not-string",
    ),
    pytest.param(
        HEAD + '[tool.torchpins]\ndependencies = ["numpy >>= 1"]',
        ["tool.torchpins.dependencies[0]: 'numpy >>= 1' is not a valid requirement"],
        id="bad-requirement",
    ),
    pytest.param(
        HEAD + "[tool.torchpins]\ndependencies = [\"numpy; extra == 'x'\"]",
        ["tests 'extra' in its marker", "optional-dependencies"],
        id="extra-marker",
    ),
    pytest.param(
        HEAD + '[tool.torchpins.optional-dependencies]\nvllm = "vllm"',
        ["tool.torchpins.optional-dependencies.vllm: expected a list"],
        id="extra-not-list",
    ),
    pytest.param(
        HEAD + '[tool.torchpins.optional-dependencies]\n"bad extra!" = []',
        ["not a valid project or extra name"],
        id="bad-extra-name",
    ),
    pytest.param(
        HEAD + "[tool.torchpins.optional-dependencies]\nflash_attn = []\nflash-attn = []",
        ["are the same extra (PEP 685)"],
        id="duplicate-extra",
    ),
    pytest.param(
        HEAD + '[tool.torchpins]\nunmatched = "fail"',
        ["tool.torchpins.unmatched: 'fail' is not one of 'error', 'warn', 'ignore'"],
        id="bad-unmatched",
    ),
    pytest.param(
        HEAD + '[tool.torchpins.torch]\npin = "minr"',
        ["tool.torchpins.torch.pin", "did you mean 'minor'"],
        id="bad-pin",
    ),
    pytest.param(
        HEAD + '[tool.torchpins.torch]\nmissing = "eror"',
        ["tool.torchpins.torch.missing", "did you mean 'error'"],
        id="bad-missing",
    ),
    pytest.param(
        HEAD + "[tool.torchpins.torch]\nmissing = 2.8",
        ["tool.torchpins.torch.missing: expected", "got a number"],
        id="missing-not-string",
    ),
    pytest.param(
        HEAD + '[tool.torchpins.torch]\npinn = "minor"',
        ["tool.torchpins.torch.pinn: unknown key", "did you mean 'pin'"],
        id="unknown-torch-key",
    ),
    pytest.param(
        HEAD + '[tool.torchpins.matrix]\nwhen = { torch = ">=2" }',
        ["tool.torchpins.matrix: expected an array of tables", "double brackets"],
        id="matrix-single-table",
    ),
    pytest.param(
        HEAD + '[[tool.torchpins.matrix]]\nwhen = { torch = ">=2" }\npin = { a = "==1" }',
        ["tool.torchpins.matrix[0].pin: unknown key", "did you mean 'pins'"],
        id="unknown-row-key",
    ),
    pytest.param(
        HEAD + '[[tool.torchpins.matrix]]\nwhen = { cudaa = ">=12" }',
        ["tool.torchpins.matrix[0].when.cudaa: 'cudaa' is not a fact", "did you mean 'cuda'"],
        id="unknown-fact",
    ),
    pytest.param(
        HEAD + '[[tool.torchpins.matrix]]\nwhen = { torch = "2.7.1" }',
        [
            "tool.torchpins.matrix[0].when.torch: '2.7.1' is not a valid version specifier",
            "did you mean '==2.7.1'",
        ],
        id="bare-version-condition",
    ),
    pytest.param(
        HEAD + '[[tool.torchpins.matrix]]\nwhen = { torch = "" }',
        ["tool.torchpins.matrix[0].when.torch: the specifier is empty"],
        id="empty-condition",
    ),
    pytest.param(
        HEAD + '[[tool.torchpins.matrix]]\nwhen = { torch = "===2.7.1-custom" }',
        ["when.torch", "arbitrary equality (===)"],
        id="arbitrary-equality-condition",
    ),
    pytest.param(
        HEAD + '[[tool.torchpins.matrix]]\nwhen = { torch = "==2.7.1+cu128" }',
        ["names a local label", "torch-local"],
        id="local-label-condition",
    ),
    pytest.param(
        HEAD + "[[tool.torchpins.matrix]]\nwhen = { torch = 2.7 }",
        ["tool.torchpins.matrix[0].when.torch: expected a version specifier string"],
        id="version-condition-not-string",
    ),
    pytest.param(
        HEAD + '[[tool.torchpins.matrix]]\nwhen = { platform = "macos" }',
        ["never a value of sys.platform", "did you mean 'darwin'"],
        id="platform-alias",
    ),
    pytest.param(
        HEAD + '[[tool.torchpins.matrix]]\nwhen = { accelerator = "amd-gpu" }',
        ["'amd-gpu' is not one of cuda, rocm, xpu, cpu"],
        id="unknown-accelerator",
    ),
    pytest.param(
        HEAD + '[[tool.torchpins.matrix]]\nwhen = { accelerator = "gpu" }',
        ["'gpu' is never a value of accelerator (did you mean 'cuda'?)"],
        id="bad-accelerator",
    ),
    pytest.param(
        HEAD + "[[tool.torchpins.matrix]]\nwhen = { platform = [] }",
        ["expected a string or a non-empty list of strings"],
        id="empty-string-list",
    ),
    pytest.param(
        HEAD + '[[tool.torchpins.matrix]]\nwhen = { cxx11abi = "yes" }',
        ["when.cxx11abi: expected true or false, got a string"],
        id="boolean-condition",
    ),
    pytest.param(
        HEAD + "[[tool.torchpins.matrix]]\nunless = {}",
        ["tool.torchpins.matrix[0].unless is empty"],
        id="empty-unless",
    ),
    pytest.param(
        HEAD + '[[tool.torchpins.matrix]]\nerror = "  "',
        ["tool.torchpins.matrix[0].error: the message is empty"],
        id="empty-error",
    ),
    pytest.param(
        HEAD + '[[tool.torchpins.matrix]]\nerror = "line one\\nline two"',
        ["tool.torchpins.matrix[0].error", "control character or newline"],
        id="newline-in-error",
    ),
    pytest.param(
        HEAD + '[tool.torchpins]\ndependencies = ["xformers"]\n[[tool.torchpins.matrix]]\n'
        'pins = { xformers = "=0.0.31" }',
        [
            "tool.torchpins.matrix[0].pins.xformers: '=0.0.31' is not a valid version "
            "specifier (did you mean '==0.0.31'?)"
        ],
        id="bad-pin-specifier",
    ),
    pytest.param(
        HEAD + '[tool.torchpins]\ndependencies = ["xformers"]\n[[tool.torchpins.matrix]]\n'
        'pins = { xfromers = "==1" }',
        [
            "tool.torchpins.matrix[0].pins.xfromers: 'xfromers' is not declared",
            "did you mean 'xformers'",
        ],
        id="undeclared-pin",
    ),
    pytest.param(
        HEAD + '[tool.torchpins.torch]\npin = "none"\n[[tool.torchpins.matrix]]\n'
        'pins = { torch = "==2.8.*" }',
        ["pins.torch: 'torch' is not declared"],
        id="pin-torch-with-pin-none",
    ),
    pytest.param(
        HEAD + '[[tool.torchpins.matrix]]\nremove = "xformers"',
        ["tool.torchpins.matrix[0].remove: expected a list of names, got a string"],
        id="remove-not-list",
    ),
    pytest.param(
        HEAD + '[[tool.torchpins.matrix]]\nadd = ["ok", "not ok ("]',
        ["tool.torchpins.matrix[0].add[1]: 'not ok (' is not a valid requirement"],
        id="bad-add",
    ),
    pytest.param(
        HEAD + '[[tool.torchpins.matrix]]\nextras = ["vllm"]',
        ["tool.torchpins.matrix[0].extras: expected a table, got a list"],
        id="extras-not-table",
    ),
    pytest.param(
        HEAD + '[[tool.torchpins.matrix]]\ndrop-extras = ["ok", "no good"]',
        ["drop-extras[1]: 'no good' is not a valid project or extra name"],
        id="bad-drop-extras",
    ),
    pytest.param(
        '[project]\nname = "demo"\nversion = "1"\n[tool.torchpins]\n',
        ["project.dynamic must list 'dependencies'", 'dynamic = ["dependencies"]'],
        id="dynamic-missing",
    ),
    pytest.param(
        '[project]\nname = "demo"\nversion = "1"\ndynamic = ["dependencies"]\n'
        '[tool.torchpins.optional-dependencies]\nx = ["y"]',
        ["project.dynamic must list 'optional-dependencies'", "declares extras"],
        id="dynamic-missing-optional",
    ),
    pytest.param(
        '[project]\nname = "demo"\nversion = "1"\ndependencies = ["a"]\n'
        'dynamic = ["dependencies"]\n[tool.torchpins]\n',
        ["project.dependencies is set statically", "tool.torchpins.dependencies"],
        id="static-dependencies",
    ),
    pytest.param(
        HEAD + '[tool.setuptools.dynamic]\ndependencies = { file = "req.txt" }\n[tool.torchpins]\n',
        ["tool.setuptools.dynamic.dependencies competes with tool.torchpins"],
        id="setuptools-dynamic",
    ),
    pytest.param("[tool.torchpins]\n", ["[project] is missing"], id="no-project"),
    pytest.param(HEAD + "[tool.torchpins\n", ["is not valid TOML"], id="bad-toml"),
    pytest.param(
        HEAD + '[tool.torchpins]\n"depend\\nencies" = []',
        ["tool.torchpins.'depend\\nencies': unknown key"],
        id="newline-in-unknown-key",
    ),
]


@pytest.mark.parametrize(("text", "fragments"), CONFIG_ERRORS)
def test_config_errors(tmp_path: Path, text: str, fragments: list[str]) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_project(tmp_path)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"\xef\xbb\xbf[project]\n", "byte-order mark"),
        (b'[project]\nname = "\xff"\n', "is not valid UTF-8"),
    ],
)
def test_unreadable_pyproject(tmp_path: Path, content: bytes, fragment: str) -> None:
    (tmp_path / "pyproject.toml").write_bytes(content)
    with pytest.raises(ConfigError, match=fragment):
        load_project(tmp_path)


def test_missing_pyproject(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_project(tmp_path)


# (environment, config settings, expected fragments)
OVERRIDE_ERRORS = [
    pytest.param(
        {"TORCHPINS_TORCH": "two"},
        {},
        ["TORCHPINS_TORCH: 'two' is not a valid version"],
        id="bad-version-env",
    ),
    pytest.param(
        {},
        {"torchpins.torch": "2.8.0\nRequires-Dist: evil"},
        ["-C torchpins.torch", "control character or newline"],
        id="newline-setting",
    ),
    pytest.param(
        {"TORCHPINS_PLATFORM": "linux\x00"},
        {},
        ["TORCHPINS_PLATFORM", "control character"],
        id="nul-env",
    ),
    pytest.param(
        {"TORCHPINS_CUDAA": "12.8"},
        {},
        ["TORCHPINS_CUDAA is not a torchpins variable", "did you mean 'TORCHPINS_CUDA'"],
        id="unknown-variable",
    ),
    pytest.param(
        {},
        {"torchpins.cudaa": "12.8"},
        ["-C torchpins.cudaa: 'cudaa' is not a fact", "did you mean 'cuda'"],
        id="unknown-setting",
    ),
    pytest.param({}, {"torchpins.cuda": "12.8+x"}, ["has a local label"], id="local-on-cuda"),
    pytest.param(
        {"TORCHPINS_CXX11ABI": "maybe"},
        {},
        ["TORCHPINS_CXX11ABI: 'maybe' is not a boolean"],
        id="bad-boolean",
    ),
    pytest.param(
        {"TORCHPINS_ACCELERATOR": "gpu"},
        {},
        ["TORCHPINS_ACCELERATOR: 'gpu' is never a value of accelerator (did you mean 'cuda'?)"],
        id="bad-accelerator",
    ),
    pytest.param(
        {"TORCHPINS_GPU_ARCH": "8.0,sm90"},
        {},
        ["TORCHPINS_GPU_ARCH: 'sm90' is not a valid version"],
        id="bad-gpu-arch",
    ),
    pytest.param(
        {"TORCHPINS_TORCH_LOCAL": "cu 128"}, {}, ["not a local version label"], id="bad-local-label"
    ),
    pytest.param(
        {}, {"torchpins.torch": ["2.7", "2.8"]}, ["given more than once"], id="setting-twice"
    ),
]


@pytest.mark.parametrize(("environ", "settings", "fragments"), OVERRIDE_ERRORS)
def test_override_errors(
    environ: dict[str, str], settings: dict[str, str | list[str]], fragments: list[str]
) -> None:
    with pytest.raises(OverrideError) as caught:
        gather_facts(settings, environ)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_config_error_through_pip_is_one_line_without_traceback(
    venv: Venv, fake_torch: Callable[..., Path], tmp_path: Path
) -> None:
    project = copy_project("kit", tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("drop-extras", "drop_extras"))
    site = fake_torch("2.8.0")
    result = pip_wheel(venv, project, tmp_path / "out", clean_env(PYTHONPATH=str(site)))
    assert_failed_with(
        result,
        "torchpins: error: tool.torchpins.matrix[1].drop_extras: unknown key "
        "(did you mean 'drop-extras'?)",
    )


def test_bad_override_through_build_frontend(venv: Venv, tmp_path: Path) -> None:
    project = copy_project("kit", tmp_path)
    result = build_with(
        venv,
        project,
        tmp_path / "out",
        clean_env(TORCHPINS_TORCH="2.8.0\nRequires-Dist: evil"),
        "--wheel",
    )
    assert_failed_with(result, "TORCHPINS_TORCH", "control character or newline")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
