"""This project's own backend: torchpins' hooks, re-exported."""

from torchpins.build_meta import *  # noqa: F403
