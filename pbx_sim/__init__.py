"""pbx_sim: a stand-in Asterisk 22 (AMI server, FastAGI client, simulated callers and phones).

It imports nothing of Callboard: it is the other side of the wire.
"""

from pbx_sim.ami.permissions import AmiUser, kit_user
from pbx_sim.callers import InboundCall
from pbx_sim.calllog import CallLog, CallRecord, OriginateRecord
from pbx_sim.clock import RealClock, SimClock, VirtualClock
from pbx_sim.parties import AgentPhone, Caller, FarEndProfile, Outcome
from pbx_sim.sim import PbxSim, SimConfig

__all__ = [
    "AgentPhone",
    "AmiUser",
    "CallLog",
    "CallRecord",
    "Caller",
    "FarEndProfile",
    "InboundCall",
    "OriginateRecord",
    "Outcome",
    "PbxSim",
    "RealClock",
    "SimClock",
    "SimConfig",
    "VirtualClock",
    "kit_user",
]
