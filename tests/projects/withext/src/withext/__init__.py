from withext._speedup import add  # noqa: F401
