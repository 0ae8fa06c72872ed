"""The run report: one self-contained page per run (HTML with embedded plots) and a Markdown summary."""
