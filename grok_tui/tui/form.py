"""The experiment form: one input per Config field, grouped, validated inline by config.validate().

Every keystroke re-validates; each problem is shown under its field, and Start is disabled while
anything is invalid. A tag that names an existing run turns Start into Resume; a change to the
experiment of an existing run is refused unless "replace the existing run" is ticked, and replacing
asks for a confirmation naming the run and its epoch. The tick is cleared whenever the tag changes,
so a tick given for one run never deletes another.

The groups stand in two columns on a terminal 76 columns or wider, so that all of them fit in 80x24.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, cast

from rich.markup import escape
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Input, Label, Select, Static

from grok_tui.core.config import (
    OPERATIONS,
    PRESETS,
    Config,
    ConfigError,
    preset,
    validate,
)
from grok_tui.run.log import last_record
from grok_tui.run.paths import RunPaths
from grok_tui.tui.keys import FIRST_KEYS
from grok_tui.tui.screens import ConfirmDelete

# (group, field, label); betas are two inputs, beta1 and beta2, on one row (beta1's label names both).
FIELDS: list[tuple[str, str, str]] = [
    ("run", "tag", "tag"),
    ("run", "device", "device"),
    ("run", "threads", "threads"),
    ("task", "p", "p (prime)"),
    ("task", "operation", "operation"),
    ("task", "frac_train", "train fraction"),
    ("task", "seed", "seed"),
    ("model", "d_model", "d_model"),
    ("model", "num_heads", "heads"),
    ("model", "d_mlp", "d_mlp"),
    ("optimization", "optimizer", "optimizer"),
    ("optimization", "lr", "learning rate"),
    ("optimization", "weight_decay", "weight decay"),
    ("optimization", "beta1", "betas"),
    ("optimization", "beta2", ""),
    ("optimization", "momentum", "momentum (sgd)"),
    ("optimization", "warmup_steps", "warmup steps"),
    ("optimization", "batch_size", "batch (0 = full)"),
    ("schedule", "num_epochs", "epochs"),
    ("schedule", "log_every", "log, ckpt every"),
    ("schedule", "checkpoint_every", ""),
    ("schedule", "measure_every", "measure every"),
    ("schedule", "snapshot_every", "snapshot every"),
    ("schedule", "stop_after_grok", "stop after grok"),
    ("interventions", "grokfast", "grokfast"),
    ("interventions", "grokfast_alpha", "grokfast alpha"),
    ("interventions", "grokfast_lamb", "grokfast lamb"),
    ("interventions", "grokfast_window", "grokfast window"),
    ("interventions", "orthograd", "⊥grad"),
    ("interventions", "loss", "loss"),
    ("interventions", "softmax_precision", "precision"),
    ("interventions", "adam_eps", "adam eps"),
]
INT_FIELDS = {"threads", "stop_after_grok", "p", "seed", "d_model", "num_heads", "d_mlp", "warmup_steps", "num_epochs", "log_every",
              "checkpoint_every", "measure_every", "grokfast_window", "snapshot_every", "batch_size"}
FLOAT_FIELDS = {"frac_train", "lr", "weight_decay", "beta1", "beta2", "grokfast_alpha", "grokfast_lamb", "adam_eps",
                "momentum"}
# Fields chosen from a list: field -> (value shown, value) pairs.
CHOICES: dict[str, list[tuple[str, str]]] = {  # labels of at most 15 characters: the 80x24 form's column
    "optimizer": [("adamw (paper)", "adamw"), ("adam: L2 decay", "adam"), ("sgd: momentum", "sgd")],
    "grokfast": [("none", "none"), ("ema: EMA filter", "ema"), ("ma: window mean", "ma")],
    "orthograd": [("off", "off"), ("on", "on")],
    "loss": [("softmax (paper)", "softmax"), ("stablemax", "stablemax")],
    "softmax_precision": [("float64 (paper)", "float64"), ("float32 (code)", "float32")],
}
DEVICE_CHOICES = ["auto", "cpu", "cuda", "mps"]
# Pairs of fields on one row (the first's label names both), so that the groups fit in 80x24.
SHARED_ROWS = {"beta1": "beta2", "log_every": "checkpoint_every"}
# The first column; model, optimization and schedule the second: 18 lines each, so both fit in 80x24.
LEFT_GROUPS = ("run", "task", "interventions")
# A preset is a base experiment: choosing one keeps the run settings and the interventions chosen.
PRESET_FIELDS = [name for group, name, _ in FIELDS
                 if name not in ("tag", "device", "threads", "stop_after_grok") and group != "interventions"]


def matching_preset(config: Config) -> str | None:
    """The preset whose experiment `config` is (the selector shows it), or None: custom."""
    for name in PRESETS:
        if not config.experiment_differences(preset(name)):
            return name
    return None


class ReplaceBox(Checkbox):
    """A checkbox whose state reads without colour: [x] on, [ ] off (Textual's shows X either way)."""

    @property
    def _button(self) -> Content:
        return Content.styled("[x]" if self.value else "[ ]", self.get_visual_style("toggle--button"))


class FieldInput(Input):
    """A form field: Enter goes to the next field, Escape leaves the fields for the Start button.

    Its own keys (backspace, delete, arrows, Enter, ...) run as they arrive. Textual 8.2.8 inserts a
    printable key at once but runs a bound key only when the event has bubbled up to the app, so a fast
    typist's (or a slow link's) backspace-backspace-2-9 in one read turned 48 into 48, not 29 (the
    upstream fix, Textual PR #6631, is not released; README "Known issues").
    """

    BINDINGS = [Binding("enter", "app.focus_next", "Next field", show=True),
                Binding("escape", "screen.leave_field", "Leave field", show=True)]

    async def _on_key(self, event: events.Key) -> None:
        if not event.is_printable:
            for binding in self._bindings.key_to_bindings.get(event.key, ()):
                if not binding.priority and await self.app.run_action(binding.action, self):
                    event.stop()
                    event.prevent_default()
                    return
        await super()._on_key(event)


def unique_tag(root: Path, config: Config) -> str:
    """A fresh tag such as add-p113-1 that no run under root uses yet."""
    n = 1
    while RunPaths(root, f"{config.operation}-p{config.p}-{n}").exists():
        n += 1
    return f"{config.operation}-p{config.p}-{n}"


def field_text(config: Config, name: str) -> str:
    if name == "beta1":
        return f"{config.betas[0]:g}"
    if name == "beta2":
        return f"{config.betas[1]:g}"
    value = getattr(config, name)
    if name == "orthograd":
        return "on" if value else "off"
    if value is None or (name == "threads" and value == 0):
        return ""  # blank: the default (4 x d_model; every core)
    return f"{value:g}" if isinstance(value, float) else str(value)


def parse_form(texts: dict[str, str]) -> tuple[Config | None, dict[str, str]]:
    """Config from the form's texts, and the problems by field (parse errors first, then validate())."""
    problems: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, text in texts.items():
        text = text.strip()
        if name == "d_mlp" and text == "":
            values[name] = None  # blank: 4 * d_model
        elif name == "threads" and text == "":
            values[name] = 0  # blank: torch's default, every core
        elif name == "stop_after_grok" and text == "":
            values[name] = None  # blank: train to num_epochs
        elif name == "grokfast_lamb" and text == "":
            values[name] = None  # blank: the filter's default (2 for ema, 5 for ma)
        elif name == "orthograd":
            values[name] = text == "on"
        elif name in INT_FIELDS:
            try:
                values[name] = int(text)
            except ValueError:
                problems[name] = f"{name}: must be a whole number (got {text!r})"
                values[name] = text  # validate() names it too, and checks every other field as usual
        elif name in FLOAT_FIELDS:
            try:
                values[name] = float(text)
            except ValueError:
                problems[name] = f"{name}: must be a number (got {text!r})"
                values[name] = text
        else:
            values[name] = text
    values["betas"] = (values.pop("beta1"), values.pop("beta2"))
    config = Config(**values)
    for problem in validate(config):  # rules between fields are checked only where both could be read
        name = problem.split(":", 1)[0]
        if name == "betas":
            if "beta1" in problems or "beta2" in problems:
                continue  # one of the two could not be read: its own message says so
            name = "beta1"
        problems.setdefault(name, problem)
    return (config if not problems else None), problems


class FormScroll(VerticalScroll, can_focus=False):
    """The form's scrolling body: not a Tab stop of its own (it would show no focus); the fields are."""


class FormScreen(Screen[None]):
    """Set up an experiment; Start (or `s`) launches it."""

    # One `s` binding per mode, so that the footer names what the button does (check_action shows one).
    BINDINGS = [*FIRST_KEYS, Binding("s", "start('start')", "Start"), Binding("s", "start('resume')", "Resume"),
                Binding("s", "start('replace')", "Replace"),
                Binding("x", "app.stop_training", "Stop"),  # offered while this app trains a run
                Binding("g", "app.show_runs", "Runs"),
                Binding("escape", "leave_field", show=False)]  # from a select; a text field shows its own
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (76, "-wide")]  # two columns of groups from 76 columns
    # Focus starts on Start, so `s` (or Enter) launches a run set up from the command line at once;
    # Tab moves into the fields.
    AUTO_FOCUS = "#start"

    class StartRequested(Message):
        def __init__(self, config: Config, fresh: bool) -> None:
            super().__init__()
            self.config, self.fresh = config, fresh

    def __init__(self, config: Config, root: Path) -> None:
        super().__init__()
        self.initial = config
        self.root = root
        self.valid_config: Config | None = None
        self.shown_preset = matching_preset(config)  # what the selector shows because the fields match it
        self.mode = "start"  # start / resume / replace: what Start does, named on the button and in the footer

    def compose(self) -> ComposeResult:
        with Vertical(id="form-body"):
            with FormScroll(id="form"):
                yield Static("[b]grok-tui[/b]: set up a grokking experiment (Nanda et al. 2023)", id="form-title")
                with Horizontal(classes="row", id="preset-row"):
                    yield Label("preset", classes="field-label")
                    yield Select([(f"{name} ({'p=113' if name == 'paper' else 'p=47, fast'})", name)
                                  for name in PRESETS], prompt="custom", id="preset", classes="field-input",
                                 compact=True, value=self.shown_preset or Select.NULL)
                with Horizontal(id="groups"):
                    for column in ("left", "right"):
                        with Vertical(classes="column", id=f"column-{column}"):
                            group = None
                            for group_name, name, label in FIELDS:
                                if (group_name in LEFT_GROUPS) != (column == "left") or name in SHARED_ROWS.values():
                                    continue  # it stands on its partner's row
                                if group_name != group:
                                    group = group_name
                                    yield Static(f"[b]{group_name}[/b]", classes="group")
                                pair = [name, SHARED_ROWS[name]] if name in SHARED_ROWS else [name]
                                with Horizontal(classes="row"):
                                    yield Label(label, classes="field-label")
                                    for each in pair:
                                        yield self._input_for(each)
                                for each in pair:
                                    yield Static("", id=f"err-{each}", classes="error")
            with Vertical(id="actions"):
                yield Static("", id="run-note")
                with Horizontal():
                    yield Button("Start", id="start", variant="success", disabled=True, compact=True)
                    yield ReplaceBox("replace the run: delete it (snapshots too), start over", id="fresh", compact=True)
        yield Footer()

    def _input_for(self, name: str) -> Input | Select[str]:
        text = field_text(self.initial, name)
        if name == "operation":
            return Select([(f"{op}: {desc}", op) for op, desc in OPERATIONS.items()], value=self.initial.operation,
                          allow_blank=False, id=f"in-{name}", classes="field-input", compact=True)
        if name in CHOICES:
            return Select([(shown, value) for shown, value in CHOICES[name]], value=text, allow_blank=False,
                          id=f"in-{name}", classes="field-input", compact=True)
        if name == "device":
            choices = DEVICE_CHOICES + ([text] if text not in DEVICE_CHOICES else [])
            return Select([(d, d) for d in choices], value=text, allow_blank=False, id=f"in-{name}",
                          classes="field-input", compact=True)
        placeholders = {"d_mlp": mlp_placeholder(str(self.initial.d_model)), "threads": "free cores",
                        "stop_after_grok": "off", "grokfast_lamb": "2 for ema, 5 for ma"}
        placeholder = placeholders.get(name, "")
        return FieldInput(text, placeholder=placeholder, id=f"in-{name}", classes="field-input", compact=True)

    def on_mount(self) -> None:
        self.revalidate()

    def texts(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for _, name, _ in FIELDS:
            widget = self.query_one(f"#in-{name}")
            if isinstance(widget, Input):
                out[name] = widget.value
            elif isinstance(widget, Select):
                out[name] = str(widget.value) if widget.value is not Select.NULL else ""
        return out

    def set_field(self, name: str, config: Config) -> None:
        widget = self.query_one(f"#in-{name}")
        if isinstance(widget, (Input, Select)):
            widget.value = field_text(config, name)

    @on(Select.Changed, "#preset")
    def apply_preset(self, event: Select.Changed) -> None:
        if event.value is Select.NULL or event.value == self.shown_preset:
            return  # custom, or the form showing which preset it already is (not a choice: keep every field)
        chosen = preset(str(event.value), tag=self.texts()["tag"], device=self.texts()["device"] or "auto")
        for name in PRESET_FIELDS:
            self.set_field(name, chosen)

    @on(Input.Changed, "#in-tag")
    def clear_replace(self) -> None:
        """A tick given for one run must never delete another: a new tag starts unticked."""
        self.query_one("#fresh", Checkbox).value = False

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def revalidate(self) -> None:
        texts = self.texts()
        config, problems = parse_form(texts)
        note = ""
        fresh = self.query_one("#fresh", Checkbox).value
        mode = "start"
        if config is not None and "tag" not in problems:
            paths = RunPaths(self.root, config.tag)
            if paths.exists() and fresh:
                mode = "replace"
                note = f"[b]replace[/b]: Start asks, then deletes {self._run_at(paths)} and starts over"
            elif paths.exists():
                note, refusal = self._existing_run(paths, config)
                if refusal:
                    problems["tag"] = refusal
                    config = None
                else:
                    mode = "resume"
        for _, name, _ in FIELDS:
            message = self.query_one(f"#err-{name}", Static)
            message.update(escape(problems.get(name, "")))
            message.display = name in problems
        self._show_preset(config)
        self.query_one("#in-d_mlp", Input).placeholder = mlp_placeholder(texts["d_model"])
        self.valid_config = config
        start = self.query_one("#start", Button)
        start.disabled = config is None
        start.label = mode.capitalize()
        start.variant = "error" if mode == "replace" else "success"
        run_note = self.query_one("#run-note", Static)
        run_note.update(note)
        run_note.display = bool(note)
        run_note.set_class(mode == "replace", "danger")
        if mode != self.mode:
            self.mode = mode
            self.refresh_bindings()

    def _show_preset(self, config: Config | None) -> None:
        """The selector says which preset the form is (custom once an experiment field differs)."""
        selector = cast("Select[str]", self.query_one("#preset", Select))
        chosen = matching_preset(config) if config is not None else None
        self.shown_preset = chosen
        selector.value = chosen if chosen is not None else Select.NULL

    def _run_at(self, paths: RunPaths) -> str:
        """"run 'q' (at epoch 1,200)": the run and how far it trained, from its log's last line."""
        last = last_record(paths.log)
        at = f" (at epoch {int(last['epoch']):,})" if last is not None else " (no epoch logged)"
        return f"run {paths.tag!r}{at}"

    def _existing_run(self, paths: RunPaths, config: Config) -> tuple[str, str]:
        """(note, refusal): resuming is offered; a changed experiment is refused unless replaced."""
        try:
            stored = Config.load(paths.config)
        except ConfigError as err:
            return "", f"tag: run {config.tag!r} has an unreadable config ({err}); tick replace to start over"
        changed = config.experiment_differences(stored)
        if changed:
            return "", (f"tag: run {config.tag!r} exists with other settings ({', '.join(changed)}); "
                        "pick another tag or tick replace")
        last = last_record(paths.log)
        if last is not None and int(last["epoch"]) >= config.num_epochs:
            return (f"run {config.tag!r} finished at epoch {int(last['epoch']):,}: raise epochs to train on, "
                    "or change the tag"), ""
        at = f" at epoch {int(last['epoch']):,}" if last is not None else ""
        return f"run {config.tag!r} exists{at}: Resume continues it from its checkpoint", ""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "start" and parameters:
            return parameters[0] == self.mode  # only the binding that names what Start does now
        return True

    def action_leave_field(self) -> None:
        """Escape in a field: to the Start button (or nowhere while it is disabled), so s, g, q work."""
        start = self.query_one("#start", Button)
        if start.disabled:
            self.set_focus(None)
        else:
            start.focus()

    @on(Button.Pressed, "#start")
    def start_pressed(self) -> None:
        self.action_start()

    def action_start(self, mode: str = "") -> None:
        self.revalidate()
        if self.valid_config is None:
            self.notify("fix the fields marked in red first", severity="warning")
            return
        config = dataclasses.replace(self.valid_config)
        fresh = self.query_one("#fresh", Checkbox).value
        paths = RunPaths(self.root, config.tag)
        if not (fresh and paths.exists()):
            self.post_message(self.StartRequested(config, fresh))
            return

        def answered(replace: bool | None) -> None:
            if replace:
                self.post_message(self.StartRequested(config, True))
            else:
                self.notify(f"kept {config.tag!r}: nothing was deleted")

        last = last_record(paths.log)
        self.app.push_screen(ConfirmDelete(config.tag, paths, replace=True,
                                           epoch=int(last["epoch"]) if last is not None else None), answered)


def mlp_placeholder(d_model_text: str) -> str:
    """The blank d_mlp's meaning, with the width it stands for when d_model can be read."""
    try:
        return f"4 x d_model = {4 * int(d_model_text.strip())}"
    except ValueError:
        return "4 x d_model"
