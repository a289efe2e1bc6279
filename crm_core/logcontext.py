"""The log context: which call (Linkedid), agent and campaign a log line is about.

The places where a call's work starts (a bus consumer taking a call event, the FastAGI session,
a desk call action) bind the context for as long as they handle it; every log line inside, in
whichever package, then carries it without passing `extra`. Tasks started inside inherit it, as
asyncio copies the context into each new task.

`ContextFilter` (on the handler) copies the context onto each record, keeping a `linkedid`,
`agent` or `campaign` already given in `extra`; `TextFormatter` prints `call=… agent=…
campaign=…` (only what is set) and `JsonFormatter` writes one JSON object per line for log
shippers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

_LINKEDID: ContextVar[str | None] = ContextVar("log_linkedid", default=None)
_AGENT: ContextVar[str | None] = ContextVar("log_agent", default=None)
_CAMPAIGN: ContextVar[str | None] = ContextVar("log_campaign", default=None)

# record attribute, its contextvar, its key in the text line
_FIELDS: tuple[tuple[str, ContextVar[str | None], str], ...] = (
    ("linkedid", _LINKEDID, "call"),
    ("agent", _AGENT, "agent"),
    ("campaign", _CAMPAIGN, "campaign"),
)
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(log_context)s%(message)s"


@contextmanager
def log_context(
    *,
    linkedid: str | None = None,
    agent: str | None = None,
    campaign: str | int | None = None,
) -> Iterator[None]:
    """Bind the given fields for the block; a field left None (or empty) keeps its outer value."""
    tokens = []
    for var, value in ((_LINKEDID, linkedid), (_AGENT, agent), (_CAMPAIGN, campaign)):
        if value is not None and value != "":
            tokens.append((var, var.set(str(value))))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def event_context(event: object) -> AbstractContextManager[None]:
    """The context of a bus event: its `linkedid` and `agent_id`, whichever it carries."""
    return log_context(
        linkedid=getattr(event, "linkedid", None) or None,
        agent=getattr(event, "agent_id", None) or None,
    )


def current() -> dict[str, str]:
    """The fields bound here, by record attribute name."""
    return {name: value for name, var, _ in _FIELDS if (value := var.get()) is not None}


def _fields(record: logging.LogRecord) -> dict[str, str]:
    """The record's own fields (extra or filter), else the context bound where it is formatted."""
    found: dict[str, str] = {}
    for name, var, _ in _FIELDS:
        value = getattr(record, name, None)
        if value is None and name == "agent":
            value = getattr(record, "agent_id", None)
        if value is None:
            value = var.get()
        if value is not None and value != "":
            found[name] = str(value)
    return found


class ContextFilter(logging.Filter):
    """Copies the bound context onto each record; a field passed in `extra` is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _fields(record)
        for name, _, _ in _FIELDS:
            setattr(record, name, fields.get(name))
        return True


class TextFormatter(logging.Formatter):
    """`<time> <level> <logger> call=<linkedid> agent=<id> campaign=<name> <message>`."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        record.log_context = "".join(
            f"{key}={fields[name]} " for name, _, key in _FIELDS if name in fields
        )
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the context, any exception."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        document.update(_fields(record))
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            document["stack"] = self.formatStack(record.stack_info)
        return json.dumps(document, ensure_ascii=False)


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter()
    if log_format == "text":
        return TextFormatter()
    raise ValueError(f"unknown log format {log_format!r}; expected one of {', '.join(FORMATS)}")


def contextual(handler: logging.Handler, log_format: str) -> logging.Handler:
    """Give a handler the context filter and the formatter for `log_format`; returns it."""
    if not any(isinstance(f, ContextFilter) for f in handler.filters):
        handler.addFilter(ContextFilter())
    handler.setFormatter(formatter(log_format))
    return handler


def configure(log_format: str = "text", *, level: int, stream: TextIO | None = None) -> None:
    """Set up the root logger's console handler; called again (once the settings are read) it
    switches the format of the handler it installed instead of adding another. Like
    `logging.basicConfig`, it leaves a root logger that someone else has set up alone."""
    root = logging.getLogger()
    ours = [h for h in root.handlers if any(isinstance(f, ContextFilter) for f in h.filters)]
    if root.handlers and not ours:
        return
    root.setLevel(level)
    if ours:
        contextual(ours[0], log_format)
    else:
        root.addHandler(contextual(logging.StreamHandler(stream), log_format))
