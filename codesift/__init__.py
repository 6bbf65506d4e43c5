"""codesift: data-efficient fine-tuning of code LLMs as a reproducible DVC pipeline."""

__version__ = "0.1.0"


class CodesiftError(Exception):
    """A user-facing error: the message says what is wrong and where, no traceback needed."""
