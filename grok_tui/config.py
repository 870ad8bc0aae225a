"""Public face: `from grok_tui.config import Config` (the experiment's one configuration).

The code lives in grok_tui/core/config.py; this module re-exports it for users' scripts and notebooks.
Nothing inside grok_tui imports it (an import-linter contract in pyproject.toml checks that).
"""

from grok_tui.core.config import (EXPERIMENT_FIELDS, OPERATIONS, PRESETS, Config, ConfigError, is_prime, is_valid_tag,
                                  preset, validate)

__all__ = ["Config", "ConfigError", "EXPERIMENT_FIELDS", "OPERATIONS", "PRESETS", "preset", "validate", "is_prime",
           "is_valid_tag"]
