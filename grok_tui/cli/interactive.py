"""The commands that open the TUI: the bare `grok-tui [config flags]` (the form), `watch` and `compare`.

Each checks its arguments before the app starts, so a wrong tag or sweep is one line and exit 2, not a
blank screen.
"""

from __future__ import annotations

import argparse
from typing import Any

from grok_tui.cli.common import EXIT_OK, UsageError, add_root, require_runs
from grok_tui.cli.train import config_from_args


def add_parsers(commands: Any) -> None:
    compare = commands.add_parser("compare", help="live comparison of runs in the TUI",
                                  description="Open the compare view: test accuracy, train and test loss of every "
                                  "run, seed groups as median and band, updating while any of them trains.")
    compare.add_argument("tags", nargs="+", metavar="TAG", help="the runs to compare")
    add_root(compare)

    watch = commands.add_parser("watch", help="live charts of a run another process is training",
                                description="Attach the live view to logs/TAG (read-only): it follows the log "
                                "as it grows and as it is cut back on resume.")
    watch.add_argument("tag", nargs="?", default=None, help="the run to watch")
    watch.add_argument("--sweep", metavar="NAME", default=None,
                       help="the sweep view instead: its members, their states and the phase grid, live")
    add_root(watch)


def cmd_tui(args: argparse.Namespace) -> int:
    from grok_tui.tui.app import GrokApp

    args.fresh = False
    config = config_from_args(args, check=False)
    return GrokApp(config, root=args.root, config_given=hasattr(args, "tag")).run() or EXIT_OK


def cmd_watch(args: argparse.Namespace) -> int:
    from grok_tui.run.paths import RunPaths
    from grok_tui.tui.app import GrokApp

    if (args.tag is None) == (args.sweep is None):
        raise UsageError("watch: give a run's tag, or --sweep NAME")
    if args.sweep is not None:
        from grok_tui.sweeps.results import member_results

        member_results(args.sweep, args.root)  # an unknown or broken sweep: one line, before the TUI opens
        return GrokApp(root=args.root, sweep=args.sweep).run() or EXIT_OK
    paths = RunPaths.of(args.tag, args.root)
    if not paths.exists():
        raise UsageError(f"tag: no run {args.tag!r} under {paths.root.resolve() / 'logs'}")
    return GrokApp(root=args.root, watch=args.tag).run() or EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from grok_tui.tui.app import GrokApp

    require_runs(args.tags, args.root)
    return GrokApp(root=args.root, compare=list(dict.fromkeys(args.tags))).run() or EXIT_OK
