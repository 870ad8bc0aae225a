"""The command line: one module per command, dispatched by cli/main.py.

`main` is re-exported here for the console script (`grok-tui = "grok_tui.cli:main"`) and for
`python -m grok_tui.cli`, which the tests and older sweep definitions use.
"""

from grok_tui.cli.main import main

__all__ = ["main"]
