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
from torchpins.errors import OverrideError, TorchpinsError


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
    except TorchpinsError as error:
        print(f"torchpins: error: {error}", file=sys.stderr)
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
    resolve.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FACT=VALUE",
        type=_fact_assignment,
        help="describe another environment (like -C torchpins.FACT=VALUE); "
        "an empty value means absent: --set torch= is 'no torch installed'",
    )
    resolve.add_argument("--json", action="store_true", help="print the build record as JSON")
    resolve.set_defaults(run=_resolve)
    return parser


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


def _resolve(args: argparse.Namespace) -> int:
    from torchpins.probe import gather_facts
    from torchpins.resolve import resolve
    from torchpins.settings import load_project

    overrides: dict[str, str | list[str]] = {}
    for fact, value in args.overrides:
        if f"torchpins.{fact}" in overrides:
            raise OverrideError(f"--set {fact} is given more than once; give it once")
        overrides[f"torchpins.{fact}"] = value
    project = load_project(args.project)
    facts = gather_facts(
        overrides, os.environ, project.settings.facts_needed(), setting_name="--set {fact}"
    )
    resolution = resolve(project, facts)
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
    for line in record["requires_dist"]:
        print(f"  Requires-Dist: {line}")
    for extra in record["provides_extra"]:
        print(f"  Provides-Extra: {extra}")
    matched = ", ".join(map(str, record["matched"])) or "none"
    print(f"\nmatrix rows applied: {matched}")
    print("facts:")
    rows = []
    for fact, value in facts.items():
        shown = format_value(tuple(value) if isinstance(value, list) else value)
        rows.append((f"  {fact}", shown, f"{sources[fact].kind}: {sources[fact].detail}"))
    _table(None, rows)


def _table(header: tuple[str, ...] | None, rows: Sequence[tuple[str, ...]]) -> None:
    lines = ([header] if header else []) + list(rows)
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))] if lines else []
    for line in lines:
        cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        print("  ".join(cells).rstrip())
