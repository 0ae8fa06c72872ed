"""Command line: thin typer commands over the library (``linguabridge --help``)."""
