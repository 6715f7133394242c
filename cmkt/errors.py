"""The one exception type users see: a single line naming the file and the fix."""


class CmktError(Exception):
    """A user-facing failure. The CLI prints its message as one line and exits non-zero."""
