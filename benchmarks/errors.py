"""The one error type the CLI turns into a single line and exit status 2."""


class UserError(Exception):
    """Bad input from the user: a message naming the problem and the fix, no traceback."""
