"""The test suite on every supported Python, at both ends of setuptools: ``python -m nox``.

Sessions: ``tests-3.10(setuptools='floor')`` ... ``tests-3.13(setuptools='newest')``; see FULL
for which run the whole suite and which the core subset. nox finds
each ``python3.X`` on PATH; with pyenv, make them all visible at once with
``PYENV_VERSION=$(pyenv versions --bare | tr '\\n' :)`` (as ``.ci/run`` does). The venv
the tests build projects in gets the session's setuptools (through SETUPTOOLS_UNDER_TEST),
besides the floor venv some tests always use. The real torch is installed only where this
machine has a wheel for it (Python 3.11); elsewhere the tests of the real torch skip, saying so.
"""

from __future__ import annotations

import os

import nox

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
SETUPTOOLS = {"floor": "setuptools==75.8.0", "newest": "setuptools"}
TORCH = {"3.11": "torch==2.13.0"}
#: Sessions that run the whole suite: the oldest and the newest Python, at both ends of
#: setuptools. The others run the tests marked core (the builds through every frontend, the
#: matrix, the errors, the command line, probing and hygiene), which keeps CI within its time.
FULL = {("3.10", "floor"), ("3.13", "newest")}

nox.options.error_on_missing_interpreters = True  # a missing Python fails, never skips silently
nox.options.reuse_existing_virtualenvs = False


@nox.session(python=PYTHONS)
@nox.parametrize("setuptools", list(SETUPTOOLS))
def tests(session: nox.Session, setuptools: str) -> None:
    # .ci/run runs the whole suite first, on its own Python with the newest setuptools, and
    # names that session here: its core subset would only run again what already passed. (Not
    # a TORCHPINS_ variable: torchpins refuses names it does not know in builds.)
    if os.environ.get("CI_WHOLE_SUITE_RAN") == f"{session.python}-{setuptools}":
        session.skip("the whole suite ran on this Python and setuptools already (.ci/run)")
    requirement = SETUPTOOLS[setuptools]
    extra = (
        [TORCH[session.python]]
        if isinstance(session.python, str) and session.python in TORCH
        else []
    )
    # The session itself keeps the newest setuptools (torchpins' own build needs 77+ for its
    # PEP 639 licence); the venvs the tests build projects in get the one under test.
    session.install("-e", ".[test]", *extra)
    subset = [] if (session.python, setuptools) in FULL else ["-m", "core"]
    session.run(
        "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *subset, *session.posargs,
        env={"SETUPTOOLS_UNDER_TEST": requirement},
    )  # fmt: skip
