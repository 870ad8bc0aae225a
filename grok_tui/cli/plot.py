"""`grok-tui plot`: a run's curves or progress measures, a comparison of runs, or a sweep's figure.

Every figure is written in the format its --out suffix names (.png, .pdf, .svg); the size and dpi are
checked before anything is drawn. Importing this module loads no torch (plot stays light).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

from grok_tui.cli.common import EXIT_OK, FLOAT, INT, UsageError, add_root, require_runs


def add_parser(commands: Any) -> None:
    plot = commands.add_parser("plot", help="write a run's curves, its progress measures, or a comparison of runs",
                               description="Write logs/TAG/training_curves.png, or with --measures "
                                           "logs/TAG/progress_measures.png, from the run's log; with two or more "
                                           "tags, the comparison (test accuracy, train and test loss; seed groups "
                                           "as median and min-max band) to logs/compare-TAG+TAG.png. --out names "
                                           "another file: .png, .pdf or .svg.")
    plot.add_argument("tags", nargs="*", metavar="TAG", help="the run to plot, or several runs to compare")
    plot.add_argument("--sweep", metavar="NAME", default=None,
                      help="the sweep's figure: epochs to grok against one swept field, or a phase diagram "
                           "of two (default ROOT/sweeps/NAME.png)")
    plot.add_argument("--log-axis", choices=("auto", "on", "off"), default=None,
                      help="with --sweep: a log axis for the swept field; auto (the default): for lr, weight_decay "
                           "and adam_eps when the values span a decade or more")
    plot.add_argument("--measures", action="store_true",
                      help="the progress-measures figure (restricted/excluded loss, Gini, weight norm, frequencies)")
    plot.add_argument("--offline", action="store_true",
                      help="with --measures: the measures of `grok-tui measures TAG` (one key set over the snapshots) "
                           "to logs/TAG/progress_measures_offline.png")
    plot.add_argument("--out", type=Path, default=None,
                      help="the file to write, .png, .pdf or .svg (default under logs/)")
    plot.add_argument("--log-x", action="store_true", help="log-scale epoch axis")
    plot.add_argument("--dpi", type=INT, default=150, help="resolution of a PNG (default 150)")
    plot.add_argument("--width", type=FLOAT, default=None, metavar="INCHES",
                      help="figure width in inches, e.g. 3.5 for a paper column, 7 for two (fonts follow)")
    plot.add_argument("--height", type=FLOAT, default=None, metavar="INCHES", help="figure height in inches")
    plot.add_argument("--runs", dest="show_runs", action="store_true",
                      help="comparison: draw each seed's own line too, thin, over its group's band")
    add_root(plot)


def run(args: argparse.Namespace) -> int:
    from grok_tui.figures.comparison import default_comparison_path, plot_comparison
    from grok_tui.figures.curves import plot_progress_measures, plot_training_curves
    from grok_tui.figures.style import (
        COMPARE_SIZE,
        CURVES_SIZE,
        MEASURES_SIZE,
        FigureFormatError,
        check_legible,
        check_size,
        figure_format,
    )
    from grok_tui.run.paths import RunPaths

    if bool(args.tags) == bool(args.sweep):
        raise UsageError("plot: give one or more run tags, or --sweep NAME")
    if args.dpi < 50 or args.dpi > 1200:
        raise UsageError(f"argument --dpi: must be between 50 and 1200 (got {args.dpi})")
    if args.out is not None:
        try:
            figure_format(args.out)
        except FigureFormatError as err:
            raise UsageError(f"argument --out: {err}") from None
    if args.log_axis is not None and not args.sweep:
        raise UsageError("argument --log-axis: goes with --sweep (grok-tui plot --sweep NAME --log-axis on)")
    if args.sweep:
        from grok_tui.sweeps.figure import SWEEP_SIZE, plot_sweep

        size = (args.width or SWEEP_SIZE[0], args.height or SWEEP_SIZE[1])
        try:
            check_size(*size, dpi=args.dpi)
        except ValueError as err:
            raise UsageError(f"argument --width/--height: {err}") from None
        for written in plot_sweep(args.sweep, out=args.out, root=args.root, dpi=args.dpi, size=size,
                                  log_axis=args.log_axis or "auto"):
            print(written)
        return EXIT_OK
    require_runs(args.tags, args.root)
    comparing = len(args.tags) > 1
    if comparing and args.measures:
        raise UsageError("argument --measures: takes one tag (the progress measures of one run)")
    if args.offline and not args.measures:
        raise UsageError("argument --offline: goes with --measures (grok-tui plot TAG --measures --offline)")
    default = (COMPARE_SIZE if comparing else MEASURES_SIZE if args.measures
               else CURVES_SIZE)
    size = (args.width if args.width is not None else default[0],
            args.height if args.height is not None else default[1])
    try:
        check_size(*size, dpi=args.dpi)
        check_legible("comparison" if comparing else "measures" if args.measures else "curves", *size)
    except ValueError as err:
        raise UsageError(f"argument --width/--height: {err}") from None
    if comparing:
        out = args.out if args.out is not None else default_comparison_path(args.tags, args.root)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            plot_comparison(args.tags, out=out, root=args.root, log_x=args.log_x, dpi=args.dpi, size=size,
                                     show_runs=args.show_runs)
        for warning in caught:
            print(f"grok-tui: warning: {' '.join(str(warning.message).split())}", file=sys.stderr)
        print(out)
        return EXIT_OK
    paths = RunPaths.of(args.tags[0], args.root)
    with warnings.catch_warnings(record=True) as caught:  # a broken config.json: one line, the figure still drawn
        warnings.simplefilter("always")
        if args.offline:
            from grok_tui.figures.offline import plot_offline_measures

            out = plot_offline_measures(args.tags[0], out=args.out, root=args.root, log_x=args.log_x, dpi=args.dpi,
                                        size=size)
        elif args.measures:
            out = args.out if args.out is not None else paths.measures_png
            plot_progress_measures(args.tags[0], out=out, root=args.root, log_x=args.log_x, dpi=args.dpi,
                                            size=size)
        else:
            out = args.out if args.out is not None else paths.curves_png
            plot_training_curves(args.tags[0], out=out, root=args.root, log_x=args.log_x, dpi=args.dpi,
                                          size=size)
    for warning in caught:
        print(f"grok-tui: warning: {' '.join(str(warning.message).split())}", file=sys.stderr)
    print(out)
    return EXIT_OK
