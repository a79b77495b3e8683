"""check, table, inspect, the runtime guard and ci-matrix, run as users run them."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import (
    PROJECTS,
    Venv,
    assert_no_traceback,
    clean_env,
    copy_project,
    in_process,
    make_fake_torch,
    only,
    overlay_venv,
    pip_wheel,
    run,
)

EXAMPLE = Path(__file__).parent.parent / "examples" / "finetune-app"


cli = in_process


def project(tmp_path: Path, body: str, name: str = "lint") -> Path:
    directory = tmp_path / name
    directory.mkdir()
    (directory / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["torchpins"]\nbuild-backend = "torchpins.build_meta"\n\n'
        f'[project]\nname = "{name}"\nversion = "1.0"\n'
        'dynamic = ["dependencies", "optional-dependencies"]\n\n' + textwrap.dedent(body)
    )
    return directory


# --------------------------------------------------------------------------------------------
# check

CLEAN = """
[tool.torchpins]
dependencies = ["xformers>=0.0.28", "bitsandbytes>=0.45"]

[tool.torchpins.optional-dependencies]
vllm = ["vllm>=0.8"]

[[tool.torchpins.matrix]]
when = { torch = "<2.6" }
error = "needs torch 2.6 or newer"

[[tool.torchpins.matrix]]
when = { torch = "~=2.6.0" }
pins = { xformers = "==0.0.29.post3" }

[[tool.torchpins.matrix]]
when = { torch = "~=2.7.0" }
pins = { xformers = "==0.0.30", vllm = "==0.9.2" }

[[tool.torchpins.matrix]]
when = { torch = ">=2.8,<2.9" }
pins = { xformers = "==0.0.32.post2" }

[[tool.torchpins.matrix]]
when = { platform = "darwin" }
remove = ["xformers", "bitsandbytes"]
drop-extras = ["vllm"]
"""


def test_check_passes_a_clean_matrix(tmp_path: Path) -> None:
    code, out, err = cli("check", str(project(tmp_path, CLEAN)))
    assert (code, out) == (0, "")
    assert "torchpins check: no problems found" in err


# Each planted fault: (a replacement in CLEAN, severity, key, words of the message).
FAULTS = [
    pytest.param(
        ('torch = "~=2.6.0"', 'torch = ">=2.8,<2.7"'),
        "error",
        "tool.torchpins.matrix[1].when.torch",
        "can never hold",
        id="impossible-range",
    ),
    pytest.param(
        ('when = { platform = "darwin" }', 'when = { platform = "haiku-os" }'),
        "error",
        "tool.torchpins.matrix[4].when.platform",
        "'haiku-os' is never a value of sys.platform",
        id="no-such-platform",
    ),
    pytest.param(
        ('when = { platform = "darwin" }', 'when = { machine = "amd64" }'),
        "error",
        "tool.torchpins.matrix[4].when.machine",
        "(did you mean 'AMD64'?)",
        id="machine-spelling",
    ),
    pytest.param(
        ('when = { platform = "darwin" }', 'when = { platfrom = "darwin" }'),
        "error",
        "pyproject.toml",
        "'platfrom' is not a fact (did you mean 'platform'?)",
        id="unknown-fact",
    ),
    pytest.param(
        ('torch = "~=2.7.0"', 'torch = "~=2.7.1"'),
        "error",
        "tool.torchpins.matrix",
        "no row covers torch >=2.7,<2.7.1",
        id="gap-between-rows",
    ),
    pytest.param(
        ('torch = ">=2.8,<2.9"', 'torch = ">=2.8"'),
        "warning",
        "tool.torchpins.matrix[3].when.torch",
        "is open-ended: the row applies to every future torch",
        id="open-ended",
    ),
    pytest.param(
        (
            '[[tool.torchpins.matrix]]\nwhen = { platform = "darwin" }',
            '[[tool.torchpins.matrix]]\nwhen = { torch = ">=2.6,<2.9" }\n'
            'pins = { xformers = ">=0.0.29" }\n\n'
            '[[tool.torchpins.matrix]]\nwhen = { platform = "darwin" }',
        ),
        "warning",
        "tool.torchpins.matrix[1]",
        "has no effect: later rows [4, 5] replace or undo everything it does",
        id="shadowed-row",
    ),
    pytest.param(
        (
            '[[tool.torchpins.matrix]]\nwhen = { platform = "darwin" }',
            '[[tool.torchpins.matrix]]\nwhen = { cuda = ">=12.8" }\n'
            'pins = { xformers = "==0.0.31" }\n\n'
            '[[tool.torchpins.matrix]]\nwhen = { platform = "darwin" }',
        ),
        "warning",
        "tool.torchpins.matrix[4].pins.xformers",
        "both tool.torchpins.matrix[2] (==0.0.30) and this row (==0.0.31) pin xformers",
        id="conflicting-pins",
    ),
    pytest.param(
        (
            'drop-extras = ["vllm"]',
            'drop-extras = ["vllm"]\n\n[[tool.torchpins.matrix]]\nwhen = { machine = "arm64" }\n'
            'extras = { vllm = ["vllm>=0.9"] }',
        ),
        "warning",
        "tool.torchpins.matrix[5].extras.vllm",
        "gives back the extra 'vllm' that tool.torchpins.matrix[4] drops",
        id="extra-dropped-and-readded",
    ),
    pytest.param(
        ('remove = ["xformers", "bitsandbytes"]', 'remove = ["xformers", "bitsandbites"]'),
        "warning",
        "tool.torchpins.matrix[4].remove",
        "'bitsandbites' is declared nowhere (did you mean 'bitsandbytes'?)",
        id="remove-undeclared",
    ),
    pytest.param(
        ('when = { platform = "darwin" }', 'when = { platform = "darwin", accelerator = "cuda" }'),
        "warning",
        "tool.torchpins.matrix[4]",
        "applies in none of the",
        id="never-applies",
    ),
]


@pytest.mark.parametrize(("change", "severity", "key", "words"), FAULTS)
def test_check_finds_each_planted_fault(
    tmp_path: Path, change: tuple[str, str], severity: str, key: str, words: str
) -> None:
    assert change[0] in CLEAN
    directory = project(tmp_path, CLEAN.replace(change[0], change[1], 1))
    code, out, _ = cli("check", "--json", str(directory))
    findings = json.loads(out)
    hits = [f for f in findings if f["key"] == key and words in f["message"]]
    assert hits, findings
    assert hits[0]["severity"] == severity
    assert hits[0]["fix"]
    assert code == (1 if any(f["severity"] == "error" for f in findings) else 0)
    if severity == "warning":
        assert code == 0, findings  # a warning alone does not fail the check


@pytest.mark.parametrize(
    ("rows", "key", "words"),
    [
        (
            """
            [[tool.torchpins.matrix]]
            when = { platform = "darwin" }
            pins = { xformers = "==0.0.30" }

            [[tool.torchpins.matrix]]
            when = { platform = "darwin" }
            pins = { xformers = "==0.0.31" }
            """,
            "tool.torchpins.matrix[1].pins.xformers",
            "both tool.torchpins.matrix[0] (==0.0.30) and this row (==0.0.31)",
        ),
        (
            """
            [[tool.torchpins.matrix]]
            when = { platform = "darwin" }
            drop-extras = ["vllm"]

            [[tool.torchpins.matrix]]
            when = { platform = "darwin" }
            extras = { vllm = ["vllm==0.9"] }
            """,
            "tool.torchpins.matrix[1].extras.vllm",
            "gives back the extra 'vllm' that tool.torchpins.matrix[0] drops",
        ),
    ],
    ids=["conflicting-pins", "extra-given-back"],
)
def test_check_lints_environments_where_an_error_row_applies(
    tmp_path: Path, rows: str, key: str, words: str
) -> None:
    """Rows that fight where a later error row also applies are still reported: the lints see
    the rows that applied before the error, not nothing."""
    body = (
        """
        [tool.torchpins]
        dependencies = ["xformers>=0.0.28"]

        [tool.torchpins.optional-dependencies]
        vllm = ["vllm>=0.8"]
        """
        + rows
        + """
        [[tool.torchpins.matrix]]
        when = { platform = "darwin" }
        error = "macOS is not supported yet"
        """
    )
    directory = project(tmp_path, textwrap.dedent(body))
    _, out, _ = cli("check", "--json", str(directory))
    findings = json.loads(out)
    assert [f for f in findings if f["key"] == key and words in f["message"]], findings


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        (("torchpins.build_meta", "setuptools.build_meta"), "build-system.build-backend",
         "is 'setuptools.build_meta', which does not read [tool.torchpins]"),
        (('build-backend = "torchpins.build_meta"\n', ""), "build-system.build-backend",
         "is not set (pip then uses setuptools), which does not read [tool.torchpins]"),
    ],
    ids=["setuptools-backend", "no-backend"],
)  # fmt: skip
def test_check_finds_a_configuration_no_build_reads(
    tmp_path: Path, change: tuple[str, str], key: str, words: str
) -> None:
    directory = project(tmp_path, CLEAN)
    pyproject = directory / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(*change, 1))
    code, out, _ = cli("check", "--json", str(directory))
    findings = json.loads(out)
    assert [f for f in findings if f["key"] == key and words in f["message"]], findings
    assert code == 1


def test_check_passes_a_wrapped_backend_and_refuses_setup_py_requirements() -> None:
    code, out, _ = cli("check", "--json", str(PROJECTS / "wrapped"))
    assert not [f for f in json.loads(out) if f["key"] == "build-system.build-backend"]
    code, out, _ = cli("check", "--json", str(PROJECTS / "setuppy-requires"))
    (finding,) = [f for f in json.loads(out) if f["key"] == "setup.py"]
    assert "passes install_requires=..., which a torchpins build refuses" in finding["message"]
    assert code == 1


def test_check_text_output_and_exit_code_through_the_console_script(tmp_path: Path) -> None:
    directory = project(tmp_path, CLEAN.replace('torch = "~=2.7.0"', 'torch = "~=2.7.1"'))
    result = run([sys.executable, "-m", "torchpins", "check", str(directory)])
    assert result.returncode == 1
    assert result.stdout.startswith(
        "error: tool.torchpins.matrix: no row covers torch >=2.7,<2.7.1"
    )
    assert "; widen a row or add one" in result.stdout
    assert "torchpins check: 1 error(s), 0 warning(s)" in result.stderr
    assert_no_traceback(result.stderr)


# --------------------------------------------------------------------------------------------
# table and ci-matrix agree with resolve


def resolve_with(directory: Path, arguments: list[str]) -> dict[str, Any]:
    sets = [part for argument in arguments for part in ("--set", argument)]
    code, out, err = cli("resolve", str(directory), *sets, "--json", "--no-markers")
    if code != 0:
        return {"error": err.strip()}
    record: dict[str, Any] = json.loads(out)
    return record


@pytest.mark.parametrize("name", ["finetune-app", "kit", "gpukit", "axolotl-0.8"])
def test_table_agrees_with_resolve_entry_by_entry(name: str) -> None:
    directory = EXAMPLE if name == "finetune-app" else Path(__file__).parent / "projects" / name
    code, out, _ = cli("table", str(directory), "--format", "json")
    assert code == 0
    entries = json.loads(out)
    assert len(entries) >= 4
    for entry in entries:
        record = resolve_with(directory, entry["set"])
        if entry["error"]:
            assert "error" in record, entry
            assert entry["error"] in record["error"]
        else:
            assert record["requires_dist"] == entry["requires_dist"], entry["set"]
            assert record["provides_extra"] == entry["provides_extra"]


def test_table_markdown_has_one_row_per_environment_and_only_varying_columns() -> None:
    code, out, _ = cli("table", str(Path(__file__).parent / "projects" / "kit"), "--set",
                       "platform=linux")  # fmt: skip
    assert code == 0
    lines = out.splitlines()
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header[:2] == ["torch", "build"]
    assert "transformers" not in header  # the same everywhere: not a column
    assert "xformers" in header
    rows = {tuple(c.strip() for c in line.strip("|").split("|"))[:2]: line for line in lines[2:]}
    assert "==0.0.31" in rows[("2.7.1", "cu126")]
    assert "error: finetune-kit needs torch 2.6 or newer" in rows[("2.5", "cpu")]
    assert 'no row covers this torch (unmatched = "error")' in rows[("2.7", "cpu")]


def test_ci_matrix_agrees_with_resolve_and_lists_what_it_leaves_out(tmp_path: Path) -> None:
    directory = copy_project("kit", tmp_path)
    pyproject = directory / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + textwrap.dedent(
            """
            [tool.torchpins.ci]
            python = ["3.11", "3.12"]
            platforms = ["linux-x86_64", "darwin-arm64"]

            [[tool.torchpins.ci.torch]]
            version = "2.7.1"
            builds = ["cu126", "cpu"]

            [[tool.torchpins.ci.torch]]
            version = "2.5.1"
            builds = ["cu124"]
            """
        )
    )
    code, out, err = cli("ci-matrix", str(directory))
    assert code == 0
    assert "\n" not in out.strip()  # one line, for $GITHUB_OUTPUT
    include = json.loads(out)["include"]
    # 2.7.1: (cu126, cpu) on linux + 1 build on macOS, each wheel built once for both Pythons
    # (kit tests the platform, so its wheels are tagged for it, but not the Python); 2.5.1 is
    # refused.
    assert len(include) == 3
    assert {job["torch"] for job in include} == {"2.7.1+cu126", "2.7.1+cpu", "2.7.1"}
    assert err.count("torchpins: left out:") == 4
    assert "finetune-kit needs torch 2.6 or newer" in err
    job = next(j for j in include if j["name"] == "torch2.7.1+cu126-py3.11-linux-x86_64")
    assert job["covers"] == [
        "torch2.7.1+cu126-py3.11-linux-x86_64",
        "torch2.7.1+cu126-py3.12-linux-x86_64",
    ]
    assert len({j["out"] for j in include}) == 3  # one folder per torch build
    assert job["runs-on"] == "ubuntu-latest"
    assert job["install"] == (
        "pip install torch==2.7.1 --index-url https://download.pytorch.org/whl/cu126"
    )
    assert job["env"] == {"TORCHPINS_TORCH": "2.7.1+cu126"}
    assert "xformers==0.0.31" in job["requires-dist"]
    for job in include:
        record = resolve_with(directory, job["set"])
        assert record["requires_dist"] == job["requires-dist"], job["name"]
        assert record["provides_extra"] == job["provides-extra"]
    code, out, _ = cli("ci-matrix", str(directory), "--format", "json")
    assert len(json.loads(out)["excluded"]) == 4


@pytest.mark.parametrize(
    ("ci", "message"),
    [
        ('python = ["3.11"]\nplatforms = ["linux"]', "'linux' is not one of linux-x86_64"),
        ('python = ["3.11"]', "tool.torchpins.ci.torch: expected an array of tables"),
        ('python = ["3.11"]\n[[tool.torchpins.ci.torch]]\nversion = "2.7.1+cu126"',
         'has a label; put the build in builds (builds = ["cu126"])'),
        ('python = ["3.11"]\n[[tool.torchpins.ci.torch]]\nversion = "2.7.1"\nbuilds = ["cuda12"]',
         "'cuda12' is not a torch build label"),
        ('python = ["3"]\n[[tool.torchpins.ci.torch]]\nversion = "2.7.1"',
         "'3' is not a Python version like 3.12"),
    ],
)  # fmt: skip
def test_ci_table_errors_name_the_key(tmp_path: Path, ci: str, message: str) -> None:
    directory = project(
        tmp_path, '[tool.torchpins]\ndependencies = ["a"]\n[tool.torchpins.ci]\n' + ci
    )
    code, _, err = cli("ci-matrix", str(directory))
    assert code == 1
    assert message in err
    assert err.startswith("torchpins: error: tool.torchpins.ci")


def test_ci_matrix_without_a_ci_table_says_what_to_add(tmp_path: Path) -> None:
    code, _, err = cli(
        "ci-matrix", str(project(tmp_path, '[tool.torchpins]\ndependencies = ["a"]\n'))
    )
    assert code == 1
    assert "has no [tool.torchpins.ci] table" in err


# --------------------------------------------------------------------------------------------
# inspect and the runtime guard, on wheels really built


def swap_torch(site: Path, version: str, **build: str) -> None:
    for path in site.glob("torch*"):
        shutil.rmtree(path)
    make_fake_torch(site, version, **build)  # type: ignore[arg-type]


@pytest.fixture
def example_wheel(venv: Venv, tmp_path: Path) -> Path:
    """The example built for real under a fake torch 2.7.1+cu126."""
    site = make_fake_torch(tmp_path / "torch271", "2.7.1+cu126", cuda="12.6")
    source = tmp_path / "src"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    result = pip_wheel(venv, source, tmp_path / "wheels", clean_env(PYTHONPATH=str(site)))
    assert result.returncode == 0, result.stderr
    return only(tmp_path / "wheels", "*.whl")


def test_inspect_check_flags_a_wheel_built_for_another_torch(
    venv: Venv, example_wheel: Path, tmp_path: Path
) -> None:
    same = make_fake_torch(tmp_path / "same", "2.7.1+cu126", cuda="12.6")
    other = make_fake_torch(tmp_path / "other", "2.8.0+cu128", cuda="12.8")
    command = ["-m", "torchpins", "inspect", str(example_wheel), "--check"]
    quiet = venv.run(*command, env=clean_env(PYTHONPATH=str(same)))
    assert quiet.returncode == 0, quiet.stderr
    assert "built for: torch 2.7.1+cu126" in quiet.stdout
    assert "matches: yes" in quiet.stdout
    loud = venv.run(*command, env=clean_env(PYTHONPATH=str(other)))
    assert loud.returncode == 1
    assert "MISMATCH: torch: built for 2.7.1+cu126, here 2.8.0+cu128 (another torch release)" in (
        loud.stdout
    )
    assert "MISMATCH: cuda: built for 12.6, here 12.8 (another torch build)" in loud.stdout
    assert (
        "Rebuild it here: pip install --no-cache-dir --force-reinstall --no-build-isolation "
        "--no-deps finetune-app==0.3.0" in loud.stderr
    )
    assert_no_traceback(loud.stderr)
    # Without --check it only reports.
    assert venv.run(*command[:-1], env=clean_env(PYTHONPATH=str(other))).returncode == 0
    document = json.loads(venv.run(*command, "--json", env=clean_env(PYTHONPATH=str(other))).stdout)
    assert document["matches"] is False
    assert document["record"]["facts"]["torch"] == "2.7.1"


def test_runtime_guard_and_inspect_of_the_installed_distribution(
    venv: Venv, example_wheel: Path, tmp_path: Path
) -> None:
    user, site = overlay_venv(venv, tmp_path / "user")
    assert user.run("-m", "pip", "install", "--no-deps", str(example_wheel)).returncode == 0
    swap_torch(site, "2.7.1+cu126", cuda="12.6")
    imported = user.run("-c", "import finetune_app; print(finetune_app.describe())")
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "finetune-app 0.3.0"
    assert user.run("-m", "torchpins", "inspect", "finetune-app", "--check").returncode == 0

    swap_torch(site, "2.8.0+cu128", cuda="12.8")
    refused = user.run("-c", "import finetune_app")
    assert refused.returncode == 1
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "ImportError: finetune-app 0.3.0 was built for torch 2.7.1+cu126, but torch 2.8.0+cu128 "
        "is installed (another torch release)"
    )
    assert "pip install --no-cache-dir --force-reinstall --no-build-isolation --no-deps" in last
    inspected = user.run("-m", "torchpins", "inspect", "finetune-app", "--check")
    assert inspected.returncode == 1
    assert "finetune-app 0.3.0 was built for torch 2.7.1+cu126" in inspected.stderr

    swap_torch(site, "2.7.1+cpu")  # same release, another build
    refused = user.run("-c", "import finetune_app")
    assert "(another torch build)" in refused.stderr


def test_runtime_guard_can_warn_and_works_from_an_editable_install(
    venv: Venv, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    pyproject = source / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('on-mismatch = "error"', 'on-mismatch = "warn"')
    )
    user, site = overlay_venv(venv, tmp_path / "user")
    swap_torch(site, "2.7.1+cu126", cuda="12.6")
    installed = user.run(
        "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-e", str(source),
        env=clean_env(),
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    assert (source / "src" / "finetune_app" / "_torch_guard.py").is_file()
    quiet = user.run("-W", "error", "-c", "import finetune_app")
    assert quiet.returncode == 0, quiet.stderr
    swap_torch(site, "2.9.0+cu128", cuda="12.8")
    warned = user.run("-c", "import finetune_app; print('imported')")
    assert warned.returncode == 0
    assert warned.stdout.strip() == "imported"
    assert "RuntimeWarning: finetune-app 0.3.0 was built for torch 2.7.1+cu126" in warned.stderr


@pytest.mark.parametrize(
    ("guard", "message"),
    [
        ('file = "../outside.py"', "must be a relative path to a .py file inside the project"),
        ('file = "/abs/guard.py"', "must be a relative path"),
        ('file = "src/pkg/guard.txt"', "must be a relative path to a .py file"),
        ('on-mismatch = "error"', "tool.torchpins.guard.file is missing"),
        ('file = "g.py"\non-mismatch = "raise"', "'raise' is not one of 'error', 'warn'"),
        ('file = "g.py"\nonmismatch = "warn"', "unknown key (did you mean 'on-mismatch'?)"),
    ],
)
def test_guard_settings_errors_name_the_key(tmp_path: Path, guard: str, message: str) -> None:
    directory = project(
        tmp_path, f'[tool.torchpins]\ndependencies = ["a"]\n[tool.torchpins.guard]\n{guard}\n'
    )
    code, _, err = cli("resolve", str(directory), "--set", "torch=2.8.0")
    assert code == 1
    assert message in err
    assert err.startswith("torchpins: error: tool.torchpins.guard")


def test_inspect_of_something_torchpins_did_not_build(tmp_path: Path) -> None:
    code, _, err = cli("inspect", "pip")
    assert code == 1
    assert "holds no torchpins.json: it was not built by torchpins" in err
    code, _, err = cli("inspect", str(tmp_path / "missing.whl"))
    assert (code, "does not exist" in err) == (1, True)
    code, _, err = cli("inspect", "no-such-distribution-anywhere")
    assert "is neither a wheel file nor a distribution installed here" in err


def test_runtime_guard_needs_only_the_standard_library(
    venv: Venv, example_wheel: Path, tmp_path: Path
) -> None:
    target = tmp_path / "target"
    installed = venv.run(
        "-m", "pip", "install", "--no-deps", "--target", str(target), str(example_wheel)
    )
    assert installed.returncode == 0, installed.stderr
    torch_site = make_fake_torch(tmp_path / "torch", "2.7.1+cu126", cuda="12.6")
    code = (
        "import sys\n"
        f"sys.path[:0] = [{str(target)!r}, {str(torch_site)!r}]\n"
        "import finetune_app\n"
        "print(sorted({'torchpins', 'setuptools', 'packaging', 'torch'} & set(sys.modules)))\n"
    )
    # -S: no site-packages at all, so nothing but the standard library can be imported.
    result = run([sys.executable, "-S", "-c", code])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    swap_torch(torch_site, "2.6.0+cu126", cuda="12.6")
    result = run([sys.executable, "-S", "-c", code])
    assert "ImportError: finetune-app 0.3.0 was built for torch 2.7.1+cu126" in result.stderr
