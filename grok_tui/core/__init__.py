"""The foundation every layer stands on: the one Config with its validation and presets (config.py), the table
of config flags (flags.py), the errors a user can cause (errors.py), safe file writes and reads (atomic.py),
and how numbers are shown (text.py). It imports nothing else of grok_tui, and no torch."""
