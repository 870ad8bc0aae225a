"""The experiment form: one input per Config field, grouped, validated inline by config.validate().

Every keystroke re-validates; each problem is shown under its field, and Start is disabled while
anything is invalid. A tag that names an existing run turns Start into Resume; a change to the
experiment of an existing run is refused unless "replace the existing run" is ticked.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Input, Label, Select, Static

from grok_tui.config import OPERATIONS, PRESETS, Config, ConfigError, preset, validate
from grok_tui.runs import RunPaths

# (group, field, label); betas are two inputs, beta1 and beta2.
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
    ("optimization", "lr", "learning rate"),
    ("optimization", "weight_decay", "weight decay"),
    ("optimization", "beta1", "beta1"),
    ("optimization", "beta2", "beta2"),
    ("optimization", "warmup_steps", "warmup steps"),
    ("schedule", "num_epochs", "epochs"),
    ("schedule", "log_every", "log every"),
    ("schedule", "checkpoint_every", "checkpoint every"),
    ("schedule", "measure_every", "measure every"),
    ("schedule", "snapshot_every", "snapshot every"),
    ("schedule", "stop_after_grok", "stop after grok"),
]
INT_FIELDS = {"threads", "stop_after_grok", "p", "seed", "d_model", "num_heads", "d_mlp", "warmup_steps", "num_epochs", "log_every",
              "checkpoint_every", "measure_every", "snapshot_every"}
FLOAT_FIELDS = {"frac_train", "lr", "weight_decay", "beta1", "beta2"}
DEVICE_CHOICES = ["auto", "cpu", "cuda", "mps"]


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
        elif name in INT_FIELDS:
            try:
                values[name] = int(text)
            except ValueError:
                problems[name] = f"{name}: must be a whole number (got {text!r})"
        elif name in FLOAT_FIELDS:
            try:
                values[name] = float(text)
            except ValueError:
                problems[name] = f"{name}: must be a number (got {text!r})"
        else:
            values[name] = text
    if problems:
        return None, problems
    values["betas"] = (values.pop("beta1"), values.pop("beta2"))
    config = Config(**values)
    for problem in validate(config):
        name = problem.split(":", 1)[0]
        if name == "betas":
            name = "beta1"
        problems.setdefault(name, problem)
    return (config if not problems else None), problems


class FormScreen(Screen[None]):
    """Set up an experiment; Start (or `s`) launches it."""

    BINDINGS = [Binding("s", "start", "Start"), Binding("g", "app.show_runs", "Runs")]
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

    def compose(self) -> ComposeResult:
        with Vertical(id="form-body"):
            with VerticalScroll(id="form"):
                yield Static("[b]grok-tui[/b]: set up a grokking experiment (Nanda et al. 2023)", id="form-title")
                with Horizontal(classes="row"):
                    yield Label("preset", classes="field-label")
                    yield Select([(f"{name} ({'p=113' if name == 'paper' else 'p=47, fast'})", name)
                                  for name in PRESETS], prompt="custom", id="preset", classes="field-input",
                                 compact=True)
                group = None
                for group_name, name, label in FIELDS:
                    if group_name != group:
                        group = group_name
                        yield Static(f"[b]{group_name}[/b]", classes="group")
                    with Horizontal(classes="row"):
                        yield Label(label, classes="field-label")
                        yield self._input_for(name)
                    yield Static("", id=f"err-{name}", classes="error")
            with Vertical(id="actions"):
                yield Static("", id="run-note")
                with Horizontal():
                    yield Button("Start", id="start", variant="success", disabled=True, compact=True)
                    yield Checkbox("replace the existing run (deletes its log, checkpoint and snapshots)", id="fresh",
                                   compact=True)
        yield Footer()

    def _input_for(self, name: str) -> Input | Select[str]:
        text = field_text(self.initial, name)
        if name == "operation":
            return Select([(f"{op}: {desc}", op) for op, desc in OPERATIONS.items()], value=self.initial.operation,
                          allow_blank=False, id=f"in-{name}", classes="field-input", compact=True)
        if name == "device":
            choices = DEVICE_CHOICES + ([text] if text not in DEVICE_CHOICES else [])
            return Select([(d, d) for d in choices], value=text, allow_blank=False, id=f"in-{name}",
                          classes="field-input", compact=True)
        placeholders = {"d_mlp": f"4 x d_model = {4 * self.initial.d_model}", "threads": "all cores",
                        "stop_after_grok": "off (epochs after grokking)"}
        placeholder = placeholders.get(name, "")
        return Input(text, placeholder=placeholder, id=f"in-{name}", classes="field-input", compact=True)

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
        if event.value is Select.NULL:
            return
        chosen = preset(str(event.value), tag=self.texts()["tag"], device=self.texts()["device"] or "auto")
        for _, name, _ in FIELDS:
            if name not in ("tag", "device", "threads", "stop_after_grok"):
                self.set_field(name, chosen)

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def revalidate(self) -> None:
        config, problems = parse_form(self.texts())
        note = ""
        fresh = self.query_one("#fresh", Checkbox).value
        start = self.query_one("#start", Button)
        if config is not None and "tag" not in problems:
            paths = RunPaths(self.root, config.tag)
            if paths.exists() and not fresh:
                note, refusal = self._existing_run(paths, config)
                if refusal:
                    problems["tag"] = refusal
                    config = None
        for _, name, _ in FIELDS:
            message = self.query_one(f"#err-{name}", Static)
            message.update(problems.get(name, ""))
            message.display = name in problems
        self.query_one("#run-note", Static).update(note)
        self.valid_config = config
        start.disabled = config is None
        start.label = "Resume" if note and config is not None else "Start"
        self.query_one("#run-note", Static).display = bool(note)

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
        return f"run {config.tag!r} exists: Start resumes it from its checkpoint", ""

    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        self.revalidate()
        if self.valid_config is None:
            self.notify("fix the fields marked in red first", severity="warning")
            return
        fresh = self.query_one("#fresh", Checkbox).value
        self.post_message(self.StartRequested(dataclasses.replace(self.valid_config), fresh))
