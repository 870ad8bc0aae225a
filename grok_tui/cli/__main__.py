"""`python -m grok_tui.cli`: the same command as `grok-tui`."""

import sys

from grok_tui.cli.main import main

sys.exit(main())
