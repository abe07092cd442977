"""The exceptions fcgraph raises for problems a user can fix (bad input, no server)."""


class FcgraphError(Exception):
    """A user-facing error; the CLI prints its message as one line and exits with ``exit_code``.

    The default, 1, means bad data or an environment problem (a corrupt file, no server).
    """

    exit_code = 1


class BadArgument(FcgraphError, ValueError):
    """A flag or argument value that cannot be used (a usage error): the CLI exits 2, as Click
    does for its own usage errors. The message names the flag or argument."""

    exit_code = 2
