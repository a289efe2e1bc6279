"""PbxSim: the stand-in Asterisk 22 as one object (AMI server, FastAGI client, parties)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from pbx_sim.agi_client import AgiClient
from pbx_sim.ami.calls import CallActions
from pbx_sim.ami.lists import ListActions
from pbx_sim.ami.permissions import AmiUser, kit_user
from pbx_sim.ami.server import AmiServer
from pbx_sim.apps import APPS
from pbx_sim.callers import CallerStream, InboundCall, place
from pbx_sim.calllog import CallLog
from pbx_sim.channel import Channel, Interrupt, Signal
from pbx_sim.clock import RealClock, SimClock
from pbx_sim.parties import AgentPhone, Caller, FarEndProfile, Outcome
from pbx_sim.recording import Recorder
from pbx_sim.runtime import Runtime
from pbx_sim.transfer import TransferActions
from pbx_sim.world import World


@dataclass
class SimConfig:
    host: str = "127.0.0.1"
    ami_port: int = 0  # 0: any free port (see PbxSim.ami_port)
    # name -> secret (read/write all, like the reference PBX's ccadmin) or an AmiUser with
    # classes; "callboard" has those of deploy/asterisk/manager_callboard.conf (KIT_READ/WRITE)
    users: dict[str, str | AmiUser] = field(
        default_factory=lambda: {"ccadmin": "ccsecret", "callboard": kit_user("cbsecret")}
    )
    agi_url: str | None = None  # overrides every AGI(...) URL, e.g. agi://127.0.0.1:4573/inbound
    queues: Sequence[str] = ("support", "sales")
    agents: int = 0  # agent phones agent1..agentN created at start
    agent_phone: AgentPhone = field(default_factory=AgentPhone)
    far_ends: FarEndProfile = field(default_factory=FarEndProfile)
    call_rate: float = 0.0  # inbound calls per second (Poisson); 0: none
    call_limit: int | None = None
    caller_numbers: Sequence[str] = ("5551234", "5552222", "5553333")
    dids: Sequence[str] = ("100",)
    patience: float | tuple[float, float] = 120.0
    ivr_digits: Sequence[str] = ()
    talk_limit: float | tuple[float, float] | None = None  # caller hangs up after talking so long
    seed: int = 7
    # How many ended calls, Originates, placed calls and closed recordings the sim remembers for
    # inspection (call_log, placed, recorder.finished); None: all of them, as tests want. A sim
    # that runs for hours in one process with Callboard (the demo) keeps only the newest.
    history: int | None = None


class PbxSim:
    def __init__(self, config: SimConfig | None = None, clock: SimClock | None = None) -> None:
        self.config = config or SimConfig()
        self.clock = clock or RealClock()
        self.world = World(self.clock)
        self.runtime = Runtime(self.world, APPS, rng=random.Random(self.config.seed))
        self.runtime.far_ends = self.config.far_ends
        for queue in self.config.queues:
            self.world.queues[queue] = []
        self.server = AmiServer(
            self.clock, dict(self.config.users), self.config.host, self.config.ami_port
        )
        self.call_log = CallLog()
        self.world.listeners.append(self.server.broadcast)
        self.world.listeners.append(self.call_log.on_event)
        self.runtime.on_originate.append(
            lambda req, res: self.call_log.on_originate(req, res, self.clock.now())
        )
        CallActions(self.server, self.runtime)
        ListActions(self.server, self.runtime)
        TransferActions(self.server, self.runtime)
        self.recorder = Recorder(self.server, self.runtime)
        self.runtime.agi = AgiClient(self.config.agi_url)
        for n in range(1, self.config.agents + 1):
            self.add_agent_phone(f"agent{n}", self.config.agent_phone)
        self.placed: list[InboundCall] = []
        self._stream: CallerStream | None = None
        if self.config.history is not None:
            self.world.listeners.append(self._forget_history)

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        await self.server.start()
        if self.config.call_rate > 0 and self._stream is None:
            self._stream = CallerStream(
                self.runtime,
                self.config.call_rate,
                self.config.caller_numbers,
                self.config.dids,
                self._make_caller,
                self.placed.append,
                self.config.call_limit,
            )
            self.runtime.spawn(self._stream.run(), "caller stream")

    async def stop(self) -> None:
        await self.server.stop()
        await self.runtime.stop()
        await self.recorder.flush()

    @property
    def ami_port(self) -> int:
        return self.server.port

    # -- parties ----------------------------------------------------------------------------
    def add_agent_phone(self, name: str, phone: AgentPhone | None = None) -> None:
        """How `Local/<name>@cb-agents` behaves when Callboard rings it."""
        self.runtime.agent_phones[name] = phone or AgentPhone(name=name)

    def set_far_end(self, number: str, outcome: Outcome) -> None:
        """Fix what a dialled number does (`Local/<number>@pstn-sim`)."""
        self.config.far_ends.per_number[number] = outcome

    def place_inbound_call(self, caller: Caller) -> InboundCall:
        """A caller dials `caller.did`: Local/<did>@cb-inbound, answered, IVR over FastAGI,
        then music on hold in cb-hold until Callboard connects an agent."""
        call = place(self.runtime, caller)
        self.placed.append(call)
        return call

    def hang_up_caller(self, call: InboundCall) -> bool:
        """The caller puts the phone down now."""
        handset = self.world.find(call.handset_channel)
        if handset is None:
            return False
        handset.interrupt(Interrupt(Signal.LEAVE))
        return True

    def channel(self, name: str) -> Channel | None:
        return self.world.find(name)

    def _forget_history(self, event: str, headers: list[tuple[str, str]]) -> None:
        """Keep the newest `history` of what the sim remembers (checked as calls end)."""
        keep = self.config.history
        if event != "Hangup" or keep is None:
            return
        self.call_log.forget(keep)
        for kept in (self.placed, self.recorder.finished):
            if len(kept) > keep:
                del kept[: len(kept) - keep]

    def _make_caller(self, rng: random.Random, number: str, did: str) -> Caller:
        def draw(value: float | tuple[float, float]) -> float:
            return rng.uniform(*value) if isinstance(value, tuple) else value

        talk = self.config.talk_limit
        return Caller(
            number=number,
            name=f"Caller {number}",
            did=did,
            digits=tuple(self.config.ivr_digits),
            patience=draw(self.config.patience),
            talk_limit=None if talk is None else draw(talk),
        )

    # -- faults -----------------------------------------------------------------------------
    def fault_drop_connections(self) -> None:
        """Every AMI TCP connection is cut at once (no Shutdown, no goodbye)."""
        for session in list(self.server.sessions):
            session.abort()

    def fault_silent(self, silent: bool = True) -> None:
        """Stop answering anything (Ping included) and stop sending events."""
        self.server.faults.silent = silent

    def fault_ignore_action(self, action: str, ignore: bool = True) -> None:
        """Never reply to this action (e.g. "QueueAdd", "Originate")."""
        names = self.server.faults.ignore_actions
        (names.add if ignore else names.discard)(action.lower())

    async def fault_shutdown(self, restart: bool = False) -> None:
        """`core stop now` (trace 14): every channel soft-hung-up (cause 4) and hung up
        (cause 0), `Event: Shutdown`, then EOF on every AMI connection. Without `restart`
        the port stops listening until `await sim.start()` again."""
        w = self.world
        channels = list(w.channels.values())
        await self.runtime.stop()  # nothing reacts on its own any more
        for ch in channels:
            w.chan_event("SoftHangupRequest", ch, ("Cause", "4"))
        for ch in channels:
            if ch.in_moh:
                ch.in_moh = False
                w.chan_event("MusicOnHoldStop", ch)
        for ch in channels:
            w.chan_event("SoftHangupRequest", ch, ("Cause", "16"))
        for ch in channels:
            if ch.name.endswith(";2"):
                w.chan_event("HangupRequest", ch, ("Cause", "0"))
            if ch.bridge is not None:
                w.leave_bridge(ch)
            w.finish_hangup(ch, 0)
        w.emit(
            "Shutdown",
            "system,all",
            [("Shutdown", "Cleanly"), ("Restart", "True" if restart else "False")],
        )
        for session in list(self.server.sessions):
            await session.close()
        if not restart:
            await self.server.stop_listening()
