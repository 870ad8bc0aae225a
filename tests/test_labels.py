"""Labels that tell runs apart and say what each run is (issue 22, items 3 and 4): the comparison figure's
legend and titles, the TUI compare view's table, the single-run figures' titles and loss axes, the live
status panel and `list`, on fixture logs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.widgets import DataTable, Static

from conftest import tiny_config
from grok_tui.cli.listing import list_table
from grok_tui.figures.comparison import plot_comparison
from grok_tui.figures.curves import describe, plot_progress_measures, plot_training_curves
from grok_tui.figures.groups import Member, differing_fields, format_value, group_runs, loss_axis_text
from grok_tui.run.log import RunLogWriter
from grok_tui.run.paths import RunPaths
from grok_tui.run.summary import list_runs
from grok_tui.tui.app import GrokApp
from grok_tui.tui.compare import CompareScreen

EMA = {"grokfast": "ema"}
OG_STABLEMAX = {"orthograd": True, "loss": "stablemax"}


def record(epoch: int, grok_at: int, measured: bool = False) -> dict[str, Any]:
    rise = min(1.0, max(0.0, (epoch - grok_at / 2) / (grok_at / 2)))
    line: dict[str, Any] = {"epoch": epoch, "train_loss": 3.0 * 10 ** (-epoch / 150),
                            "test_loss": 3.0 * math.exp(-3 * rise) + 1e-3, "train_acc": min(1.0, epoch / 100),
                            "test_acc": 0.05 + 0.95 * rise, "lr": 1e-3, "weight_norm": 50.0, "elapsed_s": epoch / 50}
    if measured:
        line.update({"restricted_loss": 1.0 - 0.9 * rise, "excluded_loss": 2.0 + rise, "gini_embed": 0.2 + 0.5 * rise,
                     "gini_unembed": 0.2 + 0.4 * rise, "embed_freq_norms": [1.0, 5.0 * rise + 1.0, 1.0, 0.5, 0.8],
                     "key_freqs": [2]})
    return line


def write_run(root: Path, tag: str, grok_at: int = 400, **config: Any) -> RunPaths:
    paths = RunPaths.of(tag, root)
    tiny_config(tag=tag, num_epochs=1000, **config).save(paths.config)
    with RunLogWriter(paths.log) as writer:
        for epoch in range(0, 1001, 10):
            writer.write(record(epoch, grok_at, measured=epoch % 50 == 0))
    return paths


def legend_texts(fig: Any) -> list[str]:
    return [text.get_text() for text in fig.legends[0].get_texts()]


def labels_of(texts: list[str]) -> list[str]:
    """The legend's labels without the ': grokked ...' the figure adds."""
    return [text.rsplit(": ", 1)[0] for text in texts]


# ---------------------------------------------------------------- item 3: every difference, nothing unused


def test_runs_differing_in_seed_and_wd_are_labelled_by_both(root: Path, tmp_path: Path) -> None:
    write_run(root, "q", weight_decay=1.0, seed=0)
    write_run(root, "wd.wd0.3.s1", weight_decay=0.3, seed=1)
    fig = plot_comparison(["q", "wd.wd0.3.s1"], out=tmp_path / "c.png", root=root)
    assert labels_of(legend_texts(fig)) == ["wd=1 seed=0", "wd=0.3 seed=1"]


def test_a_seed_group_leaves_its_seeds_out_and_a_single_run_beside_it_names_its_own() -> None:
    members = [Member("a0", tiny_config(seed=0)), Member("a1", tiny_config(seed=1)),
               Member("b1", tiny_config(seed=1, weight_decay=0.3))]
    assert [g.label for g in group_runs(members)] == ["wd=1 (2 seeds)", "wd=0.3 seed=1"]
    # runs of one seed: nothing to say about it
    same_seed = [Member("a0", tiny_config(seed=0)), Member("b0", tiny_config(seed=0, weight_decay=0.3))]
    assert [g.label for g in group_runs(same_seed)] == ["wd=1", "wd=0.3"]


def test_unused_grokfast_settings_are_never_named() -> None:
    plain, ema = tiny_config(tag="plain"), tiny_config(tag="ema", **EMA)
    # grokfast_alpha is unused without Grokfast: only grokfast differs, and its setting is said in words
    assert differing_fields([plain, ema]) == ["grokfast"]
    labels = [g.label for g in group_runs([Member("plain", plain), Member("ema", ema)])]
    assert labels == ["no intervention", "Grokfast-EMA (\u03b1=0.98, \u03bb=2)"]
    assert not any("None" in label or "grokfast_" in label for label in labels)
    # two EMA runs with other alphas differ in alpha; the run without Grokfast has none to show
    other = tiny_config(tag="ema9", grokfast="ema", grokfast_alpha=0.9)
    assert differing_fields([plain, ema, other]) == ["grokfast", "grokfast_alpha"]
    assert format_value(plain, "grokfast_alpha") == "-" and format_value(other, "grokfast_alpha") == "0.9"


def test_list_columns_leave_unused_fields_out_and_name_the_interventions(root: Path) -> None:
    write_run(root, "plain")
    write_run(root, "ema", **EMA)
    write_run(root, "og", **OG_STABLEMAX)
    header, *rows = list_table(list_runs(root))
    assert "GROKFAST_ALPHA" not in header and "GROKFAST_LAMB" not in header and "ORTHOGRAD" not in header
    setup = header.index("SETUP")
    assert {row[0]: row[setup] for row in rows} == {
        "plain": "none", "ema": "Grokfast-EMA (\u03b1=0.98, \u03bb=2)", "og": "\u22a5Grad, StableMax CE"}


async def test_the_tui_table_shows_the_pngs_legend_text(root: Path, tmp_path: Path) -> None:
    write_run(root, "q", seed=0)
    write_run(root, "q1", seed=1)
    write_run(root, "wd.wd0.3.s1", weight_decay=0.3, seed=1)
    write_run(root, "gf", seed=2, **EMA)
    tags = ["q", "q1", "wd.wd0.3.s1", "gf"]
    for grouped in (True, False):
        fig = plot_comparison(tags, out=tmp_path / "c.png", root=root, grouped=grouped)
        app = GrokApp(root=root, compare=tags)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.3)
            if not grouped:
                await pilot.press("t")
                await pilot.pause(0.2)
            assert isinstance(app.screen, CompareScreen)
            table = app.screen.query_one(DataTable)
            shown = [str(table.get_row_at(i)[1]) for i in range(table.row_count)]
        assert shown == labels_of(legend_texts(fig))
    assert shown == ["q wd=1 no intervention seed=0", "q1 wd=1 no intervention seed=1",
                     "wd.wd0.3.s1 wd=0.3 no intervention seed=1", "gf wd=1 Grokfast-EMA (\u03b1=0.98, \u03bb=2) seed=2"]


def test_each_run_drawn_with_show_runs_has_a_legend_entry(root: Path, tmp_path: Path) -> None:
    write_run(root, "wd1-s0", seed=0)
    write_run(root, "wd1-s1", 600, seed=1)
    fig = plot_comparison(["wd1-s0", "wd1-s1"], out=tmp_path / "c.png", root=root, show_runs=True)
    texts = legend_texts(fig)
    assert texts[1:] == ["  wd1-s0 seed=0", "  wd1-s1 seed=1"]
    # each run's line has a style of its own, so the entry names one line
    lines = fig.legends[0].get_lines()
    assert lines[1].get_linestyle() != lines[2].get_linestyle()


# ---------------------------------------------------------------- item 4: interventions named everywhere


def test_a_figure_title_names_the_optimizer_and_the_interventions() -> None:
    title = describe(tiny_config(tag="og", adam_eps=1e-30, softmax_precision="float32", **OG_STABLEMAX), "og")
    assert "\u22a5Grad-AdamW lr=0.001 wd=1" in title
    assert title.endswith("; \u22a5Grad, StableMax CE, float32 StableMax, adam_eps=1e-30")
    plain = describe(tiny_config(tag="q"), "q")
    assert "AdamW lr=0.001 wd=1" in plain and ";" not in plain
    assert "Grokfast-MA (window=100, \u03bb=5)" in describe(tiny_config(grokfast="ma"), "ma")


def test_the_loss_axis_names_the_objective(root: Path, tmp_path: Path) -> None:
    write_run(root, "q")
    write_run(root, "og", **OG_STABLEMAX)
    curves = plot_training_curves("og", out=tmp_path / "og.png", root=root)
    assert curves.axes[0].get_ylabel() == "StableMax cross-entropy loss (log scale)"
    assert "\u22a5Grad, StableMax CE" in curves.get_suptitle().replace("\n", " ")
    measures = plot_progress_measures("q", out=tmp_path / "m.png", root=root)
    assert measures.axes[0].get_ylabel() == "softmax cross-entropy loss (log scale)"


def test_a_comparison_of_two_objectives_says_so_on_its_loss_axes(root: Path, tmp_path: Path) -> None:
    write_run(root, "q")
    write_run(root, "og", **OG_STABLEMAX)
    write_run(root, "gf", **EMA)
    mixed = plot_comparison(["q", "og", "gf"], out=tmp_path / "c.png", root=root)
    # the loss axes are shared by two objectives: a note under the title says so, the axes name no single one
    assert [ax.get_ylabel() for ax in mixed.axes[1:3]] == ["train loss (log)", "test loss (log)"]
    assert mixed.get_suptitle().endswith("\nlosses: softmax CE and StableMax CE mixed (not one quantity)")
    assert labels_of(legend_texts(mixed)) == ["no intervention", "\u22a5Grad, StableMax CE",
                                              "Grokfast-EMA (\u03b1=0.98, \u03bb=2)"]
    one = plot_comparison(["q", "gf"], out=tmp_path / "d.png", root=root)
    assert one.axes[1].get_ylabel() == "train loss (log), softmax CE" and "losses" not in one.get_suptitle()
    # what all runs share is in the title
    shared = plot_comparison(["og"], out=tmp_path / "e.png", root=root)
    assert "\u22a5Grad, StableMax CE" in shared.get_suptitle().replace("\n", " ")


async def test_the_compare_view_says_when_its_losses_mix_objectives(root: Path) -> None:
    write_run(root, "q")
    write_run(root, "og", **OG_STABLEMAX)
    app = GrokApp(root=root, compare=["q", "og"])
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        title = app.screen.query_one("#compare-title", Static)
        text = Text.from_markup(str(title.render())).plain
    assert "losses: softmax cross-entropy and StableMax cross-entropy mixed" in text
    assert loss_axis_text("train loss (log)", [tiny_config(), tiny_config(**OG_STABLEMAX)], short=True) == \
        "train loss (log): softmax CE and StableMax CE mixed"


async def test_the_status_panel_names_the_optimizer_and_interventions(root: Path) -> None:
    write_run(root, "og", **OG_STABLEMAX, grokfast="ma")
    app = GrokApp(root=root, watch="og")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        text = str(app.screen.query_one("#status", Static).render())
    assert "\u22a5Grad-AdamW lr=0.001 wd=1" in text
    assert "Grokfast-MA (window=100, \u03bb=5)" in text and "StableMax CE" in text
