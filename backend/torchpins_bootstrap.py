"""The backend torchpins builds itself with (``backend-path = ["backend"]``).

It loads torchpins' own hooks from the source tree, so building torchpins needs nothing but the
``build-system.requires`` list. Its setuptools plug-ins are registered by the
``torchpins_bootstrap.dist-info`` folder beside this file, which is on ``sys.path`` whenever this
backend is (the way setuptools bootstraps its own entry points).
"""

from __future__ import annotations

import os
import sys

_SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)

from torchpins import build_meta as _hooks  # noqa: E402
from torchpins.build_meta import *  # noqa: E402, F403

__all__ = _hooks.__all__
