"""The settings declaration is the one source of the keys: the reader, the shipped JSON schema,
validate-pyproject (through torchpins' entry point) and the docs site's reference
(tests/test_docs.py) all follow it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT
from torchpins import schema
from torchpins.errors import ConfigError
from torchpins.settings import parse_settings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CORPUS = Path(__file__).parent / "corpus"

#: Every table torchpins reads, with every key set to a valid value.
COMPLETE: dict[str, Any] = {
    "dependencies": ["xformers>=0.0.28"],
    "optional-dependencies": {"vllm": ["vllm>=0.10"]},
    "unmatched": "warn",
    "markers": False,
    "all-extras": "all",
    "env": {"target": {"variable": "TARGET_DEVICE", "kind": "string", "default": "cuda"}},
    "local-version": "{torch-local}",
    "torch": {"pin": "floor", "missing": "2.8.0"},
    "matrix": [
        {
            "when": {"torch": ">=2.6", "platform": "linux", "cxx11abi": True},
            "unless": {"machine": "aarch64"},
            "remove": ["xformers"],
            "drop-extras": ["vllm"],
            "extras": {"flash": ["flash-attn==2.8.3"]},
            "extras-add": {"flash": ["flash-attn-extra==1.0"]},
            "add": ["xformers==0.0.31"],
            "pins": {"xformers": "==0.0.31"},
        },
        {"when": {"torch": "<2.6"}, "error": "too old"},
    ],
    "guard": {"file": "src/kit/_guard.py", "on-mismatch": "warn"},
    "ci": {
        "python": ["3.12"],
        "platforms": ["linux-x86_64"],
        "torch": [{"version": "2.8.0", "builds": ["cpu", "cu128"]}],
    },
}


def validate_pyproject(path: Path) -> subprocess.CompletedProcess[str]:
    """The real validate-pyproject command line, which finds torchpins' schema through the
    ``validate_pyproject.tool_schema`` entry point of the installed torchpins."""
    return subprocess.run(
        [sys.executable, "-m", "validate_pyproject", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def write_project(directory: Path, table: dict[str, Any]) -> Path:
    path = directory / "pyproject.toml"
    lines = [
        "[project]",
        'name = "kit"',
        'version = "1.0"',
        'dynamic = ["dependencies", "optional-dependencies"]',
        "",
        "[tool.torchpins]",
    ]
    lines.append(_toml_body(table, "tool.torchpins"))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml_body(table: dict[str, Any], prefix: str) -> str:
    """A TOML table written with inline values (json's literals are TOML's for these values)."""
    return "\n".join(f"{json.dumps(key)} = {_toml_value(value)}" for key, value in table.items())


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return json.dumps(value)


def test_the_shipped_schema_is_the_generated_one() -> None:
    shipped = json.loads((ROOT / "src" / "torchpins" / "torchpins.schema.json").read_text())
    assert shipped == schema.json_schema(), "regenerate: torchpins schema > src/torchpins/..."


def test_the_entry_point_serves_the_shipped_schema() -> None:
    from importlib.metadata import entry_points

    (point,) = [
        ep for ep in entry_points(group="validate_pyproject.tool_schema") if ep.name == "torchpins"
    ]
    assert point.load()("torchpins") == schema.json_schema()


def test_the_complete_configuration_passes_both(tmp_path: Path) -> None:
    parse_settings(COMPLETE)
    result = validate_pyproject(write_project(tmp_path, COMPLETE))
    assert result.returncode == 0, result.stdout + result.stderr


def _leaf_paths() -> list[tuple[str, ...]]:
    """Every declared key below tool.torchpins, as a path into COMPLETE (rows: the first)."""
    paths: list[tuple[str, ...]] = []

    def walk(key: schema.Key, path: tuple[str, ...]) -> None:
        for child in key.keys:
            # a named table's entries: the one COMPLETE declares
            child_path = (
                (*path, "target", child.name)
                if key.type == schema.Type.NAMED
                else (
                    *path,
                    child.name,
                )
            )
            paths.append(child_path)
            walk(child, child_path)

    walk(schema.TOOL, ())
    return paths


def _set(table: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(table))
    node: Any = copy
    for part in path[:-1]:
        node = node[part]
        if isinstance(node, list):
            node = node[0]
    node[path[-1]] = value
    return copy


@pytest.mark.parametrize("path", _leaf_paths(), ids=".".join)
def test_every_declared_key_rejects_a_wrong_type_in_both(
    tmp_path: Path, path: tuple[str, ...]
) -> None:
    """Setting any declared key to an integer is refused by torchpins (naming the key) and by
    validate-pyproject: the schema and the reader agree on every key."""
    bad = _set(COMPLETE, path, 7)
    with pytest.raises(ConfigError) as caught:
        parse_settings(bad)
    dotted = "tool.torchpins." + ".".join(path)
    named = str(caught.value).split(":")[0].replace("[0]", "")
    assert named.startswith(dotted), (dotted, str(caught.value))
    result = validate_pyproject(write_project(tmp_path, bad))
    assert result.returncode != 0, result.stdout
    assert "tool.torchpins" in result.stdout + result.stderr


#: Corpus cases whose fault is one of shape (an unknown key, a wrong type, a value outside a
#: key's choices), which the JSON schema must catch as torchpins does.
SHAPE_FAULTS = [
    "add-string",
    "dependencies-integer-item",
    "dependencies-string",
    "dependencies-table",
    "drop-extras-integer",
    "error-integer",
    "extras-integer-item",
    "extras-not-a-table",
    "extras-string",
    "matrix-integer-row",
    "matrix-single-table",
    "matrix-string",
    "pins-integer",
    "pins-list",
    "remove-string",
    "row-unknown-key",
    "torch-missing-float",
    "torch-pin-unknown",
    "torch-string",
    "torch-unknown-key",
    "torchpins-not-a-table",
    "unknown-top-key",
    "unmatched-integer",
    "unmatched-unknown",
    "when-accelerator-unknown",
    "when-cxx11abi-string",
    "when-gpu-arch-float",
    "when-platform-empty-list",
    "when-platform-integer",
    "when-torch-float",
    "when-torch-nested-table",
    # when-unknown-fact is not among them: a project may declare facts of any name in
    # [tool.torchpins.env], so only torchpins itself, which reads that table, can refuse it.
]


@pytest.mark.parametrize("stem", SHAPE_FAULTS)
def test_validate_pyproject_rejects_the_shape_faults_of_the_corpus(stem: str) -> None:
    case = CORPUS / f"{stem}.toml"
    table = tomllib.loads(case.read_text(encoding="utf-8"))["tool"]["torchpins"]
    with pytest.raises(ConfigError):
        parse_settings(table)
    result = validate_pyproject(case)
    assert result.returncode != 0, result.stdout
    assert "tool.torchpins" in result.stdout + result.stderr


PROJECTS = sorted(
    path
    for path in [
        *ROOT.glob("examples/*/pyproject.toml"),
        *ROOT.glob("tests/projects/*/pyproject.toml"),
    ]
    if "[tool.torchpins" in path.read_text(encoding="utf-8")
)


@pytest.mark.parametrize("path", PROJECTS, ids=lambda p: p.parent.name)
def test_validate_pyproject_accepts_the_example_projects(path: Path) -> None:
    result = validate_pyproject(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_validate_pyproject_accepts_torchpins_itself() -> None:
    result = validate_pyproject(ROOT / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_reader_takes_its_keys_from_the_declaration() -> None:
    """An unknown key's message lists exactly the declared keys of that table."""
    with pytest.raises(ConfigError) as caught:
        parse_settings({"matrix": [{"add": ["a"], "bogus": 1}]})
    assert caught.value.args[0].endswith("the keys here are " + ", ".join(schema.ROW.names))
    with pytest.raises(ConfigError) as caught:
        parse_settings({"bogus": 1})
    assert caught.value.args[0].endswith("the keys here are " + ", ".join(schema.TOOL.names))
