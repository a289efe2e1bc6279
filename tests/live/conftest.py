"""The live suite: ONE private Asterisk 22 per test session, configured from deploy/asterisk/ as
its README tells an administrator. `CALLBOARD_ASTERISK` names the `run-asterisk` script; without
it the live tests are skipped (or fail when `CI` is set: CI must run them)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.live.asterisk import HarnessAmi, LivePbx

ENV = "CALLBOARD_ASTERISK"


def pytest_collection_modifyitems(config, items) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.live)


@pytest.fixture(scope="session")
def asterisk(tmp_path_factory) -> Iterator[LivePbx]:
    script = os.environ.get(ENV, "")
    if not script:
        reason = (
            f"live suite: {ENV} is not set (path to shared/asterisk/pbx/run-asterisk); "
            "set it to run Callboard against a real Asterisk 22"
        )
        if os.environ.get("CI"):
            pytest.fail(reason + " -- and CI is set, so the live suite must run", pytrace=False)
        pytest.skip(reason)
    if not os.access(script, os.X_OK):
        pytest.fail(f"{ENV}={script} is not an executable run-asterisk script", pytrace=False)
    pbx = LivePbx(Path(script), tmp_path_factory.mktemp("asterisk"))
    pbx.init()
    pbx.install_kit()
    try:
        pbx.start()
    except Exception as exc:
        pytest.fail(f"Asterisk did not start: {exc}\n{pbx.log_tail()}", pytrace=False)
    try:
        yield pbx
    finally:
        pbx.stop()


@pytest.fixture
async def harness(asterisk: LivePbx) -> AsyncIterator[HarnessAmi]:
    """The harness's AMI session; the PBX is left without channels for the next test."""
    ami = HarnessAmi(asterisk.ami_port)
    await ami.connect()
    try:
        yield ami
    finally:
        try:
            if not ami.alive:  # the test restarted the PBX
                await ami.reconnect()
            await ami.hangup_all()
        finally:
            await ami.close()
