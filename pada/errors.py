"""User-facing errors: one line naming the problem and the fix, then a non-zero exit."""

from __future__ import annotations

from collections.abc import Iterable


class PadaError(Exception):
    """A problem the user can fix (bad config, missing data, unreadable model dir).

    The CLI prints ``pada: error: <message>`` on one line and exits with status 2.
    """


def unknown_key_error(key: str, known: Iterable[str], prefix: str = "", note: str = "") -> PadaError:
    """The one error for a config key no code reads: ``unknown config key '<prefix><key>'<note>`` with the
    closest known key (difflib) as a did-you-mean, else the list of ``known`` keys (in the order given).
    ``prefix``: the node's dotted path with its trailing dot (``method.loop.``), put before the suggestion."""
    import difflib

    known = [str(k) for k in known]
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean '{prefix}{close[0]}'?" if close else f"known keys: {', '.join(known)}"
    return PadaError(f"unknown config key '{prefix}{key}'{note}; {hint}")


ELLIPSIS = " …"
SENTENCE_ENDS = (". ", "! ", "? ", "; ")


def clip(text: str, width: int = 300) -> str:
    """``text`` on one line of at most ``width`` characters, for an error reason quoted from elsewhere (a
    server's body, a traceback's last line).

    Whitespace runs become one space. A longer text is cut at the last sentence end that keeps at least
    half of ``width``, else at the last whole word (``textwrap.shorten``), else (one huge token) at
    ``width``, and ends with `` …`` so a reader sees it was cut. Redact secrets before clipping: a secret
    cut in two no longer matches."""
    import textwrap

    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    room = width - len(ELLIPSIS)
    head = flat[: room + 1]
    sentence = max(head.rfind(end) for end in SENTENCE_ENDS)
    if sentence >= width // 2:
        return flat[: sentence + 1] + ELLIPSIS
    words = textwrap.shorten(flat, width, placeholder=ELLIPSIS)
    return words if words != ELLIPSIS.strip() and words != ELLIPSIS else flat[:room] + ELLIPSIS
