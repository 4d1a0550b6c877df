"""The error a user can act on."""


class UserError(Exception):
    """A mistake the user can fix (bad path, bad value); the CLI prints it as one line, no traceback."""
