"""The offline progress-measures figure: the measures of `grok-tui measures TAG` (one key set over the
snapshots, grok_tui/measures/offline.py) drawn as the live measures figure is, into
logs/TAG/progress_measures_offline.png."""

from __future__ import annotations

from pathlib import Path

from grok_tui.core.config import Config
from grok_tui.core.errors import NoDataError
from grok_tui.run.log import read_log
from grok_tui.run.paths import RunPaths
from grok_tui.measures.offline import merged_records, offline_measures_path


def offline_png_path(paths: RunPaths) -> Path:
    return paths.log_dir / "progress_measures_offline.png"


def plot_offline_measures(tag: str, out: Path | str | None = None, root: Path | str | None = None,
                          log_x: bool = False, dpi: int = 150, size: tuple[float, float] | None = None) -> Path:
    """The progress-measures figure from offline_measures.jsonl (default logs/<tag>/progress_measures_offline.png)."""
    from matplotlib.figure import Figure

    from grok_tui.figures.curves import describe, measures_figure
    from grok_tui.figures.groups import objective_text
    from grok_tui.figures.style import MEASURES_SIZE, figure_format, save_figure, styled

    paths = RunPaths.of(tag, root)
    target = Path(out) if out is not None else offline_png_path(paths)
    figure_format(target)
    source = offline_measures_path(paths)
    offline = read_log(source)
    if not offline:
        raise NoDataError(f"{source}: no offline measures (run `grok-tui measures {tag}` first)")
    config, _ = _config_or_none(paths)
    keys = offline[-1].get("key_freqs", [])
    fixed = all(r.get("key_freqs") == keys for r in offline)
    note = f"offline, fixed keys {', '.join(map(str, keys))}" if fixed else "offline, each snapshot's own keys"
    size = size or MEASURES_SIZE
    with styled(size):
        fig = measures_figure(merged_records(read_log(paths.log), offline),
                                       f"{describe(config, tag)} ({note})", log_x=log_x,
                                       figure=Figure(figsize=size, layout="constrained"),
                                       objective=objective_text(config))
        save_figure(fig, target, dpi)
    return target


def _config_or_none(paths: RunPaths) -> tuple[Config | None, str]:
    from grok_tui.run.summary import read_config

    return read_config(paths)
