"""One module per section of the report; each ``build(run)`` returns a :class:`~linguabridge.report.blocks.Section`."""
