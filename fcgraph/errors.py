"""The one exception type fcgraph raises for problems a user can fix (bad input, no server)."""


class FcgraphError(Exception):
    """A user-facing error; the CLI prints its message as one line and exits non-zero."""
