"""Matrix semantics (SPEC section 2-3), table-driven, through the pure resolver."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from tests.helpers import canonical_set
from torchpins.errors import ResolveError
from torchpins.facts import FACTS, Facts, FactValue, Source
from torchpins.resolve import Resolution, resolve
from torchpins.settings import Project, parse_settings, version_matches

#: Run on every Python of the nox matrix (the rest runs on the oldest and newest).
pytestmark = pytest.mark.core

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

LINUX = {"platform": "linux", "machine": "x86_64", "python": "3.11.7"}


def facts(**values: FactValue) -> Facts:
    """Facts as a build would see them: the given values, every other core fact absent."""
    merged: dict[str, FactValue] = {name: None for name, spec in FACTS.items() if not spec.lazy}
    merged.update({name.replace("_", "-"): value for name, value in values.items()})
    return Facts(merged, {name: Source("probed", "test") for name in merged})


def resolve_toml(toml: str, **values: FactValue) -> Resolution:
    """What the project gives the one target the facts describe (markers: test_markers.py)."""
    table = tomllib.loads(toml)
    project = Project(".", "demo", parse_settings(table))
    return resolve(project, facts(**{**LINUX, **values}), markers=False)


def reqs(resolution: Resolution) -> set[str]:
    return canonical_set(resolution.requires_dist)


BASE = """
unmatched = "ignore"
dependencies = ["transformers>=4.50", "xformers>=0.0.23", "bitsandbytes==0.49.1"]
[optional-dependencies]
vllm = ["vllm==0.10.0"]
flash-attn = ["flash-attn==2.8.3; sys_platform == 'linux'"]
[torch]
pin = "none"
missing = "unpinned"
"""


@pytest.mark.parametrize(
    ("rows", "values", "expected", "extras", "matched"),
    [
        pytest.param(
            "",
            {},
            {
                "transformers>=4.50",
                "xformers>=0.0.23",
                "bitsandbytes==0.49.1",
                'vllm==0.10.0; extra == "vllm"',
                'flash-attn==2.8.3; sys_platform == "linux" and extra == "flash-attn"',
            },
            ["vllm", "flash-attn"],
            [],
            id="no-rows-base-lists-markers-kept",
        ),
        pytest.param(
            '[[matrix]]\npins = { xformers = "==1" }\n[[matrix]]\npins = { xformers = "==2" }',
            {},
            {"xformers==2"},
            None,
            [0, 1],
            id="later-row-wins-file-order",
        ),
        pytest.param(
            '[[matrix]]\nwhen = { platform = "linux" }\nunless = { machine = "aarch64" }\n'
            'pins = { xformers = "==1" }',
            {"machine": "aarch64"},
            {"xformers>=0.0.23"},
            None,
            [],
            id="unless-excludes",
        ),
        pytest.param(
            '[[matrix]]\nwhen = { platform = "linux" }\nunless = { machine = "aarch64", '
            'python = ">=3.12" }\npins = { xformers = "==1" }',
            {"machine": "aarch64"},
            {"xformers==1"},
            None,
            [0],
            id="unless-needs-every-condition",
        ),
        pytest.param(
            '[[matrix]]\nwhen = { torch = "~=2.9.0" }\npins = { xformers = "==9" }',
            {"torch": "2.9.0.dev20250801"},
            {"xformers==9"},
            None,
            [0],
            id="nightly-satisfies-compatible-release",
        ),
        pytest.param(
            '[[matrix]]\nwhen = { torch = "<2.9" }\npins = { xformers = "==8" }',
            {"torch": "2.9.0rc1"},
            {"xformers>=0.0.23"},
            None,
            [],
            id="release-candidate-is-not-below-its-release",
        ),
        pytest.param(
            '[[matrix]]\nwhen = { torch = ">=2.9.0.dev20250901" }\npins = { xformers = "==9" }',
            {"torch": "2.9.0.dev20250801"},
            {"xformers>=0.0.23"},
            None,
            [],
            id="specifier-naming-a-dev-build-compares-exactly",
        ),
        pytest.param(
            '[[matrix]]\nwhen = { torch = "==2.7.1" }\npins = { xformers = "==7" }',
            {"torch": "2.7.1", "torch_local": "cu128"},
            {"xformers==7"},
            None,
            [0],
            id="local-label-ignored-by-version-conditions",
        ),
        pytest.param(
            '[[matrix]]\nwhen = { torch-local = ["cu126", "cu128"] }\npins = { xformers = "==7" }',
            {"torch": "2.7.1", "torch_local": "cu128"},
            {"xformers==7"},
            None,
            [0],
            id="string-fact-any-of-list",
        ),
        pytest.param(
            '[[matrix]]\nwhen = { cuda = ">=12" }\npins = { xformers = "==1" }',
            {"torch": "2.7.1", "cuda": None},
            {"xformers>=0.0.23"},
            None,
            [],
            id="absent-fact-is-false-not-an-error",
        ),
        pytest.param(
            '[[matrix]]\nwhen = { cuda = ">=12" }\nunless = { rocm = ">=6" }\n'
            'pins = { xformers = "==1" }',
            {"cuda": "12.8"},
            {"xformers==1"},
            None,
            [0],
            id="absent-fact-in-unless-is-false",
        ),
        pytest.param(
            '[[matrix]]\nremove = ["xformers"]\n[[matrix]]\npins = { xformers = "==1" }',
            {},
            {
                "transformers>=4.50",
                "bitsandbytes==0.49.1",
                'vllm==0.10.0; extra == "vllm"',
                'flash-attn==2.8.3; sys_platform == "linux" and extra == "flash-attn"',
            },
            ["vllm", "flash-attn"],
            [0, 1],
            id="pin-after-remove-does-nothing",
        ),
        pytest.param(
            '[[matrix]]\nremove = ["vllm"]',
            {},
            None,
            ["vllm", "flash-attn"],
            [0],
            id="extra-emptied-by-remove-is-still-provided",
        ),
        pytest.param(
            '[[matrix]]\ndrop-extras = ["vllm"]\n[[matrix]]\nextras = { vllm = ["vllm>=0.11"] }',
            {},
            {'vllm>=0.11; extra == "vllm"'},
            ["flash-attn", "vllm"],
            [0, 1],
            id="dropped-extra-brought-back-by-later-extras",
        ),
        pytest.param(
            '[[matrix]]\nextras = { vllm = ["vllm>=0.11"] }\ndrop-extras = ["vllm"]',
            {},
            {'vllm>=0.11; extra == "vllm"'},
            ["flash-attn", "vllm"],
            [0],
            id="within-a-row-drop-then-extras",
        ),
        pytest.param(
            '[[matrix]]\nadd = ["liger-kernel>=0.5"]\npins = { liger-kernel = "==0.6" }',
            {},
            {"liger-kernel==0.6"},
            None,
            [0],
            id="within-a-row-add-then-pin",
        ),
        pytest.param(
            '[[matrix]]\nremove = ["flash-attn"]\nadd = ["flash-attn==2.7"]',
            {},
            {"flash-attn==2.7"},
            ["vllm", "flash-attn"],
            [0],
            id="within-a-row-remove-then-add",
        ),
        pytest.param(
            '[[matrix]]\npins = { Flash_Attn = "==2.8.2" }',
            {},
            {'flash-attn==2.8.2; sys_platform == "linux" and extra == "flash-attn"'},
            None,
            [0],
            id="pins-compare-normalised-names-and-keep-markers",
        ),
        pytest.param(
            '[[matrix]]\nextras = { New_Extra = ["einops"] }',
            {},
            {'einops; extra == "new-extra"'},
            ["vllm", "flash-attn", "new-extra"],
            [0],
            id="extras-are-normalised",
        ),
    ],
)
def test_matrix_semantics(
    rows: str,
    values: dict[str, Any],
    expected: set[str] | None,
    extras: list[str] | None,
    matched: list[int],
) -> None:
    resolution = resolve_toml(BASE + rows, **values)
    if expected is not None:
        assert canonical_set(expected) <= reqs(resolution)
    if extras is not None:
        assert resolution.provides_extra == extras
    assert list(resolution.matched) == matched


def test_pin_after_remove_leaves_no_trace() -> None:
    resolution = resolve_toml(
        BASE + '[[matrix]]\nremove = ["xformers"]\n[[matrix]]\npins = { xformers = "==1" }'
    )
    assert not [line for line in resolution.requires_dist if "xformers" in line]


def test_extra_emptied_by_remove_has_no_requirements() -> None:
    resolution = resolve_toml(BASE + '[[matrix]]\nremove = ["vllm"]')
    assert not [line for line in resolution.requires_dist if "vllm" in line]
    assert "vllm" in resolution.provides_extra


@pytest.mark.parametrize(
    ("pin", "torch", "local", "expected"),
    [
        ("minor", "2.8.0", "cu128", "torch==2.8.*"),
        ("exact", "2.8.0", "cu128", "torch==2.8.0"),
        ("local", "2.8.0", "cu128", "torch==2.8.0+cu128"),
        ("local", "2.8.0", None, "torch==2.8.0"),
        ("floor", "2.8.1", None, "torch>=2.8"),
        ("floor", "2.9.0.dev20250801", None, "torch>=2.9.0.dev20250801"),
        ("minor", "2.9.0.dev20250801", None, "torch==2.9.*"),
    ],
)
def test_torch_pin_policies(pin: str, torch: str, local: str | None, expected: str) -> None:
    resolution = resolve_toml(
        f'dependencies = ["einops"]\n[torch]\npin = "{pin}"', torch=torch, torch_local=local
    )
    assert reqs(resolution) == canonical_set({"einops", expected})


def test_pin_none_adds_no_torch_requirement() -> None:
    resolution = resolve_toml('dependencies = ["einops"]\n[torch]\npin = "none"', torch="2.8.0")
    assert reqs(resolution) == {"einops"}


def test_base_torch_requirement_gets_the_pin_keeping_marker_and_extras() -> None:
    resolution = resolve_toml(
        "dependencies = [\"torch[opt-einsum]>=2.0; python_version >= '3.10'\"]", torch="2.8.0"
    )
    assert resolution.requires_dist == ['torch[opt-einsum]==2.8.*; python_version >= "3.10"']


def test_row_may_remove_or_repin_torch() -> None:
    removed = resolve_toml(
        'dependencies = ["einops"]\n[[matrix]]\nremove = ["torch"]', torch="2.8.0"
    )
    assert reqs(removed) == {"einops"}
    repinned = resolve_toml(
        'dependencies = ["einops"]\n[[matrix]]\npins = { torch = ">=2.8" }', torch="2.8.0"
    )
    assert reqs(repinned) == {"einops", "torch>=2.8"}


def test_gpu_arch_condition_matches_if_any_gpu_satisfies() -> None:
    toml = (
        'dependencies = ["a"]\n[torch]\npin = "none"\nmissing = "unpinned"\n'
        '[[matrix]]\nwhen = { gpu-arch = ">=9.0" }\nadd = ["b"]'
    )
    table = tomllib.loads(toml)
    project = Project(".", "demo", parse_settings(table))
    hit = resolve(project, facts(**LINUX, **{"gpu-arch": ("8.0", "9.0")}))
    miss = resolve(project, facts(**LINUX, **{"gpu-arch": ("8.0", "8.6")}))
    assert reqs(hit) == {"a", "b"}
    assert reqs(miss) == {"a"}


def test_boolean_fact_condition() -> None:
    toml = (
        '[torch]\npin = "none"\nmissing = "unpinned"\n'
        '[[matrix]]\nwhen = { cxx11abi = false }\nadd = ["old-abi-kernels"]'
    )
    project = Project(".", "demo", parse_settings(tomllib.loads(toml)))
    assert reqs(resolve(project, facts(cxx11abi=False))) == {"old-abi-kernels"}
    assert reqs(resolve(project, facts(cxx11abi=True))) == set()


# ---- missing and unmatched


def test_missing_error_explains_isolation() -> None:
    with pytest.raises(ResolveError, match="build isolation") as caught:
        resolve_toml('dependencies = ["a"]')
    assert "--no-build-isolation" in str(caught.value)
    assert "TORCHPINS_TORCH=<version>" in str(caught.value)


def test_missing_unpinned_builds_without_torch_facts() -> None:
    resolution = resolve_toml(
        'dependencies = ["a"]\n[torch]\nmissing = "unpinned"\n'
        '[[matrix]]\nwhen = { torch = ">=2" }\nadd = ["b"]'
    )
    assert reqs(resolution) == {"a"}
    assert resolution.matched == ()


def test_missing_version_behaves_as_if_installed() -> None:
    resolution = resolve_toml(
        'dependencies = ["a"]\n[torch]\nmissing = "2.8.0+cu128"\n'
        '[[matrix]]\nwhen = { torch = "~=2.8.0", cuda = ">=12.8" }\nadd = ["b"]'
    )
    assert reqs(resolution) == {"a", "b", "torch==2.8.*"}
    assert resolution.facts.values["cuda"] == "12.8"
    assert resolution.facts.sources["torch"].kind == "assumed"


UNMATCHED = """
dependencies = ["a"]
unmatched = "{policy}"
[[matrix]]
when = {{ torch = "~=2.6.0" }}
add = ["b"]
[[matrix]]
when = {{ torch = "~=2.7.0", platform = "darwin" }}
add = ["c"]
"""


def test_unmatched_error_names_the_ranges() -> None:
    with pytest.raises(ResolveError) as caught:
        resolve_toml(UNMATCHED.format(policy="error"), torch="2.8.0")
    message = str(caught.value)
    assert "torch 2.8.0 matches none of the matrix rows that test torch" in message
    assert "[0] ~=2.6.0" in message
    assert "[1] ~=2.7.0" in message


def test_unmatched_counts_a_row_whose_torch_condition_holds() -> None:
    # Row 1 covers torch 2.7 (on macOS); on Linux it does not apply, yet 2.7 is not unmatched.
    resolution = resolve_toml(UNMATCHED.format(policy="error"), torch="2.7.1")
    assert reqs(resolution) == {"a", "torch==2.7.*"}


def test_unmatched_warn_and_ignore() -> None:
    warned = resolve_toml(UNMATCHED.format(policy="warn"), torch="2.8.0")
    assert reqs(warned) == {"a", "torch==2.8.*"}
    assert len(warned.warnings) == 1
    assert "2.8.0" in warned.warnings[0]
    ignored = resolve_toml(UNMATCHED.format(policy="ignore"), torch="2.8.0")
    assert ignored.warnings == ()


def test_error_row_message_comes_first_with_the_row_and_facts() -> None:
    with pytest.raises(ResolveError) as caught:
        resolve_toml(
            '[[matrix]]\nwhen = { torch = "<2.6" }\nerror = "needs torch 2.6"', torch="2.5.1"
        )
    assert str(caught.value).startswith("needs torch 2.6 (tool.torchpins.matrix[0] applies")
    assert "torch 2.5.1" in str(caught.value)


def test_error_row_applies_in_order_after_earlier_rows() -> None:
    with pytest.raises(ResolveError, match="no macOS"):
        resolve_toml(
            '[[matrix]]\nadd = ["x"]\n[[matrix]]\nwhen = { platform = "darwin" }\n'
            'error = "no macOS"',
            torch="2.8.0",
            platform="darwin",
        )


def test_record_shape() -> None:
    resolution = resolve_toml(
        BASE + '[[matrix]]\nwhen = { gpu-arch = ">=8" }\nadd = ["z"]',
        torch="2.8.0",
        torch_local="cu128",
        cuda="12.8",
    )
    record = resolution.record()
    assert list(record) == [
        "torchpins",
        "facts",
        "sources",
        "decided",
        "markers",
        "matched",
        "requires_dist",
        "provides_extra",
    ]
    assert record["decided"] == list(record["facts"])  # markers = false: the build decides all
    assert record["markers"] == []
    assert record["facts"]["rocm"] is None
    assert record["facts"]["torch"] == "2.8.0"
    assert set(record["sources"].values()) == {"probed"}


@pytest.mark.parametrize(
    ("specifier", "version", "holds"),
    [
        ("~=2.9.0", "2.9.0.dev20250801", True),
        (">=2.9", "2.9.0.dev20250801", True),
        ("<2.9", "2.9.0.dev20250801", False),
        ("<2.9", "2.8.9", True),
        ("==2.9.*", "2.9.1rc2", True),
        ("!=2.9.0", "2.9.0.dev1", False),
        (">=2.9.0.dev20250801", "2.9.0.dev20250701", False),
        (">=2.9.0.dev20250801", "2.9.0.dev20250901", True),
        ("==2.7.1", "2.7.1.post1", True),
        (">=12.6", "12.8", True),
        (">=12.6", "12.4", False),
    ],
)
def test_version_condition_rules(specifier: str, version: str, holds: bool) -> None:
    from packaging.specifiers import SpecifierSet

    assert version_matches(SpecifierSet(specifier), version) is holds


def test_empty_pin_unpins_and_a_pin_replaces_a_direct_reference() -> None:
    resolution = resolve_toml(
        'unmatched = "ignore"\n'
        'dependencies = ["xformers==0.0.31", "kernels @ https://example.invalid/k-1.0.tar.gz"]\n'
        '[torch]\npin = "none"\nmissing = "unpinned"\n'
        '[[matrix]]\npins = { xformers = "", kernels = ">=1.1" }'
    )
    assert resolution.requires_dist == ["xformers", "kernels>=1.1"]
