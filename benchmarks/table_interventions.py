"""The README's intervention table, from the runs of the measurement (see the README, "Interventions").

    python benchmarks/table_interventions.py --root /tmp/iv /tmp/paper-run

Each condition is a set of runs (one per seed) named by tag; the table gives epochs to 99% test
accuracy (median and range over seeds, and how many grokked), the final test accuracy, and the
training seconds at the grokking epoch (elapsed_s in the log: wall time on the machine it ran on).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from grok_tui.figures.groups import Group, group_stats, load_members
from grok_tui.run.paths import RunPaths

# (condition, setup, tags)
CONDITIONS: list[tuple[str, str, list[str]]] = [
    ("baseline", "quick", [f"iq-gf.gfnone.s{s}" for s in range(3)]),
    ("Grokfast-EMA (alpha 0.98, lamb 2)", "quick", [f"iq-gf.gfema.s{s}" for s in range(3)]),
    ("Grokfast-MA (window 100, lamb 5)", "quick", [f"iq-gf.gfma.s{s}" for s in range(3)]),
    ("⊥Grad", "quick", [f"iq-og.s{s}" for s in range(3)]),
    ("⊥Grad, weight decay 0", "quick", [f"iq-og0.losssoftmax.s{s}" for s in range(3)]),
    ("StableMax", "quick", [f"iq-sm.wd1.s{s}" for s in range(3)]),
    ("StableMax, weight decay 0", "quick", [f"iq-sm.wd0.s{s}" for s in range(3)]),
    ("StableMax + ⊥Grad, weight decay 0", "quick", [f"iq-og0.lossstablemax.s{s}" for s in range(3)]),
    ("softmax, weight decay 0", "quick", [f"iq-wd0.s{s}" for s in range(3)]),
    ("float32 softmax", "quick", [f"iq-f32.s{s}" for s in range(3)]),
    ("adam_eps 1e-30", "quick", [f"iq-eps.s{s}" for s in range(3)]),
    ("baseline", "paper", [f"ip-gf3.gfnone.s{s}" for s in range(3)]),
    ("Grokfast-EMA", "paper", [f"ip-gf3.gfema.s{s}" for s in range(3)]),
    ("⊥Grad", "paper", [f"ip-og3.s{s}" for s in range(3)]),
    ("Grokfast-EMA + ⊥Grad", "paper", ["ip-gfog.gfema.ogon"]),
]


def first_root(tag: str, roots: list[Path]) -> Path | None:
    return next((root for root in roots if RunPaths.of(tag, root).log.exists()), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, nargs="+", required=True, help="where to look for each tag, in order")
    args = parser.parse_args()
    print("| setup | condition | epochs to grok: median (range) | grokked | final test acc | s to grok (median) |")
    print("|---|---|---|---|---|---|")
    for condition, setup, tags in CONDITIONS:
        members = [load_members([tag], root)[0] for tag in tags if (root := first_root(tag, args.root)) is not None]
        if not members:
            continue
        stats = group_stats(Group(key=(condition,), members=members, label=condition))
        grokked = stats.grokked
        epochs = grokked.text(lambda v: f"{v:,.0f}").split(" ")[0:2] if grokked.n else ["-"]
        last = max((m.series.last or {}).get("epoch", 0) for m in members)
        print(f"| {setup} | {condition} | {' '.join(e for e in epochs if '/' not in e)} | {grokked.n}/{len(tags)}"
              f"{'' if grokked.n else f' (by {last:,})'} | {stats.final_test_acc.text(lambda v: f'{100 * v:.1f}%')} "
              f"| {stats.grok_time_s.text(lambda v: f'{v:,.0f}').split(' ')[0]} |")


if __name__ == "__main__":
    main()
