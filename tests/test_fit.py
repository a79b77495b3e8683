"""One compatibility rule: the runtime guard and ``torchpins inspect --check`` give the same
verdict on every build/install pair of one table (NGC and epoch versions, torches without a
label, CUDA to CPU swaps, ROCm and XPU builds). Both run for real: the guard module a build
writes, imported beside a fake torch, and the command line against a wheel's build record."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT, clean_env, make_fake_torch, run

EXAMPLE = ROOT / "examples" / "finetune-app"

CUDA = "cuda"


def built(torch: str, label: str | None, accelerator: str, cuda: str | None = None,
          rocm: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Build facts as a build record holds them."""
    return {"torch": torch, "torch-local": label, "cuda": cuda, "rocm": rocm,
            "accelerator": accelerator}  # fmt: skip


CU126 = built("2.7.1", "cu126", CUDA, cuda="12.6")
PLAIN_CUDA = built("2.7.1", None, CUDA, cuda="12.8")  # how the default Linux torch ships
NGC = built("2.5.0a0", "872d972e41.nv24.8", CUDA, cuda="12.6")
ROCM = built("2.8.0", "rocm6.3", "rocm", rocm="6.3.42131")

PAIRS = [
    # (built for, the torch installed: version and version.py build, fits?)
    (CU126, ("2.7.1+cu126", {"cuda": "12.6"}), True),
    (CU126, ("2.7.0+cu126", {"cuda": "12.6"}), True),
    (CU126, ("2.8.0+cu126", {"cuda": "12.6"}), False),
    (CU126, ("2.7.1+cu128", {"cuda": "12.8"}), False),
    (CU126, ("2.7.1+cpu", {}), False),
    (CU126, ("2.7.1", {"cuda": "12.6"}), True),
    (CU126, ("2.7.1", {}), False),  # CUDA to CPU, the installed torch without a label
    (CU126, ("2.7.1+rocm6.3", {"hip": "6.3.42131-fa1d09cbd"}), False),
    (PLAIN_CUDA, ("2.7.1+cu128", {"cuda": "12.8"}), True),
    (PLAIN_CUDA, ("2.7.1", {}), False),  # CUDA to CPU, neither with a label
    (PLAIN_CUDA, ("2.7.1", {"cuda": "12.8"}), True),
    (NGC, ("2.5.0a0+872d972e41.nv24.08", {"cuda": "12.6"}), True),  # nv24.08 is nv24.8
    (NGC, ("2.5.1", {"cuda": "12.6"}), True),
    (NGC, ("2.6.0a0+ecf3bae40a.nv25.01", {"cuda": "12.6"}), False),
    (built("1!2.6.0", None, "cpu"), ("2.6.0", {}), False),  # an epoch is another release
    (built("1!2.6.0", None, "cpu"), ("1!2.6.1", {}), True),
    (built("2.8.0", "cpu", "cpu"), ("2.8.0+cu128", {"cuda": "12.8"}), False),
    (built("2.8.0", "cpu", "cpu"), ("2.8.0", {}), True),
    (ROCM, ("2.8.0+rocm6.4", {"hip": "6.4.1"}), False),
    (ROCM, ("2.8.0+rocm6.3", {"hip": "6.3.42131-fa1d09cbd"}), True),
    (built("2.9.0.dev20250801", "cu128", CUDA, cuda="12.8"),
     ("2.9.0.dev20250901+cu128", {"cuda": "12.8"}), True),
    (built("2.8.0", "cu128", CUDA, cuda="12.8"), ("2.8.0+cu129", {"cuda": "12.9"}), False),
    (built("2.8.0", "xpu", "xpu"), ("2.8.0+xpu", {"xpu": "20250101"}), True),
    (built("2.8.0", "xpu", "xpu"), ("2.8.0+cpu", {}), False),
]  # fmt: skip


def _glibc_here() -> str | None:
    import os

    try:
        name, _, version = os.confstr("CS_GNU_LIBC_VERSION").partition(" ")  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return None
    return version if name == "glibc" else None


GLIBC = _glibc_here()


def decided(outcomes: dict[str, Any]) -> dict[str, Any]:
    """A CUDA 12.6 build whose rows also tested these facts, with the outcome it rested on."""
    return {**CU126, "outcomes": outcomes}


SAME = ("2.7.1+cu126", {"cuda": "12.6"})
if GLIBC is not None:  # the machine's own glibc, inside or outside what the rows decided on
    PAIRS += [
        (decided({"glibc": {"regions": [["2.17", None]]}}), SAME, True),
        (decided({"glibc": {"regions": [["2.17", "99.0"]]}}), SAME, True),
        (decided({"glibc": {"regions": [["99.0", None]]}}), SAME, False),
        (decided({"glibc": {"regions": [[None, "2.17"]]}}), SAME, False),
        # the outcome holds, but torch does not: one verdict still
        (decided({"glibc": {"regions": [["2.17", None]]}}), ("2.8.0+cu126", {"cuda": "12.6"}),
         False),
    ]  # fmt: skip
PAIRS += [
    # facts neither can read here (no GPU; torch not imported, its ABI unknown): no verdict
    (decided({"cuda-driver": {"regions": [["12.8", None]]}}), SAME, True),
    (decided({"gpu-arch": {"regions": [["9.0", None]]}}), SAME, True),
    (decided({"cxx11abi": {"value": True}}), SAME, True),
]


def guard_fits(tmp_path: Path, facts: dict[str, Any], site: Path) -> bool:
    from torchpins.guard import render
    from torchpins.settings import load_project

    project = load_project(EXAMPLE)
    assert project.settings.guard is not None
    package = tmp_path / "pkg"
    package.mkdir()
    outcomes = facts.get("outcomes")
    text = render(project, project.settings.guard, facts, outcomes)
    (package / "the_guard.py").write_text(text)
    result = run([sys.executable, "-S", "-c", "import sys; sys.path[:0] = sys.argv[1:]; "
                  "import the_guard", str(package), str(site)], env=clean_env())  # fmt: skip
    if result.returncode == 0:
        return True
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        ("ImportError: finetune-app 0.3.0 was built for torch", "ImportError: finetune-app 0.3.0 "
         "does not fit this environment: glibc is")
    ), result.stderr  # fmt: skip
    return False


def inspect_fits(tmp_path: Path, facts: dict[str, Any], site: Path) -> bool:
    wheel = tmp_path / "finetune_app-0.3.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(
            "finetune_app-0.3.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: finetune-app\nVersion: 0.3.0\n",
        )
        archive.writestr(
            "finetune_app-0.3.0.dist-info/torchpins.json",
            json.dumps(
                {
                    "torchpins": "0.1.0",
                    "facts": {k: v for k, v in facts.items() if k != "outcomes"},
                    "requires_dist": [],
                    **({"outcomes": facts["outcomes"]} if "outcomes" in facts else {}),
                }
            ),
        )
    result = run(
        [sys.executable, "-m", "torchpins", "inspect", "--check", str(wheel)],
        env=clean_env(PYTHONPATH=str(site)),
    )
    assert result.returncode in (0, 1), result.stderr
    return result.returncode == 0


@pytest.mark.parametrize(("facts", "installed", "fits"), PAIRS)
def test_the_guard_and_inspect_give_one_verdict(
    tmp_path: Path, facts: dict[str, Any], installed: tuple[str, dict[str, str]], fits: bool
) -> None:
    version, build = installed
    site = make_fake_torch(tmp_path / "site", version, **build)
    assert inspect_fits(tmp_path, facts, site) is fits
    assert guard_fits(tmp_path, facts, site) is fits


def test_the_table_is_large_enough() -> None:
    assert len(PAIRS) >= 20
    assert {fits for *_, fits in PAIRS} == {True, False}


def test_a_built_wheel_records_the_glibc_outcome_and_inspect_holds_it(
    venv: Any, tmp_path: Path
) -> None:
    from tests.helpers import only, pip_wheel, wheel_record

    project = tmp_path / "glibc-app"
    (project / "glibc_app").mkdir(parents=True)
    (project / "glibc_app" / "__init__.py").write_text("")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["torchpins"]\nbuild-backend = "torchpins.build_meta"\n'
        '[project]\nname = "glibc-app"\nversion = "1.0"\ndynamic = ["dependencies"]\n'
        '[tool.torchpins]\ndependencies = ["a"]\n'
        '[[tool.torchpins.matrix]]\nwhen = { glibc = ">=2.28" }\nadd = ["manylinux-2-28-only"]\n'
    )
    env = clean_env(TORCHPINS_TORCH="2.8.0+cpu", TORCHPINS_GLIBC="2.35")
    assert pip_wheel(venv, project, tmp_path / "out", env).returncode == 0
    wheel = only(tmp_path / "out", "*.whl")
    assert wheel_record(wheel)["outcomes"] == {"glibc": {"regions": [["2.28", None]]}}
    for glibc, code in (("2.31", 0), ("2.17", 1)):
        here = clean_env(TORCHPINS_TORCH="2.8.0+cpu", TORCHPINS_GLIBC=glibc)
        result = run([sys.executable, "-m", "torchpins", "inspect", "--check", str(wheel)],
                     env=here)  # fmt: skip
        assert result.returncode == code, result.stdout + result.stderr
    assert "glibc is 2.17 here, and the build's rows decided on glibc >=2.28" in result.stdout
