from setuptools import Extension, setup

setup(ext_modules=[Extension("withext._speedup", ["src/withext/_speedup.c"])])
