"""One inbound call through the IVR: the flow runtime's requests carried out over FastAGI.

Whatever happens (the caller hangs up, a prompt is missing, the flow file is broken, the ACD
refuses the call) the call ends either queued (at worst in the safe default queue), with a
callback request, or hung up, and the path taken is written to the interaction log.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from dataclasses import dataclass

from crm_core.clock import Clock
from crm_core.logcontext import log_context
from ivr.agi import AgiChannel, AgiError, AgiRequest, ChannelHungUp
from ivr.flow import Flow
from ivr.library import FlowLibrary
from ivr.ports import (
    CallbackDesk,
    CallbackFailed,
    CallerDirectory,
    HandoffRefused,
    IvrJournal,
    IvrRecord,
    LookupFailed,
    QueuedCall,
    QueueHandoff,
)
from ivr.runtime import (
    Action,
    CallFacts,
    Digits,
    EndCall,
    Enqueue,
    FindCaller,
    FlowRun,
    Outcome,
    PlayPrompts,
    ReadDigits,
    RequestCallback,
    SetLanguage,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SafeDefault:
    """Where a call goes when no flow can run for it."""

    queue: str = "general"
    priority: int = 0


class IvrCallHandler:
    """The FastAGI handler: `FastAgiServer(IvrCallHandler(...))`. The AGI script names the flow."""

    def __init__(
        self,
        *,
        library: FlowLibrary,
        directory: CallerDirectory,
        handoff: QueueHandoff,
        callbacks: CallbackDesk,
        journal: IvrJournal,
        clock: Clock,
        safe_default: SafeDefault,
    ) -> None:
        self.library = library
        self.directory = directory
        self.handoff = handoff
        self.callbacks = callbacks
        self.journal = journal
        self.clock = clock
        self.safe = safe_default

    async def __call__(self, request: AgiRequest, channel: AgiChannel) -> None:
        # Asterisk 22 sends no agi_linkedid; the call's key comes from the channel itself.
        linkedid = await channel.get_variable("CHANNEL(linkedid)") or request.uniqueid
        with log_context(linkedid=linkedid):
            await self.journal.call_entered(
                linkedid,
                at=self.clock.now(),
                caller_number=request.caller_number,
                caller_name=request.caller_name,
            )
            call = _Call(self, request, channel, linkedid)
            flow = self.library.get(request.script)
            if flow is None:
                await call.without_flow()
            else:
                await call.walk(flow)


class _Call:
    """One caller's session: the runtime's requests carried out, and the outcome recorded."""

    def __init__(
        self, ivr: IvrCallHandler, request: AgiRequest, channel: AgiChannel, linkedid: str
    ) -> None:
        self.ivr = ivr
        self.request = request
        self.channel = channel
        self.linkedid = linkedid
        self.queue = ""  # the queue the call was handed to, once it was

    async def without_flow(self) -> None:
        """No usable flow for this script: straight to the safe default queue."""
        script, safe = self.request.script, self.ivr.safe
        log.error(
            "call %s: no usable flow %r; safe default queue %s", self.linkedid, script, safe.queue
        )
        path = [f"flow_unavailable:{script}"]
        outcome = Outcome.FAILED
        try:
            await self._enqueue(Enqueue(safe.queue, {}, safe.priority, fallback=True), path, None)
            outcome = Outcome.QUEUED
        except ChannelHungUp:
            outcome = Outcome.CALLER_HUNG_UP
        except HandoffRefused as exc:
            log.error("call %s: the ACD refused the safe default queue: %s", self.linkedid, exc)
        await self._record("", path, "", outcome, None)

    async def walk(self, flow: Flow) -> None:
        facts = CallFacts(
            caller_number=self.request.caller_number,
            language=self.request.language,
            variables={"did": self.request.extension},  # flows may branch on the number dialled
        )
        run = FlowRun(flow, facts, self.ivr.clock)
        try:
            await self.channel.answer()
            steps = run.steps()
            action = next(steps, None)
            while action is not None:
                reply = await self._perform(action, run)
                action = _send(steps, reply)
        except HandoffRefused as exc:
            run.outcome = Outcome.FAILED
            log.error(
                "call %s: the ACD refused even the safe default queue: %s", self.linkedid, exc
            )
        except ChannelHungUp as exc:
            run.path.append("caller_hung_up")
            run.outcome = Outcome.CALLER_HUNG_UP
            log.info("call %s: caller hung up in flow %s (%s)", self.linkedid, flow.name, exc)
        except (AgiError, TimeoutError) as exc:  # Asterisk went silent or spoke nonsense
            run.path.append("agi_failed")
            run.outcome = Outcome.FAILED
            log.error(
                "call %s: FastAGI failed in flow %s: %s",
                self.linkedid,
                flow.name,
                exc or "no reply in time",
            )
        except Exception:  # a bug in a port: recorded as failed, logged by the server
            run.path.append("internal_error")
            run.outcome = Outcome.FAILED
            raise
        finally:
            await self._record(
                f"{flow.name}@{flow.version}", run.path, " ".join(run.digits), run.outcome, run
            )

    async def _perform(self, action: Action, run: FlowRun) -> object:
        match action:
            case PlayPrompts():
                for prompt in action.prompts:
                    await self.channel.stream_file(prompt)
                return None
            case ReadDigits():
                value, timed_out = await self.channel.get_data(
                    action.prompt, int(action.timeout_s * 1000), action.max_digits
                )
                return Digits(value, timed_out)
            case SetLanguage():
                await self.channel.set_variable("CHANNEL(language)", action.language)
                return None
            case FindCaller():
                try:
                    return await self.ivr.directory.find(action.by, action.value, run.flow.region)
                except LookupFailed as exc:
                    log.error("call %s: caller lookup failed: %s", self.linkedid, exc)
                    run.path.append("lookup_failed")
                    return None
            case Enqueue():
                await self._enqueue(action, run.path, run)
                return None
            case RequestCallback():
                return await self._request_callback(action, run)
            case EndCall():
                await self.channel.hangup()
                return None
        raise TypeError(f"unknown IVR action {action!r}")

    async def _request_callback(self, action: RequestCallback, run: FlowRun) -> int | None:
        try:
            task_id = await self.ivr.callbacks.request_callback(
                caller_number=self.request.caller_number,
                contact_id=run.profile.contact_id if run.profile else None,
                queue=action.queue,
                note=action.note,
                region=run.flow.region,
            )
        except CallbackFailed as exc:
            log.error("call %s: callback request failed: %s", self.linkedid, exc)
            return None
        log.info("call %s: callback task %d for queue %s", self.linkedid, task_id, action.queue)
        return task_id

    async def _enqueue(self, action: Enqueue, path: list[str], run: FlowRun | None) -> None:
        """Hand the call to the ACD; a refused queue falls back to the safe default once."""
        try:
            await self._hand_off(action, tuple(path), run)
        except HandoffRefused as exc:
            safe = self.ivr.safe
            if action.fallback or action.queue == safe.queue:
                raise
            log.error(
                "call %s: queue %s refused (%s); safe default queue %s",
                self.linkedid,
                action.queue,
                exc,
                safe.queue,
            )
            path.append(f"default:{safe.queue}")
            await self._hand_off(Enqueue(safe.queue, {}, safe.priority, True), tuple(path), run)
        else:
            if action.fallback and not path[-1].startswith("default:"):
                path.append(f"default:{action.queue}")

    async def _hand_off(self, action: Enqueue, path: tuple[str, ...], run: FlowRun | None) -> None:
        """Mark the channel for the dialplan (CB_*), then give the call to the ACD."""
        profile = run.profile if run else None
        await self.channel.set_variable("CB_QUEUE", action.queue)
        await self.channel.set_variable("CB_PRIORITY", str(action.priority))
        if profile is not None:
            await self.channel.set_variable("CB_CONTACT", str(profile.contact_id))
        if self.channel.hung_up:
            raise ChannelHungUp("caller hung up before being queued")
        await self.ivr.handoff.enqueue(
            QueuedCall(
                linkedid=self.linkedid,
                channel=self.request.channel,
                caller_number=self.request.caller_number,
                queue=action.queue,
                skills=dict(action.skills),
                priority=action.priority,
                contact_id=profile.contact_id if profile else None,
                preferred_agent=profile.assigned_agent if profile else "",
                ivr_path=path,
            )
        )
        self.queue = action.queue

    async def _record(
        self, flow: str, path: list[str], digits: str, outcome: Outcome, run: FlowRun | None
    ) -> None:
        contact_id = run.profile.contact_id if run and run.profile else None
        record = IvrRecord(
            self.linkedid, flow, tuple(path), digits, outcome, contact_id, self.queue
        )
        await self.ivr.journal.record(record, at=self.ivr.clock.now())


def _send(steps: Generator[Action, object, None], reply: object) -> Action | None:
    try:
        return steps.send(reply)
    except StopIteration:
        return None
