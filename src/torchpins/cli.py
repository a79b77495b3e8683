"""``torchpins`` / ``python -m torchpins``: see what a build would probe and write.

Exit status: 0 on success, 1 on a user error (one message on stderr, no traceback), 2 on bad
usage (argparse).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from torchpins import __version__
from torchpins.errors import ConfigError, TorchpinsError


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
        sys.stdout.flush()
    except TorchpinsError as error:
        print(f"torchpins: error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (torchpins table | head): stop quietly, as cat does. Python
        # would flush stdout again at exit and complain, so point it at nothing first.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="torchpins",
        description="Pin a project's dependencies to the installed PyTorch at build time.",
    )
    parser.add_argument("--version", action="version", version=f"torchpins {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    probe = commands.add_parser("probe", help="show the facts of this environment")
    probe.add_argument("--json", action="store_true", help="print JSON")
    probe.add_argument(
        "--all",
        action="store_true",
        help="probe the lazy facts too (cxx11abi, nvcc, cuda-driver, gpu-arch), which a build "
        "probes only when a matrix row tests them",
    )
    probe.set_defaults(run=_probe)

    resolve = commands.add_parser("resolve", help="show what a build of a project would write")
    resolve.add_argument("project", nargs="?", default=".", help="project directory (default: .)")
    _add_set_option(
        resolve,
        "describe another environment (like -C torchpins.FACT=VALUE); "
        "an empty value means absent: --set torch= is 'no torch installed'",
    )
    resolve.add_argument("--json", action="store_true", help="print the build record as JSON")
    resolve.add_argument(
        "--no-markers",
        action="store_true",
        help="decide python, platform and machine here too, as markers = false does: what the "
        "one target that --set describes installs",
    )
    resolve.set_defaults(run=_resolve)

    check = commands.add_parser("check", help="lint the configuration and the matrix")
    check.add_argument("project", nargs="?", default=".", help="project directory (default: .)")
    check.add_argument("--json", action="store_true", help="print the findings as JSON")
    check.set_defaults(run=_check_command)

    inspect = commands.add_parser(
        "inspect", help="show what a wheel or installed distribution was built for"
    )
    inspect.add_argument("target", metavar="WHEEL|DISTRIBUTION", help="a .whl file or a name")
    inspect.add_argument("--json", action="store_true", help="print JSON")
    inspect.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when the torch here does not fit the build, with the reinstall command",
    )
    inspect.set_defaults(run=_inspect_command)

    init = commands.add_parser(
        "init",
        help="turn a setuptools project into a torchpins one (pyproject.toml, in place)",
        description="Moves project.dependencies and optional-dependencies into [tool.torchpins], "
        "marks them dynamic, switches build-system to torchpins and adds a starter matrix row "
        "for the torch installed here, keeping comments and layout (needs tomlkit: pip install "
        "'torchpins[init]'). A project that already uses torchpins is left as it is.",
    )
    init.add_argument("project", nargs="?", default=".", help="project directory (default: .)")
    init.add_argument(
        "--dry-run", action="store_true", help="print the change as a diff; write nothing"
    )
    init.set_defaults(run=_init_command)

    install = commands.add_parser(
        "install",
        help="pip install --no-build-isolation that keeps the installed torch: a cached wheel "
        "built for another torch stops it, with the fix, instead of replacing torch",
        description="Runs pip install --no-build-isolation (uv pip install with --uv) with a "
        "constraint holding torch at the installed version. Everything after the options goes "
        "to the installer: torchpins install PACKAGE [pip options].",
    )
    install.add_argument("--uv", action="store_true", help="use uv pip install instead of pip")
    install.add_argument("arguments", nargs=argparse.REMAINDER, help="what pip install takes")
    install.set_defaults(run=_install_command)

    ci = commands.add_parser(
        "ci-matrix", help="the CI build matrix from [tool.torchpins.ci], one job per wheel"
    )
    ci.add_argument("project", nargs="?", default=".", help="project directory (default: .)")
    ci.add_argument(
        "--format",
        choices=("github", "json"),
        default="github",
        help="github: one line of JSON for strategy.matrix (fromJSON); json: the jobs and the "
        "excluded combinations, indented",
    )
    ci.set_defaults(run=_ci_command)

    table = commands.add_parser(
        "table", help="show the requirements the matrix gives in representative environments"
    )
    table.add_argument("project", nargs="?", default=".", help="project directory (default: .)")
    table.add_argument("--format", choices=("markdown", "json"), default="markdown")
    _add_set_option(table, "fix a fact in every environment (--set platform=linux)")
    table.add_argument(
        "--markers",
        action="store_true",
        help="one row per torch build and other build-time facts, with the requirements in the "
        "marker form a wheel carries (python, platform and machine become markers)",
    )
    table.set_defaults(run=_table_command)

    schema = commands.add_parser(
        "schema", help="print the JSON schema of [tool.torchpins] (for editors), or its reference"
    )
    schema.add_argument("--format", choices=("json", "markdown"), default="json")
    schema.set_defaults(run=_schema_command)
    return parser


def _schema_command(args: argparse.Namespace) -> int:
    from torchpins.schema import json_schema, reference_markdown

    if args.format == "json":
        print(json.dumps(json_schema(), indent=2))
    else:
        print(reference_markdown(), end="")
    return 0


def _add_set_option(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FACT=VALUE",
        type=_fact_assignment,
        help=help,
    )


def _fact_assignment(text: str) -> tuple[str, str]:
    fact, equals, value = text.partition("=")
    if not equals or not fact.strip():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not FACT=VALUE; e.g. --set torch=2.7.1+cu128 (--set torch= for no torch)"
        )
    return fact.strip(), value


def _probe(args: argparse.Namespace) -> int:
    from torchpins.facts import FACTS, format_value
    from torchpins.probe import gather_facts

    facts = gather_facts(probe_all=args.all)
    for warning in facts.warnings:
        print(f"torchpins: warning: {warning}", file=sys.stderr)
    if args.json:
        document = {
            name: {
                "value": list(value) if isinstance(value, tuple) else value,
                "source": facts.sources[name].kind,
                "detail": facts.sources[name].detail,
                "problem": facts.sources[name].problem,
            }
            for name, value in facts.values.items()
        }
        print(json.dumps(document, indent=2))
        return 0
    rows = []
    for name, value in facts.values.items():
        source = facts.sources[name]
        shown = "(unknown)" if source.problem else format_value(value)
        rows.append((name, shown, f"{source.kind}: {source.detail}"))
    _table(("fact", "value", "source"), rows)
    lazy = [name for name, spec in FACTS.items() if spec.lazy and name not in facts.values]
    if lazy:
        print(f"\nprobed only when a matrix row tests them (or with --all): {', '.join(lazy)}")
    return 0


def _fixed_facts(pairs: Sequence[tuple[str, str]], specs: Any) -> dict[str, Any]:
    """The facts ``table --set`` fixes. A torch given without a label leaves its build open:
    the table tries every build the matrix names."""
    from torchpins.facts import BUILD_FACTS, read_overrides

    overrides = read_overrides(set_pairs=pairs, setting_origin="--set {fact}", specs=specs)
    fixed = {name: value for name, (value, _) in overrides.facts.items()}
    if fixed.get("torch") and fixed.get("torch-local") is None:
        for name in BUILD_FACTS:
            if overrides.facts[name][1].kind == "assumed":
                del fixed[name]
    return fixed


def _check_command(args: argparse.Namespace) -> int:
    from torchpins.check import Finding, check
    from torchpins.settings import load_project

    try:
        project = load_project(args.project)
        findings = check(project)
    except ConfigError as error:  # what a build would reject: one finding, the build's message
        findings = [Finding("error", "pyproject.toml", str(error), "a build stops here")]
    errors = sum(finding.severity == "error" for finding in findings)
    if args.json:
        print(json.dumps([finding.__dict__ for finding in findings], indent=2))
    else:
        for finding in findings:
            print(finding)
        warnings = len(findings) - errors
        verdict = (
            "no problems found" if not findings else f"{errors} error(s), {warnings} warning(s)"
        )
        print(f"torchpins check: {verdict}", file=sys.stderr)
    return 1 if errors else 0


def _inspect_command(args: argparse.Namespace) -> int:
    from torchpins.facts import torch_text
    from torchpins.inspection import compare, read_record, reinstall_command
    from torchpins.probe import gather_facts

    inspected = read_record(args.target)
    # the decided facts the record keeps outcomes of are probed too; one that cannot be read
    # here gives no verdict (probe_all reports problems instead of stopping on them)
    here = gather_facts(probe_all=isinstance(inspected.record.get("outcomes"), dict))
    mismatches = compare(inspected, here)
    record = inspected.record
    if args.json:
        document = {
            "name": inspected.name,
            "version": inspected.version,
            "where": inspected.where,
            "record": record,
            "here": {"torch": torch_text(here.values), **dict(here.values)},
            "matches": not mismatches,
            "mismatches": [m.__dict__ for m in mismatches],
            "reinstall": reinstall_command(inspected) if mismatches else None,
        }
        print(json.dumps(document, indent=2, default=list))
    else:
        facts = record["facts"]
        print(f"{inspected.name} {inspected.version} ({inspected.where})")
        built = torch_text(facts)
        print(f"built for: torch {built} by torchpins {record.get('torchpins', '?')}")
        details = ("cuda", "rocm", "accelerator", "python", "platform", "machine")
        shown = [k for k in details if k in facts or k not in ("python", "platform", "machine")]
        print("  " + ", ".join(f"{k} {facts.get(k) or '-'}" for k in shown))
        if record.get("markers"):
            print(f"  written as markers (the installer decides): {', '.join(record['markers'])}")
        print(f"  rows applied: {_rows(record.get('matched', []))}")
        for line in record.get("requires_dist", []):
            print(f"  Requires-Dist: {line}")
        print(f"this environment: torch {torch_text(here.values)} ({here.sources['torch'].detail})")
        if not mismatches:
            print("matches: yes")
        for mismatch in mismatches:
            print(
                f"MISMATCH: {mismatch.fact}: built for {mismatch.built}, here {mismatch.here}"
                f" ({mismatch.why})"
            )
    if mismatches and args.check:
        print(
            f"torchpins: error: {inspected.name} {inspected.version} was built for torch "
            f"{torch_text(record['facts'])}, but this environment has torch "
            f"{torch_text(here.values)}; "
            "a wheel cache reuses old builds because it ignores torch. Rebuild it here: "
            f"{reinstall_command(inspected)}",
            file=sys.stderr,
        )
        return 1
    return 0


def _ci_command(args: argparse.Namespace) -> int:
    from torchpins.ci import jobs
    from torchpins.settings import load_project

    found = jobs(load_project(args.project))
    include = [job.entry for job in found if job.entry is not None]
    excluded = [job.reason for job in found if job.entry is None]
    if args.format == "github":
        print(json.dumps({"include": include}, separators=(",", ":")))
        for reason in excluded:
            print(f"torchpins: left out: {reason}", file=sys.stderr)
    else:
        print(json.dumps({"include": include, "excluded": excluded}, indent=2))
    return 0


def _table_command(args: argparse.Namespace) -> int:
    from torchpins.explore import build_table
    from torchpins.settings import load_project

    project = load_project(args.project)
    fixed = _fixed_facts(args.overrides, project.settings.facts)
    table = build_table(project, fixed, markers=args.markers)
    if args.format == "json":
        document = [
            {
                "environment": outcome.environment.values,
                "set": outcome.environment.set_arguments(),
                "requires_dist": outcome.resolution.requires_dist if outcome.resolution else None,
                "provides_extra": outcome.resolution.provides_extra if outcome.resolution else None,
                "error": str(outcome.error) if outcome.error else None,
                "cells": dict(zip(table.columns, row, strict=True)),
            }
            for outcome, row in zip(table.outcomes, table.rows, strict=True)
        ]
        print(json.dumps(document, indent=2))
        return 0
    print(_markdown(table.columns, table.rows))
    return 0


def _markdown(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    widths = [max(len(cell(line[i])) for line in [columns, *rows]) for i in range(len(columns))]
    lines = [
        "| " + " | ".join(cell(c).ljust(w) for c, w in zip(columns, widths, strict=True)) + " |"
    ]
    lines.append("| " + " | ".join("-" * w for w in widths) + " |")
    for row in rows:
        lines.append(
            "| " + " | ".join(cell(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        )
    return "\n".join(line.rstrip() for line in lines)


def _init_command(args: argparse.Namespace) -> int:
    from torchpins.init import init

    return init(args.project, dry_run=args.dry_run)


def _install_command(args: argparse.Namespace) -> int:
    from torchpins.install import install

    return install(args.arguments, use_uv=args.uv)


def _resolve(args: argparse.Namespace) -> int:
    from torchpins.probe import gather_facts
    from torchpins.resolve import resolve
    from torchpins.settings import load_project

    project = load_project(args.project)
    facts = gather_facts(
        None,
        os.environ,
        project.settings.facts_needed(),
        set_pairs=args.overrides,
        setting_origin="--set {fact}",
        declared=project.settings.env,
    )
    resolution = resolve(project, facts, markers=False if args.no_markers else None)
    for warning in (*facts.warnings, *resolution.warnings):
        print(f"torchpins: warning: {warning}", file=sys.stderr)
    record = resolution.record()
    if args.json:
        print(json.dumps(record, indent=2))
        return 0
    _print_resolution(project.name, record, facts.sources)
    return 0


def _print_resolution(name: str, record: dict[str, Any], sources: Any) -> None:
    from torchpins.facts import format_value

    facts = record["facts"]
    print(f"{name}: a build here would write")
    if record.get("local_version"):
        print(f"  Version: <version>+{record['local_version']}")
    for line in record["requires_dist"]:
        print(f"  Requires-Dist: {line}")
    for extra in record["provides_extra"]:
        print(f"  Provides-Extra: {extra}")
    matched = _rows(record["matched"])
    marked = record.get("markers") or []
    somewhere = " (where their markers hold)" if marked else ""
    print(f"\nmatrix rows applied: {matched}{somewhere}")
    if marked:
        shown = ", ".join(marked)
        print(
            f"written as markers: {shown}; the installer decides them. What one target "
            "installs: torchpins resolve --no-markers --set python=3.11 --set platform=darwin"
        )
    print("facts:")
    rows = []
    for fact, value in facts.items():
        shown = format_value(tuple(value) if isinstance(value, list) else value)
        rows.append((f"  {fact}", shown, f"{sources[fact].kind}: {sources[fact].detail}"))
    _table(None, rows)


def _rows(matched: Sequence[int]) -> str:
    """``matrix[6], matrix[7] (counted from 0)``: rows as the keys in messages name them."""
    if not matched:
        return "none"
    return ", ".join(f"matrix[{index}]" for index in matched) + " (counted from 0)"


def _table(header: tuple[str, ...] | None, rows: Sequence[tuple[str, ...]]) -> None:
    lines = ([header] if header else []) + list(rows)
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))] if lines else []
    for line in lines:
        cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        print("  ".join(cells).rstrip())
