"""Speech recognisers behind one port (see base.Engine)."""

from recordings.engines.base import ChannelDecoder, DecoderEngine, Engine, EngineError
from recordings.engines.selection import (
    FALLBACK_LANGUAGE,
    Engines,
    EngineSettings,
    base_language,
)

__all__ = [
    "FALLBACK_LANGUAGE",
    "ChannelDecoder",
    "DecoderEngine",
    "Engine",
    "EngineError",
    "EngineSettings",
    "Engines",
    "base_language",
]
