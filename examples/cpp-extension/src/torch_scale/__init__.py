"""torch-scale: a torch C++ extension example built with torchpins."""

import torch  # noqa: F401  (loads libtorch before the extension that links against it)

from torch_scale import _torch_guard  # noqa: F401  (written at build time by torchpins)
from torch_scale._C import scale

__all__ = ["scale"]
