"""finetune-app: an example project whose dependency pins come from torchpins."""

__version__ = "0.3.0"


def describe() -> str:
    return "finetune-app " + __version__
