"""Finding 2 (Low 15): recordings named their operator by agent id, the access rule compared a
user name, so nobody but admins could hear any recording. Here the row is written the way the
node writes it on a connected call (pbx_sim <-> ami_bridge <-> routing's ACD, callboard's
start_recordings, recordings' RecordingControl), then heard through the desktop's HTTP API: the
operator hears their own call, another operator does not, a supervisor hears their team's."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from pathlib import Path

from sqlalchemy import select

from callboard.recording_starts import start_recordings
from crm_core.clock import SystemClock
from crm_core.config import Settings
from recordings.config import RecordingPolicy
from recordings.service import Recordings
from recordings.tables import Recording, RecordingStatus
from tests.agent_desktop.test_agent_desktop_recordings_support import put_in_team
from tests.security.support import open_desk


async def stored_recording(env, linkedid: str, within_s: float = 30.0) -> Recording:
    async with asyncio.timeout(within_s):
        while True:
            async with env.db.session() as session:
                row = await session.scalar(select(Recording).where(Recording.linkedid == linkedid))
            if row is not None and row.status == RecordingStatus.STORED:
                return row
            await asyncio.sleep(0.1)


async def wait_state(ws, state: str, within_s: float = 20.0) -> None:
    """Until the desk's websocket says the agent is in `state`."""
    async with asyncio.timeout(within_s):
        async for message in ws:
            data = json.loads(message.data)
            if data.get("type") == "agent" and data["agent"]["state"] == state:
                return


async def test_an_operator_hears_their_own_real_call_others_do_not_their_supervisor_does(
    pbx_stack, env, sign_in, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default [recordings] directory is relative: keep it here
    stack = pbx_stack
    settings = Settings()
    recordings = Recordings(
        env.db, RecordingPolicy.from_settings(settings), stack.bridge.switch, env.bus, SystemClock()
    )
    follow = recordings.control.subscribe(env.bus)
    tasks = [
        asyncio.create_task(recordings.control.run(follow)),
        # exactly as callboard.node wires it
        asyncio.create_task(
            start_recordings(env.bus, stack.bridge.tracker, recordings.control, {})
        ),
    ]
    await asyncio.sleep(0)
    try:
        client = stack.client
        csrf = await sign_in(client, "op1")
        headers = {"X-CSRF-Token": csrf}
        ws = await open_desk(client)
        login = await client.post("/desk/agent", json={"action": "login"}, headers=headers)
        assert login.status == 200, await login.text()
        op1 = str(env.users["op1"])
        await wait_state(ws, "ready")
        await stack.queue_caller("rec-sec-1", env.contact_id)
        await wait_state(ws, "on_call")
        await asyncio.sleep(1.0)  # a second of conversation on the recording (the scenario)
        hangup = await client.post("/desk/call/hangup", json={}, headers=headers)
        assert hangup.status == 200, await hangup.text()
        recording = await stored_recording(env, "rec-sec-1")
        assert recording.agent == op1  # what the node really writes: the ACD's agent id
        await ws.close()
        audio = f"/api/recordings/{recording.id}/audio"

        own = await client.get(audio)
        assert own.status == 200, await own.text()
        assert len(await own.read()) > 44  # a WAV with sound in it
        await client.post("/logout", headers=headers, allow_redirects=False)

        await sign_in(client, "op2")
        other = await client.get(audio)
        assert other.status == 403
        csrf = await sign_in_again(client, sign_in, "sup")
        assert (await client.get(audio)).status == 403  # not (yet) the supervisor's team
        await put_in_team(env.db, env.users["op1"], env.users["sup"])
        team = await client.get(audio)
        assert team.status == 200, await team.text()
    finally:
        env.bus.unsubscribe(follow)
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def sign_in_again(client, sign_in, username: str) -> str:
    """Signs the current user out, then `username` in."""
    desk = await client.get("/api/me")
    if desk.status == 200:
        page = await client.get("/")
        token = re.search(r'<meta name="csrf-token" content="([^"]+)"', await page.text())
        if token is not None:
            await client.post(
                "/logout", headers={"X-CSRF-Token": token.group(1)}, allow_redirects=False
            )
    return await sign_in(client, username)
