"""Only the compiled part lives here; the metadata and the requirements are in pyproject.toml."""

from setuptools import setup
from torch.utils.cpp_extension import BuildExtension, CppExtension

setup(
    ext_modules=[CppExtension("torch_scale._C", ["src/torch_scale/scale.cpp"])],
    cmdclass={"build_ext": BuildExtension},
)
