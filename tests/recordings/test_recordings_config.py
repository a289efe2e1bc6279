"""The recording policy built from crm_core's settings, and its start-up checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_core.config import ConfigError, load_settings
from recordings.config import RecordingPolicy, RecordMode
from recordings.storage import LayoutError


def test_policy_from_the_settings_file(tmp_path: Path) -> None:
    config = tmp_path / "callboard.toml"
    config.write_text(
        '[recordings]\ndirectory = "/srv/rec"\nlayout = "{year}/{month}/{linkedid}.wav"\n'
        'workers = 2\nvosk_models = { ko = "/models/ko" }\n'
    )
    policy = RecordingPolicy.from_settings(load_settings(config, environ={}), retention_days=90)
    assert policy.directory == Path("/srv/rec") and policy.workers == 2
    assert policy.engines.vosk_models == {"ko": Path("/models/ko")}
    assert policy.engines.engine_name("ko-KR") == "vosk"
    assert policy.retention_days == 90
    config.write_text("[recordings]\nretention_days = 0\n")  # 0: kept forever
    assert RecordingPolicy.from_settings(load_settings(config, environ={})).retention_days == 0
    config.write_text("[recordings]\nretention_days = -5\n")
    with pytest.raises(ConfigError, match=r"\[recordings\] retention_days: must be in 0..36500"):
        load_settings(config, environ={})
    assert policy.asterisk_path("2026/11/x.wav") == "/srv/rec/2026/11/x.wav"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"layout": "{date}.wav"}, "must contain {linkedid}"),
        ({"retention_days": -1}, "retention_days"),
        ({"workers": 0}, "workers"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"recheck_after_s": ()}, "recheck_after_s"),
    ],
)
def test_bad_policy_values_are_named(tmp_path: Path, overrides: dict, message: str) -> None:
    with pytest.raises((ValueError, LayoutError), match=message):
        RecordingPolicy(directory=tmp_path, **overrides)


def test_recheck_backoff_grows_then_repeats(tmp_path: Path) -> None:
    policy = RecordingPolicy(directory=tmp_path, recheck_after_s=(5.0, 60.0))
    assert [policy.recheck_delay(n) for n in (1, 2, 3, 9)] == [5.0, 60.0, 60.0, 60.0]
    assert policy.mode_for() is RecordMode.ALWAYS
