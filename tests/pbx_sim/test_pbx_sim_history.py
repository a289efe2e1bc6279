"""A sim that runs for hours beside Callboard in one process (the demo) remembers only the
newest calls, Originates and recordings when told to; by default it remembers everything."""

from __future__ import annotations

from pathlib import Path

from pbx_sim import PbxSim, SimConfig, VirtualClock


def one_call(sim: PbxSim, n: int, *, hang_up: bool = True) -> None:
    emit = sim.world.emit
    channel, linkedid = f"PJSIP/trunk-{n:08x}", f"1700000000.{n}"
    emit("Newchannel", "call,all", [("Channel", channel), ("Linkedid", linkedid)])
    sim.placed.append(object())  # type: ignore[arg-type]
    sim.call_log.originates.append(object())  # type: ignore[arg-type]
    sim.recorder.finished.append((Path(f"/tmp/{n}.wav"), 3.0))
    if hang_up:
        emit("Hangup", "call,all", [("Channel", channel), ("Linkedid", linkedid), ("Cause", "16")])


def test_history_keeps_the_newest_and_every_live_call() -> None:
    sim = PbxSim(SimConfig(history=50), VirtualClock())
    live = [f"1700000000.{n}" for n in range(5)]
    for n in range(5):
        one_call(sim, n, hang_up=False)  # still talking after all the others
    for n in range(5, 1005):
        one_call(sim, n)
    assert len(sim.call_log.calls) == 50
    assert all(linkedid in sim.call_log.calls for linkedid in live)
    assert "1700000000.1004" in sim.call_log.calls
    assert "1700000000.5" not in sim.call_log.calls
    assert len(sim.placed) <= 50
    assert len(sim.call_log.originates) <= 50
    assert len(sim.recorder.finished) <= 50
    assert sim.recorder.finished[-1][0] == Path("/tmp/1004.wav")


def test_without_history_everything_is_kept_for_tests() -> None:
    sim = PbxSim(SimConfig(), VirtualClock())
    for n in range(300):
        one_call(sim, n)
    assert len(sim.call_log.calls) == 300
    assert len(sim.placed) == 300
    assert len(sim.recorder.finished) == 300
