"""pbx_sim refuses what Asterisk 22 refuses: dial strings with no extension, actions the AMI
user has no write class for, events it has no read class for.

Expected values were taken from a real Asterisk 22.10.1 (../shared/asterisk/pbx) with
deploy/asterisk installed: `dialplan show <exten>@<context>` for the patterns, and the AMI
answers to the Originates and the MixMonitor below."""

from __future__ import annotations

from pathlib import Path

import pytest

from pbx_sim import PbxSim, SimConfig, VirtualClock, kit_user
from pbx_sim.ami.permissions import KIT_READ, KIT_WRITE, WRITE_CLASSES, AmiUser, parse_classes
from pbx_sim.dialplan import Dialplan, Step
from pbx_sim.testing import AmiClient

REPO = Path(__file__).resolve().parents[2]
CLASSES_TSV = REPO.parent / "shared" / "asterisk" / "ami-action-write-classes.tsv"


def _context(*patterns: str) -> list[tuple[str, list[Step]]]:
    return [(p, [Step("NoOp", p)]) for p in patterns]


# [pt-a] ... [pt-d] as loaded into Asterisk 22.10.1; None: "There is no existence of ..."
ASTERISK = Dialplan(
    {
        "pt-a": _context("_X.", "_5X.", "_55!", "_x!"),
        "pt-b": _context("_1-800-NXX", "_age[n]t.", "_[2-4a-c+]Z", "_X.", "_XX"),
        "pt-c": _context("_X!", "_NXX", "5551", "_."),
        "pt-d": _context("_X.9", "_1!"),
    }
)
SEEN_ON_ASTERISK = [
    ("pt-a", "1", "_x!"),
    ("pt-a", "5", "_x!"),
    ("pt-a", "55", "_55!"),
    ("pt-a", "5551", "_55!"),
    ("pt-a", "12", "_X."),
    ("pt-a", "1-800-234", "_X."),
    ("pt-a", "agent1", None),
    ("pt-a", "+1", None),
    ("pt-b", "1", None),
    ("pt-b", "5", None),
    ("pt-b", "55", "_XX"),
    ("pt-b", "555", "_X."),
    ("pt-b", "1800234", "_1-800-NXX"),
    ("pt-b", "1-800-234", "_1-800-NXX"),
    ("pt-b", "18002345", "_X."),
    ("pt-b", "agent1", "_age[n]t."),
    ("pt-b", "AGENT1", None),
    ("pt-b", "agenT1", None),
    ("pt-b", "agent", None),
    ("pt-b", "+1", "_[2-4a-c+]Z"),
    ("pt-b", "+0", None),
    ("pt-b", "a1", "_[2-4a-c+]Z"),
    ("pt-b", "b0", None),
    ("pt-b", "abc", None),
    ("pt-c", "5551", "5551"),
    ("pt-c", "555", "_NXX"),
    ("pt-c", "1", "_X!"),
    ("pt-c", "+1", "_."),
    ("pt-c", "abc", "_."),
    ("pt-d", "12", "_1!"),
    ("pt-d", "129", "_1!"),
    ("pt-d", "5", None),
]


@pytest.mark.parametrize(("context", "exten", "winner"), SEEN_ON_ASTERISK)
def test_patterns_match_as_on_asterisk(context: str, exten: str, winner: str | None) -> None:
    steps = ASTERISK.find(context, exten)
    assert (steps[0].data if steps else None) == winner


@pytest.mark.parametrize(
    ("exten", "exists"),
    [("+447700900123", True), ("5550486", True), ("12", True), ("abc", False), ("+", False)],
)
def test_pstn_sim_takes_numbers_only(exten: str, exists: bool) -> None:
    assert Dialplan().has_extension("pstn-sim", exten) is exists
    assert Dialplan().has_extension("cb-inbound", exten) is exists  # DIDs, also in E.164


async def _originate(client: AmiClient, clock: VirtualClock, aid: str, *headers) -> dict:
    reply = await client.action(
        [("Action", "Originate"), *headers, ("Async", "true"), ("ActionID", aid)]
    )
    assert dict(reply)["Message"] == "Originate successfully queued"
    for _ in range(200):
        done = [
            e for e in client.events() if e["Event"] == "OriginateResponse" and e["ActionID"] == aid
        ]
        if done:
            return done[0]
        await clock.advance(0.1)
    raise AssertionError(f"no OriginateResponse for {aid}")


DIALER = [("Context", "cb-dialer"), ("Exten", "s"), ("Priority", "1"), ("Timeout", "30000")]


async def test_e164_numbers_are_dialled(client: AmiClient, clock: VirtualClock) -> None:
    answered = await _originate(
        client, clock, "o-1", ("Channel", "Local/+447700900123@pstn-sim"), *DIALER
    )
    assert (answered["Response"], answered["Reason"]) == ("Success", "4")
    busy = await _originate(
        client, clock, "o-2", ("Channel", "Local/+15555550486@pstn-sim"), *DIALER
    )
    assert (busy["Response"], busy["Reason"]) == ("Failure", "5")  # ends in 5550486: busy


async def test_no_such_extension_fails_as_on_asterisk(
    client: AmiClient, clock: VirtualClock
) -> None:
    """Asterisk 22.10.1: Newchannel ;1 and ;2, Newexten ;1 (AppDial2), Hangup ;2 (cause 0),
    Hangup ;1 (cause 0), OriginateResponse Failure Reason 0 with the dial string as Channel and
    Uniqueid <unknown> (or the ChannelId); DeviceStateChange INVALID for the dial string comes
    once or twice anywhere after the first Hangup (it varied between three captures)."""
    failed = await _originate(client, clock, "o-1", ("Channel", "Local/abc@pstn-sim"), *DIALER)
    assert failed["Response"] == "Failure" and failed["Reason"] == "0"
    assert failed["Channel"] == "Local/abc@pstn-sim" and failed["Uniqueid"] == "<unknown>"
    events = [e for e in client.events() if e["Event"] not in {"SuccessfulAuth", "FullyBooted"}]
    sequence = [
        (e["Event"], e.get("Channel", ""), e.get("Cause", ""))
        for e in events
        if e["Event"] in {"Newchannel", "Newexten", "Hangup", "OriginateResponse"}
    ]
    assert sequence == [
        ("Newchannel", "Local/abc@pstn-sim-00000000;1", ""),
        ("Newchannel", "Local/abc@pstn-sim-00000000;2", ""),
        ("Newexten", "Local/abc@pstn-sim-00000000;1", ""),
        ("Hangup", "Local/abc@pstn-sim-00000000;2", "0"),
        ("Hangup", "Local/abc@pstn-sim-00000000;1", "0"),
        ("OriginateResponse", "Local/abc@pstn-sim", ""),
    ]
    states = [(e["Device"], e["State"]) for e in events if e["Event"] == "DeviceStateChange"]
    assert states and set(states) == {("Local/abc@pstn-sim", "INVALID")}
    names = [e["Event"] for e in events]
    assert names.index("DeviceStateChange") > names.index("Hangup")
    with_id = await _originate(
        client,
        clock,
        "o-2",
        ("Channel", "Local/agent-one@cb-xfer"),  # cb-xfer takes _200X only
        ("Application", "Wait"),
        ("Data", "1"),
        ("ChannelId", "dial-9-a"),
    )
    assert (with_id["Response"], with_id["Reason"], with_id["Uniqueid"]) == (
        "Failure",
        "0",
        "dial-9-a",
    )
    assert with_id["Channel"] == "Local/agent-one@cb-xfer"


# -- AMI users and their classes ---------------------------------------------------------------


@pytest.fixture
async def kit_client(sim: PbxSim) -> AmiClient:
    client = await AmiClient.connect(sim.ami_port)
    await client.login("callboard", "cbsecret")
    yield client
    await client.close()


async def test_the_kit_user_may_record(kit_client: AmiClient) -> None:
    reply = await kit_client.action(
        [("Action", "MixMonitor"), ("Channel", "nosuch"), ("File", "a.wav"), ("ActionID", "m-1")]
    )
    assert dict(reply)["Message"] != "Permission denied"


async def test_a_missing_write_class_is_permission_denied(clock: VirtualClock) -> None:
    """As Asterisk answers a user without `system` (the kit before it had it)."""
    old = AmiUser.of("old", read="all", write="call,originate,agent,reporting,user")
    sim = PbxSim(SimConfig(users={"ccadmin": "ccsecret", "old": old}), clock)
    await sim.start()
    try:
        watcher = await AmiClient.connect(sim.ami_port)
        await watcher.login()
        client = await AmiClient.connect(sim.ami_port)
        await client.login("old", "old")
        reply = await client.action(
            [("Action", "MixMonitor"), ("Channel", "x"), ("File", "a.wav"), ("ActionID", "m-1")]
        )
        assert reply == [
            ("Response", "Error"),
            ("ActionID", "m-1"),
            ("Message", "Permission denied"),
        ]
        event = await watcher.wait_for(lambda m: m.get("Event") == "RequestNotAllowed")
        assert dict(event)["AccountID"] == "old"
        assert dict(event)["RequestType"] == "Action: MixMonitor"
        ping = await client.action([("Action", "Ping"), ("ActionID", "p-1")])  # class 0
        assert dict(ping)["Response"] == "Success"
        unknown = await client.action([("Action", "NoSuchThing"), ("ActionID", "u-1")])
        assert dict(unknown)["Message"] == "Invalid/unknown command"
        await client.close()
        await watcher.close()
    finally:
        await sim.stop()


async def test_the_kit_user_may_not_send_what_its_classes_lack(kit_client: AmiClient) -> None:
    for action in ("UserEvent", "Command", "ConfbridgeList"):
        reply = await kit_client.action([("Action", action), ("ActionID", f"x-{action}")])
        assert dict(reply)["Message"] == "Permission denied", action


async def test_events_need_a_read_class(
    sim: PbxSim, kit_client: AmiClient, client: AmiClient, clock: VirtualClock
) -> None:
    """The kit user does not read `security` or `cdr`: Asterisk sends it none of those."""
    other = await AmiClient.connect(sim.ami_port)
    await other.login("callboard", "cbsecret")  # a SuccessfulAuth (security) for the others
    await other.close()
    await _originate(client, clock, "o-1", ("Channel", "Local/5550486@pstn-sim"), *DIALER)
    await clock.advance(1.0)
    admin_saw = {e["Event"] for e in client.events()}
    kit_saw = {e["Event"] for e in kit_client.events()}
    assert {"SuccessfulAuth", "Cdr"} <= admin_saw
    assert not kit_saw & {"SuccessfulAuth", "Cdr"}
    assert {"Newchannel", "Hangup", "OriginateResponse"} <= kit_saw


def test_kit_classes_are_those_deploy_ships() -> None:
    user: dict[str, str] = {}
    text = (REPO / "deploy" / "asterisk" / "manager_callboard.conf").read_text()
    section = text.split("[callboard]", 1)[1]
    for line in section.splitlines():
        key, sep, value = line.split(";", 1)[0].partition("=")
        if sep:
            user[key.strip()] = value.strip()
    assert parse_classes(user["read"]) == parse_classes(KIT_READ)
    assert parse_classes(user["write"]) == parse_classes(KIT_WRITE)
    assert kit_user("s").write == parse_classes(user["write"])


def test_write_classes_are_asterisks(sim: PbxSim) -> None:
    if not CLASSES_TSV.exists():
        pytest.skip(f"no Asterisk action table at {CLASSES_TSV} (../shared is not checked out)")
    table = {}
    for line in CLASSES_TSV.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            action, classes = line.split("\t")
            table[action.lower()] = frozenset(
                () if classes == "0" else (c.lower() for c in classes.split("|"))
            )
    for action, classes in WRITE_CLASSES.items():
        assert table[action] == classes, action
    unlisted = set(sim.server.handlers) - set(WRITE_CLASSES)
    assert not unlisted, f"add Asterisk's write classes of {sorted(unlisted)} to WRITE_CLASSES"
