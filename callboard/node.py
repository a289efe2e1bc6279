"""The composition root: one Callboard process wired from its settings.

Every service is started in dependency order and stopped in reverse by one AsyncExitStack, so a
failure while starting stops what had started, and Ctrl-C leaves nothing running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from agent_desktop.acd_adapter import RoutingAgentControl
from agent_desktop.app import create_app
from agent_desktop.keys import DesktopDeps
from agent_desktop.serving import server_options
from ami_bridge.channels import DirectionRules
from ami_bridge.link import LinkConfig
from ami_bridge.service import AmiBridge
from ami_bridge.tracker import CallTracker
from callboard.campaigns import start_campaigns
from callboard.queues import load_queues
from callboard.recording_starts import start_recordings
from crm_core.bus import InProcessBus
from crm_core.clock import Clock, SystemClock
from crm_core.config import Settings
from crm_core.daily import DailyJob, evaluation_job
from crm_core.db import Database
from crm_core.interactions import InteractionLog
from crm_core.models import User
from dialer.manual import MANUAL_CALL_ID_PREFIX
from dialer.preview import PreviewDesk
from dialer.seats import CampaignSeats
from dialer.service import CampaignDialer
from ivr.crm import CrmCallbackDesk, CrmDirectory, CrmJournal
from ivr.handoff import AcdHandoff
from ivr.loader import CenterCalendar
from ivr.service import IvrService
from ivr.session import SafeDefault
from recordings.config import RecordingPolicy
from recordings.retention import RetentionJob
from recordings.service import Recordings
from routing.acd import Acd
from routing.ringing import AGENT_LEG_ID_PREFIX
from routing.service import AcdService

log = logging.getLogger(__name__)


async def _call_rules(db: Database) -> DirectionRules:
    """What the tracker must know about Callboard's own legs so they never count as calls: the
    ChannelId prefixes the ACD and the manual dial give the operator legs they originate (a
    manual call becomes a call through its debtor leg), and every user's phone endpoint (PJSIP
    or Local; agents and supervisors). Endpoints are read at start; a leg of an endpoint added
    later is still a leg by its ChannelId or its agent context."""
    try:
        async with db.session() as session:
            rows = await session.execute(select(User.endpoint).where(User.endpoint != ""))
            endpoints = frozenset(endpoint for (endpoint,) in rows)
    except SQLAlchemyError:
        log.exception("user endpoints not readable: agent legs known by ChannelId and context")
        endpoints = frozenset()
    return DirectionRules(
        leg_uniqueid_prefixes=(AGENT_LEG_ID_PREFIX, MANUAL_CALL_ID_PREFIX),
        agent_endpoints=endpoints,
    )


@dataclass
class Node:
    """What a running process holds; tests and the demo reach the services through it."""

    settings: Settings
    db: Database
    bus: InProcessBus
    clock: Clock
    bridge: AmiBridge
    acd: AcdService
    ivr: IvrService
    web_url: str
    dialers: dict[int, CampaignDialer]
    recordings: Recordings
    daily: DailyJob | None = None  # promises and instalments, evaluated once a day
    retention: RetentionJob | None = None  # the daily purge of old recordings


async def start_node(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    clock: Clock | None = None,
    retention_poll_s: float = 60.0,
) -> Node:
    clock = clock or SystemClock()
    db = await Database.open(settings.database.url)
    stack.push_async_callback(db.close)
    bus = InProcessBus()
    stack.callback(bus.close)

    bridge = AmiBridge(
        LinkConfig.from_settings(settings.ami),
        bus=bus,
        clock=clock,
        db=db,
        tracker=CallTracker(clock, rules=await _call_rules(db)),
        number_endpoint=settings.ami.number_endpoint,
    )
    await bridge.start()
    stack.push_async_callback(bridge.stop)

    async with db.session() as session:
        queues = await load_queues(session, settings.routing)
    acd = AcdService(
        Acd(clock, queues, tz=ZoneInfo(settings.center.timezone)),
        bus=bus,
        switch=bridge.switch,
        clock=clock,
        db=db,
        default_region=settings.center.default_region,
    )
    await acd.start()
    stack.push_async_callback(acd.stop)

    ivr = IvrService(
        flows=Path(settings.agi.flows_dir),
        directory=CrmDirectory(db, clock),
        handoff=AcdHandoff(acd),
        callbacks=CrmCallbackDesk(db, clock),
        journal=CrmJournal(InteractionLog(db)),
        clock=clock,
        safe_default=SafeDefault(queue=settings.agi.default_queue),
        host=settings.agi.host,
        port=settings.agi.port,
        center=CenterCalendar(settings.center.timezone, frozenset(settings.center.holidays)),
    )
    report = await ivr.start()
    stack.push_async_callback(ivr.close)
    log.info("IVR flows: %s", report)

    dialers = await start_campaigns(
        stack,
        db=db,
        bus=bus,
        switch=bridge.switch,
        clock=clock,
        wrap_up_s=settings.routing.wrap_up_s,
    )

    # operators join and leave campaigns from the desk, sharing their time with the ACD
    seats = CampaignSeats(acd, dialers, bridge.switch, db)
    stack.push_async_callback(seats.close)
    # preview campaigns: the next debtor reserved for an operator, and the countdowns
    preview = PreviewDesk(dialers, db, clock)
    countdowns = asyncio.create_task(preview.run(), name="preview-countdowns")
    stack.push_async_callback(_cancel, countdowns)

    policy = RecordingPolicy.from_settings(settings)
    recordings = Recordings(db, policy, bridge.switch, bus, clock)
    await recordings.start()
    stack.push_async_callback(recordings.stop)
    starts = asyncio.create_task(
        start_recordings(
            bus,
            bridge.tracker,
            recordings.control,
            {i: d.campaign.settings.name for i, d in dialers.items()},
            lambda i: dialers[i].campaign.settings.recording if i in dialers else None,
        ),
        name="recording-starts",
    )
    stack.push_async_callback(_cancel, starts)

    retention = None
    if policy.retention_days > 0:  # 0: recordings are kept forever
        retention = RetentionJob(db, policy, clock, poll_s=retention_poll_s)
        purges = asyncio.create_task(retention.run(), name="recordings-retention")
        stack.push_async_callback(_cancel, purges)

    daily = None
    if settings.payments.evaluate_daily:
        daily = evaluation_job(db, clock, settings)
        evaluations = asyncio.create_task(daily.run(), name="daily-evaluate-promises")
        stack.push_async_callback(_cancel, evaluations)

    app = create_app(
        DesktopDeps(
            db=db,
            bus=bus,
            settings=settings,
            clock=clock,
            acd=RoutingAgentControl(acd, db),
            switch=bridge.switch,
            dialer=dialers,
            seats=seats,
            preview=preview,
        )
    )
    runner = web.AppRunner(app, access_log=None, **server_options(settings.web))
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    site = web.TCPSite(runner, settings.web.host, settings.web.port)
    await site.start()
    url = f"http://{settings.web.host}:{settings.web.port}/"
    log.info("desktop at %s", url)
    return Node(
        settings=settings,
        db=db,
        bus=bus,
        clock=clock,
        bridge=bridge,
        acd=acd,
        ivr=ivr,
        web_url=url,
        dialers=dialers,
        recordings=recordings,
        daily=daily,
        retention=retention,
    )


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def serve(settings: Settings) -> None:
    """Runs until cancelled (Ctrl-C)."""
    async with AsyncExitStack() as stack:
        node = await start_node(settings, stack)
        print(
            f"Callboard is running: {node.web_url} (AMI {settings.ami.host}:{settings.ami.port},"
            f" FastAGI on port {settings.agi.port}). Ctrl-C stops.",
            flush=True,
        )
        await asyncio.Event().wait()
