"""Recording with the kit's own AMI user on a real Asterisk: MixMonitor on the debtor's channel,
the file written by Asterisk, checked, hashed, indexed and transcribed after the hangup."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from ami_bridge.events import CallEnded
from recordings.tables import Recording, RecordingStatus, TranscriptRecord
from routing.events import CallConnected
from tests.live.asterisk import HarnessAmi, LivePbx
from tests.live.node_support import KNOWN_NUMBER, live_node


def _rms_per_second(path: Path) -> list[float]:
    with wave.open(str(path)) as w:
        rate, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
        assert width == 2
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    pcm = pcm.reshape(-1, channels).mean(axis=1)
    return [float(np.sqrt(np.mean(pcm[i : i + rate] ** 2))) for i in range(0, len(pcm), rate)]


async def test_a_connected_call_is_recorded_hashed_indexed_transcribed(
    asterisk: LivePbx, harness: HarnessAmi, tmp_path
):
    # the operator's phone talks for the whole call (a 30 s prompt), the debtor listens
    await harness.set_global("AGENT_PROMPT", "demo-congrats")
    try:
        async with live_node(asterisk, tmp_path) as live:
            await live.login("olga")
            # the caller stays 3 + 18 s; the kit's prompts take ~9 s of it before the agent rings
            linkedid = await harness.place_caller(number=KNOWN_NUMBER, hold_secs=18)
            await live.seen.until(CallConnected, lambda e: e.linkedid == linkedid)
            ended = await live.seen.until(CallEnded, lambda e: e.linkedid == linkedid)
            assert ended.talk_s > 5

            [rec] = await live.wait_rows(
                Recording,
                lambda rows: bool(rows) and rows[0].status is not RecordingStatus.RECORDING,
                within_s=30,
                linkedid=linkedid,
            )
            assert rec.status is RecordingStatus.STORED, rec.problem
            assert len(rec.sha256) == 64 and rec.size_bytes > 0
            assert abs(rec.duration_s - ended.talk_s) < 2.5, (rec.duration_s, ended.talk_s)
            path = Path(live.node.settings.recordings.directory) / rec.path
            assert path.is_file() and path.stat().st_size == rec.size_bytes
            loud = [s for s in _rms_per_second(path) if s > 200]
            assert len(loud) >= ended.talk_s - 3, _rms_per_second(path)  # audio, not silence

            [text] = await live.wait_rows(
                TranscriptRecord,
                lambda rows: bool(rows),
                within_s=90,
                recording_id=rec.id,
            )
            assert text.text.strip(), text
    finally:
        await harness.set_global("AGENT_PROMPT", "")
