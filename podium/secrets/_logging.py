"""A logging filter that redacts secrets from log records.

The library configures no handlers; the apps (the CLI, `podium serve`) add `RedactingFilter`
to the handlers they install, and an embedding application may do the same with its own.
"""

from __future__ import annotations

import logging

from podium.secrets._registry import redact, redact_text


class RedactingFilter(logging.Filter):
    """Replaces registered secret values in a record's message, arguments and exception text.

    Add it to a handler (``handler.addFilter(RedactingFilter())``): a filter on a handler sees
    the records of every logger, where one on a logger sees only that logger's own.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_text(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_arg(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _arg(v) for k, v in record.args.items()}
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            # formatted once here so that the secret in an exception's message is caught too
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True


def _arg(value: object) -> object:
    if isinstance(value, str | dict | list | tuple):
        return redact(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    text = str(value)  # an exception or an object whose str() may carry the secret
    redacted = redact_text(text)
    return value if redacted == text else redacted


def install(*loggers: logging.Logger) -> None:
    """Add a `RedactingFilter` to every handler of the root logger, of `loggers` and to
    `logging.lastResort` (what prints a warning when no handler is configured).

    For the apps' entry points; the library itself never touches handlers. Installing twice
    adds no second filter.
    """
    handlers = [h for lg in (logging.getLogger(), *loggers) for h in lg.handlers]
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


__all__ = ["RedactingFilter", "install"]
