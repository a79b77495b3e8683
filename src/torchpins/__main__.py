"""``python -m torchpins``: the command line."""

from torchpins.cli import main

raise SystemExit(main())
