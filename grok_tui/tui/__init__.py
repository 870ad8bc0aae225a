"""The Textual app. The only part of grok_tui that imports textual; everything it shows comes from the
headless modules and the run folders on disk."""
