"""Errors caused by the user's input, which the ``lawm`` command line reports as one line."""


class UserError(Exception):
    """An error caused by the user's input (a missing file, a wrong option), reported by the CLI as one line."""


class BadValueError(UserError, ValueError):
    """A value the user gave (a task or source name, an option) that is not one of the valid ones."""


class CheckpointError(UserError, ValueError):
    """A checkpoint is missing, damaged, or does not fit what it is loaded into; the message names the path."""
