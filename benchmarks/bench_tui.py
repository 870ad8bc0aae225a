"""Costs of the TUI's live view: chart redraws, log-to-screen latency, training speed with the app open.

    python benchmarks/bench_tui.py           # about 2.5 minutes on 2 cores
    python benchmarks/bench_tui.py --quick   # fewer repetitions and epochs, under a minute

(1) "redraw": a synthetic grokking-shaped log (train loss falling to 1e-8, test loss peaking at 10,
    grokking near epoch 12,500, noise and a few loss spikes) is written with RunLogWriter, 50,001
    records (log_every=1), and a 501-record one of the same run (log_every=100). `GrokApp(root=...,
    watch=TAG)` opens on it at 120x40 under Textual's Pilot; once the live view holds every record
    (the initial load: the reader takes at most 4 MiB per poll, twice a second), each chart is redrawn
    N times with `chart.draw(series, log_x, force=True)` (downsampling + plotext calls) and
    `chart.render()` (plotext's build of the text + Text.from_ansi), for a linear and a log x axis;
    then N whole screen updates (both charts drawn, then `pilot.pause()` lets Textual paint the frame),
    timed as UI-thread CPU. Two passes (501, 50,001, 501, 50,001), N/2 each. Medians, in ms.
    Target: <= 30 ms per chart redraw (draw + render), and 50,001 records as fast as 501.
(2) "latency": with the watch view open on a small log, one record is appended at a random phase of
    the view's 0.5 s poll and the time until the view's series holds it is measured (Pilot pauses of
    10 ms). Target: <= 1 s.
(3) "throughput": the quick config trained (a) headless, `train_grokking` in the main thread of a
    fresh child process (what `grok-tui train` does), and (b) in this process's app, `start_training`
    (a Textual thread worker) with the live view open at 120x40 and its charts redrawing, for the same
    number of epochs, in turns (a)(b)(a)(b)..., fresh tags each time, after a short warm-up of (b).
    While (b) trains, the benchmark awaits the worker (no Pilot pause loop, which would cost the UI
    thread ~8% of a core by itself) and reports the UI thread's CPU time and the charts' share of it.
    Epochs/s come from the log's last elapsed_s (the training loop's own clock: model built to last
    log line, without the final checkpoint and PNG); wall times are shown beside them. The ratio
    (b)/(a) is the median of the per-round ratios. Target: >= 90%.
    Why (a) runs in a child: with torch's OpenMP (libgomp) each thread that runs torch ops keeps its
    own OpenMP pool for as long as it lives. Once two such threads exist (here: the main thread and
    the app's worker thread), a 2-core machine has more OpenMP threads than CPUs and training runs
    2-3x slower (consistent with libgomp's throttled spinning: OMP_WAIT_POLICY=passive gives the same
    slow rate everywhere, and OMP_NUM_THREADS=1 removes the gap). An in-process (a) would measure
    that, not the TUI; the last line shows it: (a) on this process's main thread, then (b) once more.
    For the same reason every app session here runs in its own event loop (asyncio.run), as a real
    `grok-tui` process would: Textual runs thread workers in the loop's default executor, whose
    threads (and their OpenMP pools) live until the loop closes.

Everything else runs in one process. The chart timings call the widgets directly inside the running
app (nothing else runs on the UI thread meanwhile); in (b) and in the screen updates, the charts'
draw and render calls are counted and timed by wrapping MetricChart's methods meanwhile (the
app's code is not changed). After each part, a line says how much CPU other processes took meanwhile
(from /proc/stat): on a shared machine the numbers mean little without it.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from textual.pilot import Pilot

from grok_tui.core.config import Config, preset
from grok_tui.run.log import READ_CHUNK, RunLogReader, RunLogWriter, last_record
from grok_tui.run.paths import RunPaths
from grok_tui.figures.series import RunSeries
from grok_tui.training.trainer import train_grokking
from grok_tui.tui.app import GrokApp
from grok_tui.tui.charts import MetricChart
from grok_tui.tui.live import REFRESH_S, LiveScreen

SIZE = (120, 40)
BIG_EPOCHS = 50_000
TARGET_REDRAW_MS = 30.0
TARGET_LATENCY_S = 1.0
TARGET_RATIO = 0.90


# ---------------------------------------------------------------- the machine


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine() -> str:
    from importlib.metadata import version

    import textual

    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return (f"machine: {platform.platform()}  {cpu_model()}  cpus {os.cpu_count()}  load average {load}\n"
            f"python {platform.python_version()}  torch {torch.__version__} (threads "
            f"{torch.get_num_threads()})  textual {textual.__version__}  plotext {version('plotext')}  "
            f"textual-plotext {version('textual-plotext')}")


@dataclass
class CpuSnapshot:
    wall: float
    busy: float | None  # CPU-seconds the whole machine spent busy (Linux /proc/stat), None elsewhere
    ours: float  # CPU-seconds of this process and its finished children


def cpu_snapshot() -> CpuSnapshot:
    busy: float | None = None
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        user, nice, system, _idle, _iowait, irq, softirq, steal = fields
        busy = (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        pass
    t = os.times()
    return CpuSnapshot(time.perf_counter(), busy, t.user + t.system + t.children_user + t.children_system)


def others_since(before: CpuSnapshot) -> str:
    """How much CPU the rest of the machine took meanwhile: timings on a shared machine need this."""
    now = cpu_snapshot()
    if before.busy is None or now.busy is None:
        return ""
    wall = now.wall - before.wall
    other = max(0.0, (now.busy - before.busy) - (now.ours - before.ours))
    return (f"    [other processes (and steal) took {other:.1f} CPU-s of {wall * (os.cpu_count() or 1):.0f} "
            f"in these {wall:.0f} s: {other / (wall * (os.cpu_count() or 1)):.0%} of the machine]")


# ---------------------------------------------------------------- a synthetic grokking log


def grokking_records(epochs: np.ndarray, seed: int = 0) -> list[dict[str, Any]]:
    """Records shaped like a real run at p=113: memorization by ~1k epochs, grokking near 12.5k.

    Losses stay within [1e-8, 10] (train falls to 1e-8, test peaks at 10), accuracies within [0, 1];
    log-space noise and a few loss spikes make the downsampler and plotext do real work.
    """
    rng = np.random.default_rng(seed)
    e = epochs.astype(np.float64)
    # log10 of the losses, piecewise linear in the epoch.
    train_log = np.interp(e, [0, 200, 1_000, 10_000, 14_000, 50_000], [0.676, 0.0, -2.0, -5.0, -7.0, -8.0])
    test_log = np.interp(e, [0, 300, 1_500, 8_000, 12_000, 14_000, 20_000, 50_000],
                         [0.676, 0.8, 1.0, 0.9, 0.3, -3.0, -6.0, -7.5])
    train_log += rng.normal(0.0, 0.08, e.shape)
    test_log += rng.normal(0.0, 0.05, e.shape)
    for spike in (3_000, 17_000, 31_000, 44_000):  # "slingshot" spikes: a jump that decays over ~300 epochs
        after = e >= spike
        bump = np.where(after, 3.0 * np.exp(-(e - spike) / 300.0), 0.0)
        train_log += bump
        test_log += 0.5 * bump
    train_loss = 10.0 ** np.clip(train_log, -8.0, 1.0)
    test_loss = 10.0 ** np.clip(test_log, -8.0, 1.0)
    chance = 1.0 / 113
    train_acc = chance + (1 - chance) / (1 + np.exp(-(e - 600.0) / 120.0))
    test_acc = chance + (1 - chance) / (1 + np.exp(-(e - 12_500.0) / 600.0))
    train_acc = np.clip(train_acc + rng.normal(0.0, 0.003, e.shape) * (train_acc < 0.999), 0.0, 1.0)
    test_acc = np.clip(test_acc + rng.normal(0.0, 0.004, e.shape), 0.0, 1.0)
    lr = 1e-3 * np.minimum(1.0, (e + 1) / 10.0)
    weight_norm = 20.0 + 30.0 * np.exp(-e / 8_000.0) + rng.normal(0.0, 0.05, e.shape)
    elapsed = np.round(e * 0.049, 4)
    columns = {"train_loss": train_loss, "test_loss": test_loss, "train_acc": train_acc, "test_acc": test_acc,
               "lr": lr, "weight_norm": weight_norm, "elapsed_s": elapsed}
    lists = {key: value.tolist() for key, value in columns.items()}
    return [{"epoch": int(epoch), **{key: lists[key][i] for key in columns}}
            for i, epoch in enumerate(epochs.tolist())]


def write_run(root: Path, tag: str, log_every: int, num_epochs: int = BIG_EPOCHS) -> RunPaths:
    paths = RunPaths.of(tag, root)
    paths.log_dir.mkdir(parents=True, exist_ok=True)
    Config(tag=tag, num_epochs=num_epochs, log_every=log_every).save(paths.config)
    with RunLogWriter(paths.log) as writer:
        for record in grokking_records(np.arange(0, num_epochs + 1, log_every)):
            writer.write(record)
    return paths


# ---------------------------------------------------------------- helpers


async def wait_until(pilot: Pilot[int], condition: Callable[[], bool], timeout: float,
                     step: float = 0.01) -> float:
    """Let the app run until condition() holds; returns the seconds waited."""
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout:
            raise TimeoutError(f"condition not met within {timeout} s")
        await pilot.pause(step)
    return time.perf_counter() - start


def live_screen(app: GrokApp) -> LiveScreen | None:
    screen = app.screen
    return screen if isinstance(screen, LiveScreen) else None


def median_ms(values: list[float]) -> float:
    return 1000 * statistics.median(values)


@dataclass
class UiWork:
    """What the UI thread (this process's main thread, running the app's event loop) did during a run."""

    cpu_s: float = 0.0  # its CPU time (time.thread_time), everything the app did meanwhile
    draws: int = 0
    renders: int = 0
    draw_s: float = 0.0
    render_s: float = 0.0


@contextmanager
def counting_chart_work(work: UiWork) -> Iterator[None]:
    """Count and time MetricChart.draw and .render for a while (class attributes, restored after)."""
    draw, render = MetricChart.draw, MetricChart.render

    def timed_draw(self: MetricChart, series: RunSeries, log_x: bool, force: bool = False) -> bool:
        t0 = time.perf_counter()
        drew = draw(self, series, log_x, force)
        if drew:
            work.draws += 1
            work.draw_s += time.perf_counter() - t0
        return drew

    def timed_render(self: MetricChart) -> Any:
        t0 = time.perf_counter()
        out = render(self)
        work.renders += 1
        work.render_s += time.perf_counter() - t0
        return out

    MetricChart.draw = timed_draw  # type: ignore[method-assign]
    MetricChart.render = timed_render  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        MetricChart.draw = draw  # type: ignore[method-assign]
        MetricChart.render = render  # type: ignore[method-assign]


# ---------------------------------------------------------------- (1) redraw cost


@dataclass
class RedrawResult:
    records: int
    log_mib: float
    polls_needed: int
    chart_sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    load_s: list[float] = field(default_factory=list)  # per app launch: launch to every record in the view
    # (chart, log_x) -> seconds per redraw
    draw: dict[tuple[str, bool], list[float]] = field(default_factory=dict)
    render: dict[tuple[str, bool], list[float]] = field(default_factory=dict)
    total: dict[tuple[str, bool], list[float]] = field(default_factory=dict)
    frame: dict[bool, list[float]] = field(default_factory=dict)  # log_x -> UI CPU seconds per screen update


async def measure_redraws(root: Path, paths: RunPaths, result: RedrawResult, repeats: int) -> None:
    """Open the watch view on `paths`, wait for the whole log, then time `repeats` redraws of each chart."""
    app = GrokApp(root=root, watch=paths.tag)
    launched = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: (live := live_screen(app)) is not None and len(live.series) >= result.records,
                         timeout=120)
        result.load_s.append(time.perf_counter() - launched)
        live = live_screen(app)
        assert live is not None and len(live.series) == result.records, "the live view did not load the whole log"
        await pilot.pause(0.05)  # let the first full frame be painted
        charts = list(live.query(MetricChart))
        result.chart_sizes = {chart.metric: (chart.size.width, chart.size.height) for chart in charts}
        for chart in charts:  # warm-up: plotext's first build of a figure allocates its canvas
            for log_x in (False, True):
                chart.draw(live.series, log_x, force=True)
                chart.render()
        # Interleaved: each repetition redraws every (chart, log_x) once, so drift hits all alike.
        for _ in range(repeats):
            for log_x in (False, True):
                for chart in charts:
                    key = (chart.metric, log_x)
                    t0 = time.perf_counter()
                    chart.draw(live.series, log_x, force=True)
                    t1 = time.perf_counter()
                    chart.render()
                    t2 = time.perf_counter()
                    result.draw.setdefault(key, []).append(t1 - t0)
                    result.render.setdefault(key, []).append(t2 - t1)
                    result.total.setdefault(key, []).append(t2 - t0)
        # A whole screen update: both charts drawn, then Textual paints the frame (each chart's render,
        # Rich text to strips, the compositor). UI-thread CPU time, so the idle wait in pause() is not counted.
        work = UiWork()
        with counting_chart_work(work):
            for _ in range(repeats):
                for log_x in (False, True):
                    cpu = time.thread_time()
                    for chart in charts:
                        chart.draw(live.series, log_x, force=True)
                    await pilot.pause()
                    result.frame.setdefault(log_x, []).append(time.thread_time() - cpu)
        assert work.renders >= 2 * len(charts) * repeats, "a frame was not painted"
        for chart in charts:  # leave the charts as the view had them
            chart.draw(live.series, live.log_x, force=True)
        await pilot.pause(0.05)


def ui_thread_poll_costs(paths: RunPaths) -> list[float]:
    """Seconds per poll (read + parse + RunSeries.apply) while loading a whole log, outside the app."""
    reader, series = RunLogReader(paths.log), RunSeries()
    costs = []
    while True:
        t0 = time.perf_counter()
        update = reader.poll()
        series.apply(update)
        costs.append(time.perf_counter() - t0)
        if not update.records:
            return costs[:-1]


# ---------------------------------------------------------------- (2) latency


async def measure_latency(root: Path, repeats: int) -> list[float]:
    tag = "latency"
    paths = RunPaths.of(tag, root)
    paths.log_dir.mkdir(parents=True, exist_ok=True)
    Config(tag=tag, num_epochs=BIG_EPOCHS, log_every=1).save(paths.config)
    records = grokking_records(np.arange(0, 200 + repeats))
    latencies: list[float] = []
    rng = random.Random(0)
    with RunLogWriter(paths.log) as writer:
        for record in records[:200]:
            writer.write(record)
        app = GrokApp(root=root, watch=tag)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: (live := live_screen(app)) is not None and len(live.series) == 200,
                             timeout=30)
            live = live_screen(app)
            assert live is not None
            for record in records[200:]:
                await pilot.pause(rng.uniform(0.05, REFRESH_S + 0.05))  # a random phase against the poll timer
                before = len(live.series)
                writer.write(record)  # flushed: a reader sees it at once
                start = time.perf_counter()
                while len(live.series) == before:
                    if time.perf_counter() - start > 10:
                        raise TimeoutError("the new record never reached the live view")
                    await pilot.pause(0.01)
                latencies.append(time.perf_counter() - start)
                assert live.series.last == record
                # poll() redraws right after it extends the series: the charts asked for the new frame.
                assert all(chart._drawn_key is not None and chart._drawn_key[0] == len(live.series)
                           for chart in live.query(MetricChart))
    return latencies


# ---------------------------------------------------------------- (3) throughput


@dataclass
class RunTiming:
    epochs: int
    train_s: float  # the log's last elapsed_s
    wall_s: float

    @property
    def eps(self) -> float:
        return self.epochs / self.train_s


def quick_config(tag: str, epochs: int) -> Config:
    return preset("quick", tag=tag, num_epochs=epochs, device="cpu")


def train_seconds(paths: RunPaths, epochs: int) -> float:
    last = last_record(paths.log)
    assert last is not None and last["epoch"] == epochs, f"run {paths.tag!r} did not finish: {last}"
    return float(last["elapsed_s"])


def headless_run(root: Path, tag: str, epochs: int) -> RunTiming:
    """(a) in this process's main thread: train_grokking as `grok-tui train` calls it (no progress line)."""
    config = quick_config(tag, epochs)
    start = time.perf_counter()
    train_grokking(config, resume=False, root=root)
    wall = time.perf_counter() - start
    return RunTiming(epochs, train_seconds(RunPaths.of(tag, root), epochs), wall)


def headless_child(root: Path, tag: str, epochs: int) -> RunTiming:
    """(a) in the main thread of a fresh child process (this script with --headless-child)."""
    out = subprocess.run([sys.executable, __file__, "--headless-child", str(root), tag, str(epochs)],
                         check=True, capture_output=True, text=True).stdout
    wall = float(out.split()[-1])
    return RunTiming(epochs, train_seconds(RunPaths.of(tag, root), epochs), wall)


async def app_run(root: Path, tag: str, epochs: int, work: UiWork) -> RunTiming:
    """(b) in the app: start_training from a Pilot-driven app; the live view opens and follows the run.

    Run it in its own event loop (asyncio.run), like a real `grok-tui` session: Textual's thread
    workers live in the loop's default executor, whose threads (and their OpenMP pools) end with it.
    """
    config = quick_config(tag, epochs)
    app = GrokApp(config, root=root, config_given=True)
    with counting_chart_work(work):
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            start, cpu = time.perf_counter(), time.thread_time()
            app.start_training(config, resume=True)  # a fresh tag: nothing to resume
            worker = app.training.worker if app.training else None
            assert worker is not None, "the app refused to start training"
            # Awaiting the worker's task, not polling with Pilot pauses: a pause loop costs the UI thread
            # CPU of its own (about 8% of a core at 50 ms steps), which would be charged to the TUI.
            await worker.wait()
            wall = time.perf_counter() - start
            work.cpu_s = time.thread_time() - cpu
            await wait_until(pilot, lambda: app.training is None, timeout=30)  # the worker's end handled
            live = live_screen(app)
            assert live is not None and live.paths.tag == tag
            assert len(live.series) == -(-epochs // config.log_every) + 1, "the view missed records"
            assert not app.errors, app.errors
    return RunTiming(epochs, train_seconds(RunPaths.of(tag, root), epochs), wall)


# ---------------------------------------------------------------- the report


def print_redraws(small: RedrawResult, big: RedrawResult, repeats: int) -> None:
    print(f"\n(1) chart redraw at {SIZE[0]}x{SIZE[1]}, median of {repeats} (ms); "
          "draw = downsample + plotext calls, render = plotext build + Text.from_ansi")
    for result in (small, big):
        sizes = ", ".join(f"{name} {w}x{h}" for name, (w, h) in result.chart_sizes.items())
        loads = ", ".join(f"{v:.2f}" for v in result.load_s)
        print(f"  {result.records:>6,} records: log {result.log_mib:4.1f} MiB ({result.polls_needed} poll(s) of "
              f"<= {READ_CHUNK // 2**20} MiB), app launch to all records shown: {loads} s; charts {sizes}")
    print(f"  {'records':>8} {'chart':>5} {'x axis':>6} {'draw':>7} {'render':>7} {'total':>7} {'max':>7}")
    for result in (small, big):
        for key in result.total:
            chart, log_x = key
            print(f"  {result.records:>8,} {chart:>5} {'log' if log_x else 'linear':>6} "
                  f"{median_ms(result.draw[key]):7.2f} {median_ms(result.render[key]):7.2f} "
                  f"{median_ms(result.total[key]):7.2f} {1000 * max(result.total[key]):7.2f}")
    worst = max(median_ms(values) for values in big.total.values())
    print(f"  slowest chart at {big.records:,} records: {worst:.1f} ms (target <= {TARGET_REDRAW_MS:.0f}): "
          f"{'OK' if worst <= TARGET_REDRAW_MS else 'MISSED'}")
    sums = [sum(median_ms(v) for v in result.total.values()) / 2 for result in (small, big)]  # mean of 2 x axes
    print(f"  both charts' draw + render: {sums[0]:.1f} ms at {small.records:,} records, {sums[1]:.1f} ms at "
          f"{big.records:,} (ratio {sums[1] / sums[0]:.2f})")
    frames = [statistics.median(v for values in result.frame.values() for v in values) for result in (small, big)]
    print(f"  a whole screen update (both charts drawn, Textual paints the frame; UI-thread CPU): "
          f"{1000 * frames[0]:.1f} ms at {small.records:,} records, {1000 * frames[1]:.1f} ms at {big.records:,} "
          f"(ratio {frames[1] / frames[0]:.2f}; max {1000 * max(max(v) for v in big.frame.values()):.0f} ms)")


def print_throughput(heads: list[RunTiming], apps: list[RunTiming], works: list[UiWork]) -> None:
    for i, (head, app, work) in enumerate(zip(heads, apps, works)):
        print(f"  round {i + 1}: (a) headless {head.eps:6.1f} ep/s ({head.train_s:5.1f} s, wall {head.wall_s:5.1f} s)"
              f"   (b) in the app {app.eps:6.1f} ep/s ({app.train_s:5.1f} s, wall {app.wall_s:5.1f} s)"
              f"   (b)/(a) {app.eps / head.eps:6.1%}")
        print(f"           UI thread during (b): CPU {work.cpu_s:.2f} s ({work.cpu_s / app.wall_s:.1%} of a core), "
              f"of which charts: {work.draws} draws {1000 * work.draw_s:.0f} ms, "
              f"{work.renders} renders {1000 * work.render_s:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and epochs (under a minute)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per training run in (3) (default 1500, 400 with --quick)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="(a)(b) rounds in (3) (default 2, 1 with --quick)")
    parser.add_argument("--headless-child", nargs=3, metavar=("ROOT", "TAG", "EPOCHS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.headless_child:  # (a): train in this (child) process's main thread, print the wall time
        root, tag, epochs = args.headless_child
        print(headless_run(Path(root), tag, int(epochs)).wall_s)
        return
    repeats = 10 if args.quick else 30
    latency_repeats = 5 if args.quick else 10
    epochs = args.epochs or (400 if args.quick else 1500)
    rounds = args.rounds or (1 if args.quick else 2)
    print(describe_machine())
    sys.stdout.flush()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        run_all(Path(tmp), repeats, latency_repeats, epochs, rounds)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


def run_all(root: Path, repeats: int, latency_repeats: int, epochs: int, rounds: int) -> None:
    """Every app session gets its own event loop (asyncio.run), as a real `grok-tui` process would."""
    snapshot = cpu_snapshot()
    # (1) two passes of small then big, half the repetitions each, so slow drift hits both logs alike
    runs = [(write_run(root, f"log{records}", log_every=BIG_EPOCHS // (records - 1)), records)
            for records in (BIG_EPOCHS // 100 + 1, BIG_EPOCHS + 1)]
    results = [RedrawResult(records, paths.log.stat().st_size / 2**20,
                            max(1, math.ceil(paths.log.stat().st_size / READ_CHUNK))) for paths, records in runs]
    for half in (repeats - repeats // 2, repeats // 2):
        for (paths, _), result in zip(runs, results):
            asyncio.run(measure_redraws(root, paths, result, half))
    small, big = results
    print_redraws(small, big, repeats)
    polls = ui_thread_poll_costs(runs[1][0])
    print(f"  initial load of {big.records:,} records: {len(polls)} polls, each (read + parse + "
          f"RunSeries.apply) {', '.join(f'{1000 * p:.0f}' for p in polls)} ms on the UI thread")
    print(others_since(snapshot))
    sys.stdout.flush()
    snapshot = cpu_snapshot()

    # (2)
    latencies = asyncio.run(measure_latency(root, latency_repeats))
    print(f"\n(2) new log line -> live view's series, {len(latencies)} appends at random phases: "
          f"median {median_ms(latencies):.0f} ms, max {1000 * max(latencies):.0f} ms "
          f"(target <= {TARGET_LATENCY_S * 1000:.0f} ms; the view polls every {REFRESH_S} s): "
          f"{'OK' if max(latencies) <= TARGET_LATENCY_S else 'MISSED'}")
    print(f"    all (ms): {', '.join(f'{1000 * v:.0f}' for v in latencies)}")
    print(others_since(snapshot))
    sys.stdout.flush()
    snapshot = cpu_snapshot()

    # (3) Nothing in this process runs torch on its main thread until the comparison at the very end.
    asyncio.run(app_run(root, "warmup", 50, UiWork()))  # imports, Textual's CSS, allocator: off the clock
    heads: list[RunTiming] = []
    apps: list[RunTiming] = []
    works: list[UiWork] = []
    for i in range(rounds):
        heads.append(headless_child(root, f"headless-{i}", epochs))
        works.append(UiWork())
        apps.append(asyncio.run(app_run(root, f"in-app-{i}", epochs, works[-1])))
    print(f"\n(3) quick config, {epochs:,} epochs per run, order " + "".join("(a)(b)" for _ in range(rounds))
          + "; ep/s = epochs / the log's last elapsed_s (wall: the whole call, with setup, checkpoints, PNG)")
    print("    (a) = train_grokking in a child process's main thread, (b) = start_training in this process's app")
    print_throughput(heads, apps, works)
    ratio = statistics.median(b.eps / a.eps for a, b in zip(heads, apps))
    print(f"  median (a) {statistics.median(h.eps for h in heads):.1f} ep/s, (b) "
          f"{statistics.median(b.eps for b in apps):.1f} ep/s; (b)/(a) {ratio:.1%} "
          f"(target >= {TARGET_RATIO:.0%}): {'OK' if ratio >= TARGET_RATIO else 'MISSED'}")
    print(others_since(snapshot))
    sys.stdout.flush()
    # The in-process artifact (see the module doc): last, since this process cannot undo it.
    short = max(50, epochs // 3)
    head = headless_run(root, "main-thread", short)
    app = asyncio.run(app_run(root, "in-app-after", short, UiWork()))
    print(f"  for comparison, in ONE process, {short:,} epochs: (a) on this process's main thread "
          f"{head.eps:.1f} ep/s, then (b) {app.eps:.1f} ep/s ({app.eps / head.eps:.1%}): once the main thread "
          "has run torch, training in another thread is slowed by OpenMP, not by the TUI")


if __name__ == "__main__":
    main()
