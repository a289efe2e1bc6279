"""`python -m pbx_sim`: arguments become a SimConfig; the process serves AMI."""

from __future__ import annotations

import asyncio
import socket
import sys

from pbx_sim.__main__ import parse_args
from pbx_sim.testing import AmiClient


def test_arguments_make_the_config() -> None:
    config = parse_args(
        [
            "--ami-port",
            "15038",
            "--agi-url",
            "agi://127.0.0.1:4573/inbound",
            "--agents",
            "3",
            "--call-rate",
            "0.2",
            "--digits",
            "1,12345#",
            "--numbers",
            "5550001,5550002",
            "--talk-secs",
            "10",
            "20",
        ]
    )
    assert (config.ami_port, config.agents, config.call_rate) == (15038, 3, 0.2)
    assert config.agi_url == "agi://127.0.0.1:4573/inbound"
    assert list(config.ivr_digits) == ["1", "12345#"]
    assert list(config.caller_numbers) == ["5550001", "5550002"]
    assert config.agent_phone.talk_secs == (10.0, 20.0)
    assert config.agent_phone.nailed_secs == 8 * 3600


async def test_the_module_runs_and_answers_login() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pbx_sim",
        "--ami-port",
        str(port),
        "--agents",
        "2",
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        line = await asyncio.wait_for(process.stderr.readline(), 10)
        assert f"AMI on 127.0.0.1:{port}" in line.decode()
        client = await AmiClient.connect(port)
        await client.login()
        reply = await client.action([("Action", "Ping"), ("ActionID", "p-1")])
        assert dict(reply)["Ping"] == "Pong"
        await client.close()
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)
    assert process.returncode == 0
