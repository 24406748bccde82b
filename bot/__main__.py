"""`python -m bot` is the `vecinos` command."""

from bot.cli import main

raise SystemExit(main())
