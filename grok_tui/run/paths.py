"""Run folders: where a tag's files live under a root (the lock is run/lock.py, summaries run/summary.py).

    <root>/logs/<tag>/config.json           the run's Config
    <root>/logs/<tag>/training_log.jsonl    one JSON line per logged epoch
    <root>/logs/<tag>/training_curves.png   written at the end of a run and by `plot`
    <root>/logs/<tag>/train.lock            present while a trainer owns the run (PID and host inside)
    <root>/logs/<tag>/sessions.jsonl        one line per training session: where and with what it ran
    <root>/models/<tag>/checkpoint.pth      model, optimizer, scheduler, RNG states, epoch, config
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grok_tui.core.config import TAG_RULE, ConfigError, is_valid_tag


def check_tag(tag: str) -> str:
    if not is_valid_tag(tag):
        raise ConfigError([f"tag: must be {TAG_RULE} (got {tag!r})"])
    return tag


@dataclass(frozen=True)
class RunPaths:
    root: Path
    tag: str

    @classmethod
    def of(cls, tag: str, root: Path | str | None = None) -> "RunPaths":
        # The tag rule forbids separators and a leading '.', so a tag can never leave logs/ or models/.
        return cls(Path(root) if root is not None else Path.cwd(), check_tag(tag))

    @property
    def log_dir(self) -> Path:
        return self.root / "logs" / self.tag

    @property
    def model_dir(self) -> Path:
        return self.root / "models" / self.tag

    @property
    def config(self) -> Path:
        return self.log_dir / "config.json"

    @property
    def log(self) -> Path:
        return self.log_dir / "training_log.jsonl"

    @property
    def curves_png(self) -> Path:
        return self.log_dir / "training_curves.png"

    @property
    def events(self) -> Path:
        return self.log_dir / "events.json"

    @property
    def measures_png(self) -> Path:
        return self.log_dir / "progress_measures.png"

    @property
    def checkpoint(self) -> Path:
        return self.model_dir / "checkpoint.pth"

    @property
    def lock(self) -> Path:
        return self.log_dir / "train.lock"

    @property
    def sessions(self) -> Path:
        """One JSON line per training session (start or resume): its environment (grok_tui/run/sessions.py)."""
        return self.log_dir / "sessions.jsonl"

    def exists(self) -> bool:
        return self.config.exists() or self.log.exists() or self.checkpoint.exists()


def run_folders(root: Path | str | None = None) -> list[RunPaths]:
    """Every run under <root>/logs, sorted by tag."""
    logs = (Path(root) if root is not None else Path.cwd()) / "logs"
    if not logs.is_dir():
        return []
    found = (RunPaths(logs.parent, folder.name) for folder in sorted(logs.iterdir())
             if folder.is_dir() and is_valid_tag(folder.name))
    return [paths for paths in found if paths.exists()]


