"""tracker: dated public predictions checked against live public data."""

__version__ = "0.1.0"
