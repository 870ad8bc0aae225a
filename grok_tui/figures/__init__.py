"""Figures and the numbers behind the charts: matplotlib figures of a run (curves.py), of several runs
(comparison.py) and of offline measures (offline.py) with their shared style (style.py); the log as the
figures read it (figure_log.py); seed groups and their statistics (groups.py); chart series, axes,
smoothing and the chart view (series.py, axes.py, smoothing.py, chartview.py), headless, drawn by the TUI."""
