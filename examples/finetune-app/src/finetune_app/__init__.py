"""finetune-app: an example project whose dependency pins come from torchpins."""

# Written by torchpins at build time ([tool.torchpins.guard]): stops the import with one clear
# message when the torch present is not the one this build was made for.
from finetune_app import _torch_guard  # noqa: F401

__version__ = "0.3.0"


def describe() -> str:
    return "finetune-app " + __version__
