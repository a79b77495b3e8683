"""torchpins benchmarks, run by hand: ``python benchmarks/run.py [--runs N]``.

Prints one table: each figure beside its target. Timings are medians over repeated runs; where
torchpins is compared with a baseline, the two run interleaved, in pairs, and the median of the
per-pair ratios is reported. Needs torchpins installed (``pip install -e .``), setuptools, build,
and for the first row the real torch (``pip install torch``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "finetune-app"
PYTHON = sys.executable
#: Children run as installed code does: with bytecode cached (PYTHONDONTWRITEBYTECODE would
#: make every run compile torchpins, setuptools and torch from source).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def child(code: str, cwd: Path | None = None) -> str:
    """Run ``code`` in a fresh interpreter; its last output line."""
    result = subprocess.run(
        [PYTHON, "-c", code], cwd=cwd, capture_output=True, text=True, check=False, env=ENV
    )
    if result.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


def wall(command: list[str], cwd: Path | None = None) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False, env=ENV)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return elapsed


def paired(
    ours: Callable[[], float], theirs: Callable[[], float], runs: int
) -> tuple[float, float, float]:
    """Medians of ours and theirs, and the median of the per-pair ratios; the order inside each
    pair alternates, so drift and caches favour neither."""
    mine, base, ratios = [], [], []
    ours(), theirs()  # warm-up: bytecode written, files cached
    for index in range(runs):
        if index % 2:
            b, a = theirs(), ours()
        else:
            a, b = ours(), theirs()
        mine.append(a)
        base.append(b)
        ratios.append(a / b)
    return statistics.median(mine), statistics.median(base), statistics.median(ratios)


# --------------------------------------------------------------------------------------------
# The projects: the example through torchpins, and its static twin for plain setuptools


def prepare(workdir: Path) -> tuple[Path, Path]:
    ours = workdir / "ours"
    shutil.copytree(EXAMPLE, ours, ignore=shutil.ignore_patterns("build", "*.egg-info", "dist"))
    record = json.loads(
        subprocess.run(
            [PYTHON, "-m", "torchpins", "resolve", str(ours), "--json"],
            capture_output=True, text=True, check=True,
        ).stdout
    )  # fmt: skip
    twin = workdir / "twin"
    shutil.copytree(ours, twin)
    text = (twin / "pyproject.toml").read_text().split("[tool.torchpins]")[0]
    text = text.replace(
        'build-backend = "torchpins.build_meta"', 'build-backend = "setuptools.build_meta"'
    )
    base = [line for line in record["requires_dist"] if "extra ==" not in line]
    extras: dict[str, list[str]] = {name: [] for name in record["provides_extra"]}
    for line in record["requires_dist"]:
        if "extra ==" in line:
            requirement, _, marker = line.partition(";")
            extra = marker.split('extra == "')[1].split('"')[0]
            extras[extra].append(requirement.strip())
    text = text.replace(
        'dynamic = ["dependencies", "optional-dependencies"]',
        "dependencies = " + json.dumps(base),
    )
    text += "\n[project.optional-dependencies]\n"
    text += "".join(f"{json.dumps(name)} = {json.dumps(reqs)}\n" for name, reqs in extras.items())
    (twin / "pyproject.toml").write_text(text)
    # The guard module the torchpins build writes, so that both trees hold the same files.
    subprocess.run(
        [PYTHON, "-m", "torchpins", "resolve", str(ours)], capture_output=True, check=True
    )
    return ours, twin


def clean(project: Path) -> None:
    for leftover in (project / "build", project / "dist", *project.glob("src/*.egg-info")):
        shutil.rmtree(leftover, ignore_errors=True)


def pip_wheel(project: Path, out: Path) -> float:
    clean(project)
    shutil.rmtree(out, ignore_errors=True)
    return wall([PYTHON, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps",
                 "--no-cache-dir", "--disable-pip-version-check", "-q", "-w", str(out),
                 str(project)])  # fmt: skip


def build(project: Path, out: Path) -> float:
    clean(project)
    shutil.rmtree(out, ignore_errors=True)
    return wall([PYTHON, "-m", "build", "--no-isolation", "-o", str(out), str(project)])


def prepare_metadata(project: Path, backend: str, out: Path) -> float:
    clean(project)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    code = f"import {backend} as b; b.prepare_metadata_for_build_wheel({str(out)!r})"
    return wall([PYTHON, "-c", code], cwd=project)


def peak_memory(project: Path, backend: str, out: Path) -> float:
    """Peak resident memory (MB) of one process that builds the wheel."""
    clean(project)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    code = (
        f"import resource, {backend} as b; b.build_wheel({str(out)!r}); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    return int(child(code, cwd=project)) / 1024


# --------------------------------------------------------------------------------------------
# Resolving generated matrices


def generated(rows: int, packages: int = 300) -> dict[str, object]:
    rng = random.Random(rows)
    names = [f"pkg{i}" for i in range(packages)]
    matrix = []
    for index in range(rows):
        minor = rng.randrange(0, 14)
        row: dict[str, object] = {"when": {"torch": f"~=2.{minor}.0"}}
        if index % 3 == 0:
            row["when"] = {"torch": f">=2.{minor},<2.{minor + 2}", "platform": "linux"}
        row["pins"] = {rng.choice(names): f"=={rng.randrange(1, 9)}.{index}"}
        if index % 5 == 0:
            row["add"] = [f"extra{index}>=1"]
        matrix.append(row)
    return {
        "dependencies": [f"{name}>=0.1" for name in names],
        "unmatched": "ignore",
        "matrix": matrix,
    }


def flash_style(rows: int) -> str:
    """A flash-attention-style matrix written out row by row, as projects did before formulas:
    one row per torch minor x CUDA x C++ ABI x Python, each adding its prebuilt wheel's URL.
    More rows mean more torch releases (the other facts stay as they are)."""
    import itertools

    cudas = ["11.8", "12.1", "12.4", "12.6", "12.8", "12.9"]
    pythons = ["3.9", "3.10", "3.11", "3.12", "3.13"]
    lines = [
        '[build-system]\nrequires = ["torchpins"]\nbuild-backend = "torchpins.build_meta"\n',
        '[project]\nname = "fa"\nversion = "2.8.3"\ndynamic = ["dependencies"]\n',
        '[tool.torchpins]\ndependencies = ["einops"]\nunmatched = "ignore"\n',
    ]
    combos = itertools.product(range(1000), cudas, (True, False), pythons)
    for minor, cuda, abi, python in itertools.islice(combos, rows):
        tag = python.replace(".", "")
        url = (
            f"flash-attn @ https://example.org/flash_attn-2.8.3+cu{cuda.split('.')[0]}torch2."
            f"{minor}cxx11abi{str(abi).upper()}-cp{tag}-cp{tag}-linux_x86_64.whl"
        )
        lines.append(
            f'[[tool.torchpins.matrix]]\nwhen = {{ torch = "~=2.{minor}.0", cuda = "=={cuda}.*", '
            f'cxx11abi = {str(abi).lower()}, python = "~={python}.0" }}\nadd = ["{url}"]\n'
        )
    return "\n".join(lines)


def scale_times(rows: int, runs: int, work: Path) -> tuple[float, float, float]:
    """Wall times of ``torchpins resolve``, ``check`` and ``table`` on a flash-style matrix."""
    project = work / f"flash-{rows}"
    project.mkdir(parents=True, exist_ok=True)
    (project / "pyproject.toml").write_text(flash_style(rows))
    command = _command()
    runs = max(1, runs if rows <= 1000 else 1)

    def median(*arguments: str) -> float:
        return statistics.median(wall([*command, *arguments]) for _ in range(runs))

    resolve = median("resolve", str(project), "--set", "torch=2.0.0+cu128", "--set", "cxx11abi=1")
    return resolve, median("check", str(project)), median("table", str(project), "--format", "json")


def _command() -> list[str]:
    beside = Path(PYTHON).parent / "torchpins"  # the script of this interpreter, not PATH's
    script = str(beside) if beside.exists() else shutil.which("torchpins") or ""
    return [script] if script else [PYTHON, "-m", "torchpins"]


def resolve_time(rows: int, runs: int) -> float:
    from torchpins.facts import Facts, Source
    from torchpins.resolve import resolve
    from torchpins.settings import Project, parse_settings

    project = Project(".", "generated", parse_settings(generated(rows)))
    values = {"torch": "2.8.0", "torch-local": "cu128", "cuda": "12.8", "rocm": None,
              "accelerator": "cuda", "python": "3.12", "platform": "linux",
              "machine": "x86_64", "glibc": "2.36"}  # fmt: skip
    facts = Facts(values, dict.fromkeys(values, Source("override", "benchmark")))
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        resolve(project, facts)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="repetitions per figure (default 15)")
    runs = parser.parse_args().runs
    rows: list[tuple[str, str, str, str, bool]] = []

    def add(what: str, value: str, baseline: str, target: str, met: bool) -> None:
        rows.append((what, value, baseline, target, met))
        print(f"  measured: {what}", file=sys.stderr)

    # 1. probing vs import torch
    probe_code = (
        "import time; t = time.perf_counter(); from torchpins.probe import gather_facts; "
        "gather_facts(); print(time.perf_counter() - t)"
    )
    torch_code = (
        "import time; t = time.perf_counter(); import torch; print(time.perf_counter() - t)"
    )
    # torchpins' own work inside a build: a hook has already imported setuptools' build_meta
    # (and with it dataclasses, enum, ast, packaging) when torchpins loads, probes and resolves.
    in_build_code = (
        "import setuptools.build_meta, time, contextlib, io; t = time.perf_counter(); "
        "from torchpins._setuptools import prepare_injection\n"
        "with contextlib.redirect_stderr(io.StringIO()):\n"
        "    prepare_injection('.', None, sdist=False)\n"
        "print(time.perf_counter() - t)"
    )
    in_build = statistics.median(float(child(in_build_code, cwd=EXAMPLE)) for _ in range(runs))
    add("torchpins' work inside a build (load, probe, resolve)", f"{in_build * 1000:.1f} ms",
        "", "< 30 ms", in_build < 0.030)  # fmt: skip
    has_torch = child("import importlib.util; print(importlib.util.find_spec('torch') is not None)")
    if has_torch == "True":
        probe_s, torch_s, _ = paired(
            lambda: float(child(probe_code)), lambda: float(child(torch_code)), runs
        )
        # For information: no build or command runs the probe alone (a build has imported
        # dataclasses, ast and packaging before it probes), so it has no target of its own; what
        # a build sees is the row above and the build rows below.
        add("probe the default facts alone (in process, cold)", f"{probe_s * 1000:.1f} ms",
            f"import torch {torch_s * 1000:.0f} ms", "(information)", True)  # fmt: skip
        add("  speed-up over import torch", f"{torch_s / probe_s:.0f}x", "", "(information)",
            True)  # fmt: skip
    else:
        add("probe vs import torch", "n/a: torch is not installed", "", ">= 100x", False)

    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        ours, twin = prepare(work)
        # 2. builds through frontends, paired with the static twin
        a, b, ratio = paired(
            lambda: pip_wheel(ours, work / "o1"), lambda: pip_wheel(twin, work / "o2"), runs
        )
        add("pip wheel --no-build-isolation (example)", f"{a:.2f} s", f"setuptools {b:.2f} s",
            f"{(ratio - 1) * 100:+.1f}% (<= +5%)", ratio <= 1.05)  # fmt: skip
        a, b, ratio = paired(
            lambda: build(ours, work / "o1"), lambda: build(twin, work / "o2"), runs
        )
        add("python -m build --no-isolation (sdist + wheel)", f"{a:.2f} s", f"setuptools {b:.2f} s",
            f"{(ratio - 1) * 100:+.1f}% (<= +5%)", ratio <= 1.05)  # fmt: skip
        a, b, ratio = paired(
            lambda: prepare_metadata(ours, "torchpins.build_meta", work / "m1"),
            lambda: prepare_metadata(twin, "setuptools.build_meta", work / "m2"),
            runs,
        )
        add("prepare_metadata_for_build_wheel (fresh process)", f"{a * 1000:.0f} ms",
            f"setuptools {b * 1000:.0f} ms", f"{(ratio - 1) * 100:+.1f}% (<= +10%)",
            ratio <= 1.10)  # fmt: skip
        # 6. peak memory
        mine = statistics.median(
            peak_memory(ours, "torchpins.build_meta", work / "w1") for _ in range(3)
        )
        base = statistics.median(
            peak_memory(twin, "setuptools.build_meta", work / "w2") for _ in range(3)
        )
        add("peak memory of build_wheel", f"{mine:.1f} MB", f"setuptools {base:.1f} MB",
            f"{mine - base:+.1f} MB (<= +10 MB)", mine - base <= 10)  # fmt: skip

    # 4. resolving generated matrices
    times = {n: resolve_time(n, runs) for n in (10, 100, 1000, 10000)}
    add("resolve 1,000 rows over 300 packages", f"{times[1000] * 1000:.1f} ms", "", "<= 50 ms",
        times[1000] <= 0.050)  # fmt: skip
    per_row = {n: times[n] / n * 1e6 for n in times}
    linear = per_row[10000] <= 2 * per_row[1000]
    for n in times:
        add(f"  resolve {n:,} rows", f"{times[n] * 1000:.2f} ms", f"{per_row[n]:.1f} us/row",
            "linear in rows", linear)  # fmt: skip

    # 5. check and table against resolve, on written-out matrices of growing size
    with tempfile.TemporaryDirectory() as temporary:
        scale = {n: scale_times(n, min(runs, 5), Path(temporary)) for n in (10, 100, 720, 10000)}
    for n, (resolve_s, check_s, table_s) in scale.items():
        ratio = max(check_s, table_s) / resolve_s
        add(f"  check / table, {n:,} rows (resolve {resolve_s:.2f} s)",
            f"{check_s:.2f} / {table_s:.2f} s", f"{ratio:.1f}x resolve",
            "<= 20x resolve", ratio <= 20)  # fmt: skip
    per_row = {n: max(times[1:]) / n for n, times in scale.items()}
    add("  check / table growth, 720 -> 10,000 rows", f"{per_row[10000] / per_row[720]:.2f}",
        "per-row cost ratio", "linear: <= 2", per_row[10000] <= 2 * per_row[720])  # fmt: skip

    # 6. cold start of the command line
    command = _command()
    cold = statistics.median(
        wall([*command, "resolve", str(EXAMPLE), "--set", "torch=2.8.0+cu128"]) for _ in range(runs)
    )
    add(
        "torchpins resolve, cold start (wall)",
        f"{cold * 1000:.0f} ms",
        "",
        "<= 150 ms",
        cold <= 0.150,
    )
    cold = statistics.median(wall([*command, "probe"]) for _ in range(runs))
    add("torchpins probe, cold start (wall)", f"{cold * 1000:.0f} ms", "", "<= 150 ms",
        cold <= 0.150)  # fmt: skip

    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"\ntorchpins benchmarks ({runs} runs each; {machine})\n")
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    header = ("what", "torchpins", "baseline", "target")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + "  met")
    for row in rows:
        cells = "  ".join(str(c).ljust(w) for c, w in zip(row[:4], widths, strict=True))
        print(cells + "  " + ("yes" if row[4] else "NO"))
    if not all(row[4] for row in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
