"""Probing the installed torch without importing it (the fake torches raise on import)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import make_fake_torch
from torchpins.probe import VersionPyError, _torch_facts, find_torch, read_version_py

#: Run on every Python of the nox matrix (the rest runs on the oldest and newest).
pytestmark = pytest.mark.core


def facts_for(site: Path) -> dict[str, object]:
    installed = find_torch([str(site)])
    assert installed is not None
    return {"version": installed.version, **installed.build}


def test_cuda_build(fake_torch: Callable[..., Path]) -> None:
    site = fake_torch("2.7.1+cu126", cuda="12.6")
    installed = find_torch([str(site)])
    assert installed is not None
    assert installed.version == "2.7.1+cu126"
    assert installed.build["cuda"] == "12.6"
    assert installed.metadata_path == str(site / "torch-2.7.1+cu126.dist-info")


def test_first_torch_on_the_path_wins(tmp_path: Path) -> None:
    first = make_fake_torch(tmp_path / "a", "2.8.0+cu128", cuda="12.8")
    second = make_fake_torch(tmp_path / "b", "2.6.0")
    installed = find_torch([str(first), str(second)])
    assert installed is not None
    assert installed.version == "2.8.0+cu128"


def test_egg_info_without_version_in_its_name(tmp_path: Path) -> None:
    site = make_fake_torch(tmp_path, "2.6.0", dist_info=False)
    (site / "torch.egg-info").mkdir()
    (site / "torch.egg-info" / "PKG-INFO").write_text(
        "Metadata-Version: 2.1\nName: torch\nVersion: 2.6.0a0+git1234\n"
    )
    installed = find_torch([str(site)])
    assert installed is not None
    assert installed.version == "2.6.0a0+git1234"


def test_source_checkout_without_metadata_uses_version_py(tmp_path: Path) -> None:
    site = make_fake_torch(tmp_path, "2.10.0a0+gitabc", dist_info=False, cuda="13.0")
    installed = find_torch([str(site)])
    assert installed is not None
    assert installed.version == "2.10.0a0+gitabc"
    assert installed.metadata_path is None


def test_no_torch(tmp_path: Path) -> None:
    assert find_torch([str(tmp_path)]) is None


def test_dist_info_without_version_py_leaves_build_facts_unknown(tmp_path: Path) -> None:
    site = make_fake_torch(tmp_path, "2.8.0", version_py=False)
    import sys

    import pytest

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "path", [str(site)])
        _, facts = _torch_facts()
    assert facts["torch"][0] == "2.8.0"
    for name in ("cuda", "rocm", "accelerator"):
        value, source = facts[name]
        assert value is None
        assert source.problem is not None
        assert "has no torch/version.py beside it" in source.problem


def test_version_py_is_parsed_not_executed(tmp_path: Path) -> None:
    path = tmp_path / "version.py"
    path.write_text("import os\nos.exit(1)\ncuda = '12.8'\nhip: str = None\nweird = f'{1}'\n")
    assert read_version_py(str(path)) == {"cuda": "12.8", "hip": None}


def test_broken_version_py_says_where_it_does_not_parse(tmp_path: Path) -> None:
    path = tmp_path / "version.py"
    path.write_text("__version__ = '2.8.0'\ncuda = '12.8\n")
    with pytest.raises(VersionPyError, match=r"version.py does not parse \(.*, line 2\)"):
        read_version_py(str(path))


def test_legacy_egg_info_name_with_python_tag(tmp_path: Path) -> None:
    site = make_fake_torch(tmp_path, "2.1.0", dist_info=False)
    (site / "torch-2.1.0-py3.11.egg-info").mkdir()
    installed = find_torch([str(site)])
    assert installed is not None
    assert installed.version == "2.1.0"


def test_unreadable_version_in_metadata_is_skipped_not_a_crash(tmp_path: Path) -> None:
    site = make_fake_torch(tmp_path, "2.8.0", dist_info=False)
    (site / "torch.dist-info").mkdir()
    (site / "torch.dist-info" / "METADATA").write_text("Name: torch\nVersion: not a version\n")
    installed = find_torch([str(site)])  # falls back to torch/version.py
    assert installed is not None
    assert installed.version == "2.8.0"
    assert installed.metadata_path is None
