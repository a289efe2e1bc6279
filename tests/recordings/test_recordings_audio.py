"""Audio plumbing: the polyphase resampler, WAV reading errors, file checks and layout."""

from __future__ import annotations

import wave
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from recordings.audio import AudioError, Pcm, read_wav, resample, write_wav
from recordings.events import Problem
from recordings.storage import LayoutError, check_file, check_layout, part_path, recording_path
from recordings.transcript import Pause, Transcript, Word


def sine(freq: float, rate: int, seconds: float = 1.0) -> Pcm:
    t = np.arange(int(rate * seconds)) / rate
    return Pcm.mono((10000 * np.sin(2 * np.pi * freq * t)).astype(np.int16), rate)


@pytest.mark.parametrize(
    ("src", "dst"), [(8000, 16000), (16000, 8000), (44100, 16000), (32000, 8000)]
)
def test_resampling_keeps_a_tone_in_band(src: int, dst: int) -> None:
    out = resample(sine(1000, src), dst)
    assert out.rate == dst and out.channels.shape[1] == dst
    expected = sine(1000, dst).channels[0].astype(float)
    error = np.abs(out.channels[0, 200:-200] - expected[200:-200]).max()
    assert error < 0.01 * 10000


def test_downsampling_removes_what_the_line_cannot_carry() -> None:
    out = resample(sine(6000, 16000), 8000)  # above the 4 kHz Nyquist limit of 8 kHz
    assert np.abs(out.channels[0, 100:-100]).max() < 0.01 * 10000


def test_stereo_channels_are_resampled_independently() -> None:
    left, right = sine(500, 8000).channels[0], np.zeros(8000, dtype=np.int16)
    out = resample(Pcm(channels=np.stack([left, right]), rate=8000), 16000)
    assert out.channel_count == 2 and not out.channels[1].any() and out.channels[0].any()


def test_reading_broken_files_names_the_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not a wav")
    with pytest.raises(AudioError, match=r"junk\.wav"):
        read_wav(junk)
    eight_bit = tmp_path / "8bit.wav"
    with wave.open(str(eight_bit), "wb") as w:
        w.setnchannels(1), w.setsampwidth(1), w.setframerate(8000)
        w.writeframes(bytes(800))
    with pytest.raises(AudioError, match="expected 16-bit"):
        read_wav(eight_bit)


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    pcm = Pcm(
        channels=np.stack([sine(300, 8000).channels[0], sine(900, 8000).channels[0]]), rate=8000
    )
    write_wav(tmp_path / "s.wav", pcm)
    back = read_wav(tmp_path / "s.wav")
    assert back.rate == 8000 and np.array_equal(back.channels, pcm.channels)


def test_file_check_reports_each_problem(tmp_path: Path) -> None:
    write_wav(tmp_path / "ok.wav", sine(440, 8000, 10.0))
    ok = check_file(tmp_path / "ok.wav", 10.5)
    assert ok.ok and len(ok.sha256) == 64 and ok.duration_s == pytest.approx(10.0)
    assert check_file(tmp_path / "ok.wav", 30.0).problem is Problem.TRUNCATED
    assert check_file(tmp_path / "ok.wav", 100.0, tolerance_ratio=0.95).ok  # allowed 95 s
    assert check_file(tmp_path / "none.wav", 1.0).problem is Problem.MISSING
    (tmp_path / "empty.wav").touch()
    assert check_file(tmp_path / "empty.wav", 1.0).problem is Problem.EMPTY


def test_layout_is_checked_and_values_made_safe() -> None:
    when = datetime(2026, 11, 23, 14, 53, tzinfo=UTC)
    path = recording_path(
        "{date}/{queue}/{linkedid}.wav", started_at=when, linkedid="1795445591.0", queue="../../etc"
    )
    assert path == "2026-11-23/etc/1795445591.0.wav"
    assert (
        recording_path(
            "{year}/{month}/{campaign}-{linkedid}.wav", started_at=when, linkedid="x/y", campaign=""
        )
        == "2026/11/none-x_y.wav"
    )
    assert part_path("a/b.wav", 1) == "a/b.wav" and part_path("a/b.wav", 3) == "a/b.part3.wav"
    for bad in (
        "{date}/{linkedid}.mp3",
        "{date}/x.wav",
        "{nope}/{linkedid}.wav",
        "/abs/{linkedid}.wav",
        "../{linkedid}.wav",
    ):
        with pytest.raises(LayoutError):
            check_layout(bad)


def test_transcript_round_trips_and_marks_pauses() -> None:
    transcript = Transcript(
        engine="vosk",
        language="ko",
        duration=20.0,
        words=(Word("hello", 1.0, 1.4, 0.9), Word("card", 12.0, 12.5, 0.8, channel=1)),
        pauses=(Pause(5.0, 11.0),),
    )
    assert Transcript.from_dict(transcript.to_dict()) == transcript
    assert transcript.lines() == ["hello", "[recording paused 0:05-0:11]", "card"]
