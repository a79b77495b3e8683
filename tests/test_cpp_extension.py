"""examples/cpp-extension: a real torch C++ extension compiled against the real CPU torch, pinned
by torchpins, then installed into a fresh venv where it must import and compute."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.helpers import (
    Venv,
    canonical_set,
    clean_env,
    only,
    parse_metadata,
    pip_wheel,
    run,
    wheel_metadata_text,
    wheel_record,
)

EXAMPLE = Path(__file__).parent.parent / "examples" / "cpp-extension"


@pytest.fixture(scope="module")
def extension_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("torch") is None:  # not imported: tests share this process
        pytest.skip("the C++ example compiles against the real torch")
    root = tmp_path_factory.mktemp("cpp")
    source = root / "cpp-extension"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "*.so"))
    # The test environment itself (real torch, torchpins, setuptools) is the build environment.
    result = pip_wheel(None, source, root / "out", clean_env())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return only(root / "out", "*.whl")


def test_the_extension_wheel_is_pinned_to_the_torch_it_was_compiled_against(
    extension_wheel: Path,
) -> None:
    major, minor = version("torch").split("+")[0].split(".")[:2]
    assert extension_wheel.name.startswith("torch_scale-0.1.0-cp")  # a platform wheel
    metadata = parse_metadata(wheel_metadata_text(extension_wheel))
    # The torch pin, merged with the pyproject rows that setup.py knows nothing of.
    assert canonical_set([str(r) for r in metadata.requires_dist or []]) == canonical_set(
        [f"torch=={major}.{minor}.*", "numpy>=2.0"]
    )
    record = wheel_record(extension_wheel)
    assert record["facts"]["cxx11abi"] is True  # a row tests it; probed from libc10.so
    assert record["matched"] == [1]


def test_the_extension_imports_and_computes_in_a_fresh_venv(
    extension_wheel: Path, tmp_path: Path
) -> None:
    fresh = Venv(tmp_path / "fresh")
    assert run([sys.executable, "-m", "venv", str(fresh.root)]).returncode == 0
    wanted = f"torch=={version('torch').split('+')[0]}"
    for arguments in ([wanted], ["--no-deps", str(extension_wheel)]):  # numpy is not needed here
        installed = fresh.run("-m", "pip", "install", *arguments)
        assert installed.returncode == 0, installed.stderr[-3000:]
    code = "import torch, torch_scale\nprint(torch_scale.scale(torch.arange(4.0), 2.5).tolist())\n"
    result = fresh.run("-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[0.0, 2.5, 5.0, 7.5]"
