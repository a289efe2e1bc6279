"""Fixtures for pbx_sim tests: a PbxSim on a VirtualClock and a logged-in raw AMI client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pbx_sim import PbxSim, SimConfig, VirtualClock
from pbx_sim.testing import AmiClient


@pytest.fixture
async def clock() -> AsyncIterator[VirtualClock]:
    clock = VirtualClock(start=1795444938.0)
    yield clock
    await clock.stop()


@pytest.fixture
async def sim(clock: VirtualClock) -> AsyncIterator[PbxSim]:
    sim = PbxSim(SimConfig(), clock)
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture
async def client(sim: PbxSim) -> AsyncIterator[AmiClient]:
    client = await AmiClient.connect(sim.ami_port)
    await client.login()
    yield client
    await client.close()
