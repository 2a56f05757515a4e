"""User-facing errors: one line naming the problem and the fix, then a non-zero exit."""


class PadaError(Exception):
    """A problem the user can fix (bad config, missing data, unreadable model dir).

    The CLI prints ``pada: error: <message>`` on one line and exits with status 2.
    """
