"""The keys every screen's footer names first: q and ?, so that an 80-column footer, which cuts the
keys on its right, always says how to leave and where every other key is explained."""

from __future__ import annotations

from textual.binding import Binding

FIRST_KEYS = [Binding("q", "app.quit_app", "Quit"), Binding("question_mark", "app.help", "Help")]
