"""Transcription worker processes and the service that feeds them from the durable queue.

Speech decoding is CPU work of seconds to minutes per call, so it never runs on the event loop
nor in a thread of the web/AMI process: each worker is a separate process (spawned, not forked:
the parent holds sockets and an event loop) that loads its models once and then takes one job
at a time. Each worker is its own one-process pool, so when a worker dies (killed, out of
memory, a crash in native code) exactly one job is known to have been hit: that job is retried
and, once its attempts are used up, failed with the error. The other workers carry on.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import resource
import socket
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError

from crm_core.bus import Bus
from crm_core.clock import Clock, SystemClock
from crm_core.db import Database
from crm_core.tasks import review_keywords
from recordings import jobs
from recordings.audio import AudioError
from recordings.config import RecordingPolicy
from recordings.engines import Engines, EngineSettings
from recordings.engines.base import EngineError
from recordings.events import TranscriptionFailed, TranscriptReady
from recordings.keywords import flags as keyword_flags
from recordings.search import save_transcript
from recordings.tables import JobStatus
from recordings.transcript import Pause, Transcript

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
T = TypeVar("T")

# Per worker process (never set in the parent): the engines its initializer loaded.
_process_engines: list[Engines] = []


def _start_worker(settings: EngineSettings) -> None:
    engines = Engines(settings)
    engines.preload()
    _process_engines.append(engines)


def _transcribe(path: str, language: str) -> Transcript:
    if not _process_engines:
        raise RuntimeError("transcription worker was not initialised")
    return _process_engines[0].transcribe(Path(path), language)


def _worker_facts() -> tuple[int, int]:
    """(pid, peak resident memory in KiB) of the worker process.

    VmHWM, not getrusage: Linux carries ru_maxrss across exec, so a spawned worker would
    report its parent's peak."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return os.getpid(), int(line.split()[1])
    return os.getpid(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class WorkerDied(RuntimeError):
    """The worker process ended while it held a job."""


class WorkerSlot:
    """One worker process, restarted on demand after it dies."""

    def __init__(self, index: int, engines: EngineSettings) -> None:
        self.index = index
        self._engines = engines
        self._executor: ProcessPoolExecutor | None = None
        self.pid: int | None = None
        self.restarts = 0

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self._engines,),
            )
        return self._executor

    async def start(self) -> int:
        """Spawn the process and load its models now; returns its pid."""
        pid, _ = await self._call(_worker_facts)
        self.pid = pid
        return pid

    async def peak_memory_kib(self) -> int:
        _, peak = await self._call(_worker_facts)
        return peak

    async def transcribe(self, path: Path, language: str) -> Transcript:
        return await self._call(_transcribe, str(path), language)

    async def _call(self, function: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool(), function, *args)
        except BrokenProcessPool as exc:
            self._discard()
            raise WorkerDied(f"worker {self.index} (pid {self.pid}) died: {exc}") from exc

    def _discard(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
            self.pid = None
            self.restarts += 1

    async def close(self) -> None:
        if self._executor is not None:
            executor, self._executor = self._executor, None
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)


@dataclass(slots=True)
class BacklogResult:
    recovered: int = 0
    done: int = 0
    failed: int = 0
    retried: int = 0
    errors: list[str] = field(default_factory=list)


class TranscriptionService:
    """Feeds queued jobs to the worker slots; owned by the composition root (start/run/close)."""

    def __init__(
        self,
        db: Database,
        policy: RecordingPolicy,
        *,
        bus: Bus | None = None,
        clock: Clock | None = None,
        node: str | None = None,
        poll_s: float = 5.0,
    ) -> None:
        self._db = db
        self._policy = policy
        self._bus = bus
        self._clock = clock or SystemClock()
        self.node = node or socket.gethostname()
        self._owner = f"{self.node}:{os.getpid()}"
        self._poll_s = poll_s
        self.slots = [WorkerSlot(i, policy.engines) for i in range(policy.workers)]
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._busy = 0

    async def start(self) -> int:
        """Re-queue what a dead previous process of this node left running; spawn the workers.
        Returns the number of jobs recovered."""
        recovered = await jobs.recover(
            self._db, self.node, self._clock.now(), self._policy.max_attempts
        )
        if recovered:
            log.warning("recovered %d transcription jobs left running by a dead process", recovered)
        await asyncio.gather(*(slot.start() for slot in self.slots))
        return recovered

    def wake(self) -> None:
        """New work was queued (called by the recording index after it enqueues a job)."""
        self._wakeup.set()

    async def run(self) -> None:
        """Process jobs until `stop()`; new jobs are picked up on `wake()` or every poll_s."""
        async with asyncio.TaskGroup() as group:
            for slot in self.slots:
                group.create_task(self._slot_loop(slot, BacklogResult(), None, drain=False))

    def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()

    async def drain(self, progress: Progress | None = None) -> BacklogResult:
        """Process every queued job (and their retries) and return when the queue is empty."""
        result = BacklogResult()
        total = (await jobs.counts(self._db))[JobStatus.QUEUED]
        tracker = _Tracker(total, progress)
        async with asyncio.TaskGroup() as group:
            for slot in self.slots:
                group.create_task(self._slot_loop(slot, result, tracker, drain=True))
        return result

    async def close(self) -> None:
        self.stop()
        await asyncio.gather(*(slot.close() for slot in self.slots))

    async def _slot_loop(
        self, slot: WorkerSlot, result: BacklogResult, tracker: _Tracker | None, *, drain: bool
    ) -> None:
        while not self._stopping:
            if drain:
                if not await self._next_job(slot, result, tracker) and self._busy == 0:
                    return
                continue
            self._wakeup.clear()  # before claiming: a wake() during the claim is not lost
            try:
                worked = await self._next_job(slot, result, tracker)
            except SQLAlchemyError:  # the database is away: keep the service, retry later
                log.exception("transcription queue unavailable; retrying in %.0f s", self._poll_s)
                worked = False
            if not worked:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self._poll_s)

    async def _next_job(
        self, slot: WorkerSlot, result: BacklogResult, tracker: _Tracker | None
    ) -> bool:
        """Claim and process one job; False when the queue had none (drain: another slot's
        job may still come back for a retry, so the caller looks again while any is busy)."""
        job = await jobs.claim(self._db, self._owner, self._clock.now())
        if job is None:
            if self._busy:
                await asyncio.sleep(0.05)
            return False
        self._busy += 1
        try:
            status = await self._process(slot, job, result)
        finally:
            self._busy -= 1
        if tracker is not None and status is not JobStatus.QUEUED:
            tracker.finished()
        return True

    async def _process(
        self, slot: WorkerSlot, job: jobs.ClaimedJob, result: BacklogResult
    ) -> JobStatus:
        path = self._policy.directory / job.path
        permanent = False
        try:
            transcript = await slot.transcribe(path, job.language)
        except WorkerDied as exc:
            error = f"{exc} while transcribing {job.path} (attempt {job.attempts})"
        except (AudioError, EngineError) as exc:
            error, permanent = f"{type(exc).__name__}: {exc}", True
        except OSError as exc:  # e.g. a network share that is away for a moment
            error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a bug in a worker must fail the job, not the service
            log.exception("transcription of %s failed", job.path, extra={"linkedid": job.linkedid})
            error = f"{type(exc).__name__}: {exc}"
        else:
            await self._store(job, transcript)
            result.done += 1
            return JobStatus.DONE
        status = await jobs.mark_failed(
            self._db, job, error, self._clock.now(), self._policy.max_attempts, permanent=permanent
        )
        log.warning(
            "transcription job %d: %s (now %s)",
            job.id,
            error,
            status,
            extra={"linkedid": job.linkedid},
        )
        if status is JobStatus.FAILED:
            result.failed += 1
            result.errors.append(error)
            if self._bus is not None:
                self._bus.publish(
                    TranscriptionFailed(
                        linkedid=job.linkedid,
                        at=self._clock.now(),
                        recording_id=job.recording_id,
                        error=error,
                    )
                )
        else:
            result.retried += 1
        return status

    async def _store(self, job: jobs.ClaimedJob, transcript: Transcript) -> None:
        transcript = transcript.with_pauses(tuple(Pause(a, b) for a, b in job.pauses))
        found = keyword_flags(transcript, self._policy.keywords_for(job.campaign))
        now = self._clock.now()
        async with self._db.session() as session:
            await save_transcript(session, job.recording_id, transcript, found, now)
            # bankrupt, lawyer, stop calling: a supervisor reviews; nothing changes by itself
            await review_keywords(session, linkedid=job.linkedid, keywords=found, now=now)
            await jobs.mark_done(session, job.id, now)
            await session.commit()
        if self._bus is not None:
            self._bus.publish(
                TranscriptReady(
                    linkedid=job.linkedid,
                    at=now,
                    recording_id=job.recording_id,
                    engine=transcript.engine,
                    words=len(transcript.words),
                    flags=tuple(found),
                )
            )


class _Tracker:
    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.done, self._progress = total, 0, progress
        if progress is not None:
            progress(0, total)

    def finished(self) -> None:
        self.done += 1
        self.total = max(self.total, self.done)
        if self._progress is not None:
            self._progress(self.done, self.total)
