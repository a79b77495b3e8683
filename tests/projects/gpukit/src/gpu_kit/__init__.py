"""gpu-kit: a test project."""
