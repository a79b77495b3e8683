"""torchpins: a PEP 517 build backend that pins a project's dependencies to the installed PyTorch.

The backend object is :mod:`torchpins.build_meta`. Importing this package is cheap on purpose: the
hooks import setuptools and packaging only when a frontend calls them.
"""

__version__ = "0.1.0"
