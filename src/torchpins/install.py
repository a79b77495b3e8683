"""``torchpins install``: pip (or uv) install that never replaces the installed torch.

pip's and uv's caches keep a wheel built from an sdist without noting the torch it was built
against, so a wheel built for torch 2.7 is reused in an environment with torch 2.8, and its
``torch==2.7.*`` makes the installer swap the user's torch for 2.7. This command runs the
installer with ``--no-build-isolation`` and a constraint holding torch at exactly the version
installed, so that the installer can only keep it: a fresh build gets this torch's pins, and a
stale cached wheel makes the installer stop, which this command then explains, naming the fix.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence

from packaging.utils import canonicalize_name

from torchpins.errors import TorchpinsError
from torchpins.facts import torch_text

#: What the installers say when a requirement on torch conflicts with the constraint: pip
#: ("pkg 1.0 depends on torch==2.7.*"), uv ("pkg==1.0 depends on torch==2.7.*", "all versions
#: of pkg depend on torch==2.7.*").
_NAME = r"([A-Za-z0-9][A-Za-z0-9._-]*)"
_DEPENDS = (
    re.compile(rf"all versions of {_NAME} depend on torch\b([^\s,]*)"),
    re.compile(rf"{_NAME}(?:==| )[^\s]+ depends on torch\b([^\s,]*)"),
)


def installed_torch() -> str:
    """The installed torch, as a constraint names it exactly (``2.8.0+cu128``)."""
    from torchpins.probe import gather_facts

    facts = gather_facts(None, os.environ, {"torch"})
    if not facts.values.get("torch"):
        raise TorchpinsError(
            f"no torch is installed for {sys.executable}, so there is none to keep: install the "
            "torch you want first (e.g. pip install torch --index-url "
            "https://download.pytorch.org/whl/cpu), then run torchpins install again"
        )
    return torch_text(facts.values)


def command(use_uv: bool, constraint: str, arguments: Sequence[str]) -> list[str]:
    if use_uv:
        from shutil import which

        uv = which("uv")
        if uv is None:
            try:
                from uv import find_uv_bin

                uv = find_uv_bin()
            except ImportError:
                raise TorchpinsError(
                    "--uv: uv is not installed here (pip install uv), or leave out --uv to use pip"
                ) from None
        return [uv, "pip", "install", "--python", sys.executable, "--no-build-isolation",
                "-c", constraint, *arguments]  # fmt: skip
    return [sys.executable, "-m", "pip", "install", "--no-build-isolation", "-c", constraint,
            *arguments]  # fmt: skip


def install(arguments: Sequence[str], *, use_uv: bool = False) -> int:
    """Run the installer; its output passes through. 0 when it succeeded."""
    if not arguments:
        raise TorchpinsError(
            "name what to install, as you would to pip: torchpins install PACKAGE [pip options]"
        )
    torch = installed_torch()
    tool = "uv" if use_uv else "pip"
    with tempfile.TemporaryDirectory(prefix="torchpins-") as folder:
        constraint = os.path.join(folder, "keep-torch.txt")
        with open(constraint, "w", encoding="utf-8") as file:
            file.write(f"torch=={torch}\n")
        print(f"torchpins: keeping torch {torch}: {tool} install with -c torch=={torch}",
              file=sys.stderr)  # fmt: skip
        process = subprocess.Popen(
            command(use_uv, constraint, arguments),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        assert process.stdout is not None
        seen: list[str] = []
        for line in process.stdout:
            sys.stdout.write(line)
            seen.append(line)
            del seen[:-400]  # the installer's last words are what explain a failure
        code = process.wait()
    if code == 0:
        return 0
    text = "".join(seen)
    stale = {name: spec for pattern in _DEPENDS for name, spec in pattern.findall(text)}
    stale = {n: s for n, s in stale.items() if n.lower() != "torch" and s.strip() != f"=={torch}"}
    if not stale:
        return code
    names = " ".join(sorted(stale))
    wants = ", ".join(f"{name} wants torch{spec}" for name, spec in sorted(stale.items()))
    # pip cache remove matches wheel file names, which spell the name with underscores
    files = " ".join(sorted(canonicalize_name(n).replace("-", "_") for n in stale))
    clean = f"pip cache remove {files}" if not use_uv else f"uv cache clean {names}"
    raise TorchpinsError(
        f"{tool} stopped rather than replace torch {torch} ({wants}): a wheel of {names} built "
        f"for another torch is in {tool}'s cache. Remove it ({clean}) and run this command "
        "again, which builds it for this torch"
    )
