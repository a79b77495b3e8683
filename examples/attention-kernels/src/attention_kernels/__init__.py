"""attention-kernels: an example project whose dependency pins come from torchpins formulas."""

__version__ = "0.4.0"
