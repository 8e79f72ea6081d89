"""``python -m convergio``: the command line."""

from convergio.cli import main

raise SystemExit(main())
