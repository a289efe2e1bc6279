"""`python -m pbx_sim`: run the simulated PBX in real time (demo, manual testing)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from pbx_sim.parties import AgentPhone
from pbx_sim.sim import PbxSim, SimConfig


def parse_args(argv: list[str] | None = None) -> SimConfig:
    p = argparse.ArgumentParser(prog="python -m pbx_sim", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--ami-port", type=int, default=5038)
    p.add_argument("--agi-url", default=None, help="e.g. agi://127.0.0.1:4573/inbound")
    p.add_argument("--agents", type=int, default=0, help="agent phones agent1..agentN")
    p.add_argument("--talk-secs", type=float, nargs=2, default=(60.0, 240.0), metavar=("LO", "HI"))
    p.add_argument("--ring-secs", type=float, nargs=2, default=(1.0, 4.0), metavar=("LO", "HI"))
    p.add_argument("--no-answer", type=float, default=0.05, help="agent no-answer probability")
    p.add_argument(
        "--nailed-secs", type=float, default=8 * 3600, help="nailed-up agent lines stay this long"
    )
    p.add_argument("--call-rate", type=float, default=0.0, help="inbound calls per second")
    p.add_argument("--patience", type=float, nargs=2, default=(30.0, 180.0), metavar=("LO", "HI"))
    p.add_argument(
        "--numbers", default="5551234,5552222,5553333", help="comma-separated caller numbers"
    )
    p.add_argument("--digits", default="", help="comma-separated IVR answers, e.g. 1,12345#")
    p.add_argument(
        "--caller-talk-secs",
        type=float,
        nargs=2,
        default=None,
        metavar=("LO", "HI"),
        help="callers hang up after talking this long (nailed-up agents never do)",
    )
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args(argv)
    return SimConfig(
        host=a.host,
        ami_port=a.ami_port,
        agi_url=a.agi_url,
        agents=a.agents,
        agent_phone=AgentPhone(
            ring_secs=tuple(a.ring_secs),
            talk_secs=tuple(a.talk_secs),
            no_answer=a.no_answer,
            nailed_secs=a.nailed_secs,
        ),
        call_rate=a.call_rate,
        patience=tuple(a.patience),
        talk_limit=None if a.caller_talk_secs is None else tuple(a.caller_talk_secs),
        caller_numbers=[n for n in a.numbers.split(",") if n],
        ivr_digits=[d for d in a.digits.split(",") if d],
        seed=a.seed,
    )


async def serve(config: SimConfig) -> None:
    sim = PbxSim(config)
    await sim.start()
    logging.getLogger("pbx_sim").info("AMI on %s:%d", config.host, sim.ami_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sim.stop()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
