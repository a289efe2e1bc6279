"""Queues as administrators stored them, turned into what the ACD runs on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.config import RoutingSettings
from crm_core.models import QueueDefinition
from routing.errors import InvalidQueueConfig
from routing.queues import OverflowRule, QueueConfig, Strategy


def queue_config(definition: QueueDefinition, defaults: RoutingSettings) -> QueueConfig:
    where = f"queue {definition.name!r}"
    try:
        skills = tuple((s["skill"], int(s.get("min_level", 1))) for s in definition.required_skills)
        strategy = Strategy(defaults.strategy)  # config.py checked it on load
        overflow = tuple(_overflow_rule(rule) for rule in definition.overflow)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidQueueConfig(f"{where}: malformed stored definition ({exc})") from exc
    return QueueConfig(
        name=definition.name,
        skills=skills,
        priority=definition.priority,
        sl_target_s=definition.sl_threshold_s,
        sl_target_pct=definition.sl_target_pct,
        max_wait_s=definition.max_wait_s or None,
        overflow=overflow,
        callback_after_s=definition.callback_offer_after_s,
        wrap_up_s=defaults.wrap_up_s,
        ring_timeout_s=defaults.ring_timeout_s,
        sticky_s=defaults.sticky_s,
        strategy=strategy,
    )


def _overflow_rule(rule: Mapping[str, Any]) -> OverflowRule:
    add = rule.get("add_skill")
    return OverflowRule(
        after_s=float(rule["after_s"]),
        relax_to_level=rule.get("min_level"),
        add_skills=((add, int(rule.get("add_level", 1))),) if add else (),
        move_to=rule.get("move_to"),
    )


async def load_queues(session: AsyncSession, defaults: RoutingSettings) -> list[QueueConfig]:
    rows = await session.execute(select(QueueDefinition).order_by(QueueDefinition.name))
    return [queue_config(q, defaults) for q in rows.scalars()]
