"""The log context: the filter copies what is bound onto each record, the text formatter prints
`call=… agent=… campaign=…` only when set, the JSON formatter writes one object per line."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from crm_core.config import ConfigError, load_settings
from crm_core.logcontext import configure, contextual, current, event_context, log_context

LOGGER = "callboard.test.logcontext"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO, logging.Handler]]:
    out = io.StringIO()
    handler = contextual(logging.StreamHandler(out), "text")
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, out, handler
    logger.removeHandler(handler)
    logger.propagate = True


def test_text_lines_carry_the_bound_call_agent_and_campaign(
    captured: tuple[logging.Logger, io.StringIO, logging.Handler],
) -> None:
    logger, out, _ = captured
    logger.info("outside any call")
    with log_context(linkedid="1700000000.1", agent="7"):
        with log_context(campaign="spring"):
            logger.info("inside")
        logger.info("campaign left")
    logger.info("after")
    lines = out.getvalue().splitlines()
    assert lines[0].endswith(f"INFO {LOGGER} outside any call")
    assert lines[1].endswith(f"INFO {LOGGER} call=1700000000.1 agent=7 campaign=spring inside")
    assert lines[2].endswith(f"INFO {LOGGER} call=1700000000.1 agent=7 campaign left")
    assert lines[3].endswith(f"INFO {LOGGER} after")
    assert current() == {}


def test_an_explicit_extra_wins_over_the_context(
    captured: tuple[logging.Logger, io.StringIO, logging.Handler],
) -> None:
    logger, out, _ = captured
    with log_context(linkedid="L-outer", agent="7"):
        logger.warning("about another call", extra={"linkedid": "L-other"})
    assert out.getvalue().rstrip().endswith("call=L-other agent=7 about another call")


def test_json_lines_are_one_object_each_with_the_context(
    captured: tuple[logging.Logger, io.StringIO, logging.Handler],
) -> None:
    logger, out, handler = captured
    contextual(handler, "json")  # the same handler, switched: still one filter
    assert len(handler.filters) == 1
    logger.info("plain")
    with log_context(linkedid="L1", agent="7", campaign=3):
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed\nacross lines")
    plain, failed = (json.loads(line) for line in out.getvalue().splitlines())
    assert set(plain) == {"time", "level", "logger", "message"}
    assert (plain["level"], plain["logger"], plain["message"]) == ("INFO", LOGGER, "plain")
    assert plain["time"].endswith("+00:00")
    assert failed["message"] == "failed\nacross lines"
    assert (failed["linkedid"], failed["agent"], failed["campaign"]) == ("L1", "7", "3")
    assert "ValueError: boom" in failed["exception"]


async def test_tasks_started_inside_inherit_the_context_and_others_do_not() -> None:
    seen: list[dict[str, str]] = []

    async def work() -> None:
        await asyncio.sleep(0)
        seen.append(current())

    class LegDone:
        linkedid = "L2"
        agent_id = "9"

    with event_context(LegDone()):
        inside = asyncio.create_task(work())
    outside = asyncio.create_task(work())
    await asyncio.gather(inside, outside)
    assert seen == [{"linkedid": "L2", "agent": "9"}, {}]


def test_configure_switches_its_own_handler_and_leaves_a_foreign_root_alone() -> None:
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    try:
        root.handlers = []
        out = io.StringIO()
        configure("text", level=logging.INFO, stream=out)
        configure("json", level=logging.INFO, stream=out)
        assert len(root.handlers) == 1
        with log_context(linkedid="L3"):
            logging.getLogger(LOGGER).info("hello")
        assert json.loads(out.getvalue())["linkedid"] == "L3"
        root.handlers = [logging.NullHandler()]
        configure("json", level=logging.DEBUG)
        assert len(root.handlers) == 1 and root.level == logging.INFO
    finally:
        root.handlers, root.level = saved, level


def test_the_format_setting_is_validated() -> None:
    assert load_settings(environ={}).logging.format == "text"
    assert load_settings(environ={"CALLBOARD_LOGGING__FORMAT": "json"}).logging.format == "json"
    with pytest.raises(ConfigError, match=r"\[logging\] format"):
        load_settings(environ={"CALLBOARD_LOGGING__FORMAT": "xml"})
