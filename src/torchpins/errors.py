"""The one exception hierarchy of torchpins.

A :class:`TorchpinsError` is an expected user error: the build or the command stops with its
message on one line and no traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable


class TorchpinsError(Exception):
    """An error the user can fix; its message names the key or variable and the fix. Values
    are quoted into messages through :func:`shorten`, so a huge bad value still gives one
    readable line; the message itself is never edited afterwards."""


#: Quoted values longer than this are cut in messages.
LONGEST_QUOTED = 120


def shorten(value: object, *, quote: bool = True) -> str:
    """``repr(value)`` (the text itself with ``quote=False``), cut to :data:`LONGEST_QUOTED`
    characters with the full length said."""
    text = value if isinstance(value, str) else str(value)
    shown = repr if quote else str
    if len(text) <= LONGEST_QUOTED:
        return shown(text)
    return f"{shown(text[:LONGEST_QUOTED])}... ({len(text)} characters)"


class ConfigError(TorchpinsError):
    """``pyproject.toml`` is not a configuration torchpins can use."""


class OverrideError(TorchpinsError):
    """A ``TORCHPINS_*`` variable, ``-C torchpins.*`` setting or ``--set`` value is invalid."""


class ResolveError(TorchpinsError):
    """The configuration is valid but rejects this environment (a row ``error``, an unmatched
    torch, no torch at all)."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` when a choice is close to ``word``, else ``""``."""
    import difflib  # only when there is an error to explain

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def has_control_characters(text: str) -> bool:
    """True when ``text`` holds a character that could break a metadata header (newlines too)."""
    return any(ord(ch) < 32 or 127 <= ord(ch) < 160 or ch in "\u2028\u2029" for ch in text)
