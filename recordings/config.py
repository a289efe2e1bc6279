"""Recording policy: when calls are recorded, where files go, how long they are kept.

Built from crm_core's `[recordings]` settings plus the knobs only this package reads; every
value is checked here, at start-up, and a bad one is named.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crm_core.config import Settings
from recordings.engines import EngineSettings
from recordings.storage import check_layout, leg_path

DEFAULT_KEYWORDS: tuple[str, ...] = ("bankrupt", "lawyer", "dispute", "stop calling")


class RecordMode(enum.StrEnum):
    ALWAYS = "always"
    NEVER = "never"
    ON_DEMAND = "on_demand"  # the operator presses record on the desktop


@dataclass(frozen=True, slots=True)
class RecordingPolicy:
    directory: Path
    layout: str = "{date}/{queue}/{linkedid}.wav"
    # Where Asterisk sees `directory` (a shared mount); None when both run on one host.
    asterisk_directory: str | None = None
    default_mode: RecordMode = RecordMode.ALWAYS
    queue_modes: Mapping[str, RecordMode] = field(default_factory=dict)
    campaign_modes: Mapping[str, RecordMode] = field(default_factory=dict)
    mixmonitor_options: str = "b"  # b: only audio while bridged (no hold music in the file)
    # Stereo: each side of the call on its own channel (0: the recorded channel's party, i.e.
    # the debtor when recording the caller leg; 1: what it hears, the operator), from
    # MixMonitor's r()/t() leg files; else one mixed channel.
    stereo: bool = False
    retention_days: int = 365  # 0: kept forever
    duration_tolerance_s: float = 2.0
    duration_tolerance_ratio: float = 0.05
    recheck_after_s: tuple[float, ...] = (5.0, 60.0, 600.0, 3600.0)
    workers: int = 1
    max_attempts: int = 3
    engines: EngineSettings = field(default_factory=EngineSettings)
    keywords: tuple[str, ...] = DEFAULT_KEYWORDS
    campaign_keywords: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_layout(self.layout)
        if self.retention_days < 0:
            raise ValueError(
                f"recordings retention_days must be at least 0 (0: kept forever), got"
                f" {self.retention_days}"
            )
        if self.workers < 1:
            raise ValueError(f"recordings workers must be at least 1, got {self.workers}")
        if self.max_attempts < 1:
            raise ValueError(f"recordings max_attempts must be at least 1, got {self.max_attempts}")
        if not self.recheck_after_s:
            raise ValueError("recordings recheck_after_s needs at least one delay")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> RecordingPolicy:
        """The `[recordings]` section; keys it does not have yet come as keyword overrides."""
        section = settings.recordings
        models = {lang: Path(directory) for lang, directory in section.vosk_models.items()}
        values: dict[str, Any] = {
            "directory": Path(section.directory),
            "layout": section.layout,
            "workers": section.workers,
            "retention_days": section.retention_days,
            "engines": EngineSettings(vosk_models=models),
        }
        values.update(overrides)
        return cls(**values)

    def mixmonitor_options_for(self, part: str) -> str:
        """MixMonitor options for one part file; stereo adds the two leg files."""
        if not self.stereo:
            return self.mixmonitor_options
        rx, tx = (self.asterisk_path(leg_path(part, side)) for side in ("rx", "tx"))
        return f"{self.mixmonitor_options}r({rx})t({tx})"

    def mode_for(
        self,
        *,
        queue: str = "",
        campaign: str = "",
        queue_mode: RecordMode | None = None,
        campaign_mode: RecordMode | None = None,
    ) -> RecordMode:
        """A campaign's rule wins over its queue's, which wins over the default. At each level
        the rule stored with the queue or campaign (`queue_mode`, `campaign_mode`: what the
        admin set, read when the call connects) wins over this policy's own maps."""
        if campaign_mode is not None:
            return campaign_mode
        if campaign and campaign in self.campaign_modes:
            return self.campaign_modes[campaign]
        if queue_mode is not None:
            return queue_mode
        if queue and queue in self.queue_modes:
            return self.queue_modes[queue]
        return self.default_mode

    def keywords_for(self, campaign: str = "") -> tuple[str, ...]:
        return self.campaign_keywords.get(campaign, self.keywords)

    def asterisk_path(self, relative: str) -> str:
        """The path Asterisk must write to for a file Callboard will find at directory/relative."""
        base = self.asterisk_directory or os.path.abspath(self.directory)
        return f"{base.rstrip('/')}/{relative}"

    def recheck_delay(self, checks: int) -> float:
        """Retry-list back-off: the n-th failed check waits the n-th delay (the last repeats)."""
        return self.recheck_after_s[min(max(checks, 1), len(self.recheck_after_s)) - 1]
