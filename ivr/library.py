"""The flows on disk, reloaded while calls run.

A reload swaps in a new dict of flows; a call holds the Flow object it started with, so a change
never reaches a call in progress. A file that stops loading is reported and its last good
version stays in service; a flow that never loaded leaves its calls to the safe default queue.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from ivr.flow import Flow
from ivr.loader import CenterCalendar, load_flow
from ivr.schema import FlowLoadError, Problem

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReloadReport:
    loaded: tuple[str, ...] = ()  # flow names (re)loaded
    removed: tuple[str, ...] = ()
    failed: dict[str, FlowLoadError] = field(default_factory=dict)  # file -> error


def _version(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_mtime_ns}-{stat.st_size}"


class FlowLibrary:
    def __init__(self, directory: Path, center: CenterCalendar | None = None) -> None:
        self.directory = directory
        self.center = center
        self._flows: dict[str, Flow] = {}
        self._seen: dict[Path, str] = {}  # file -> version last read (good or bad)
        self._names: dict[Path, str] = {}  # file -> flow name it last provided
        self.errors: dict[str, FlowLoadError] = {}  # file -> its current error
        self._lock = asyncio.Lock()

    def get(self, name: str) -> Flow | None:
        return self._flows.get(name)

    @property
    def names(self) -> list[str]:
        return sorted(self._flows)

    def reload(self) -> ReloadReport:
        """Re-read every changed *.toml file (blocking file I/O; see `reload_async`).

        Readers on the event loop see the old or the new state, never a half-built one: the
        flows and errors are rebuilt as copies and swapped in at the end.
        """
        flows, errors = dict(self._flows), dict(self.errors)
        loaded: list[str] = []
        failed: dict[str, FlowLoadError] = {}
        present = set(self.directory.glob("*.toml"))
        removed = []
        for path in [p for p in self._seen if p not in present]:
            self._seen.pop(path)
            errors.pop(str(path), None)
            if (name := self._names.pop(path, None)) is not None:
                flows.pop(name, None)
                removed.append(name)
                log.info("flow %s removed (%s is gone)", name, path)
        if removed:  # a name may be free now: read refused files again
            for path in (Path(f) for f in errors):
                self._seen.pop(path, None)
        for path in sorted(present):
            try:
                version = _version(path)
            except OSError:
                continue  # removed between glob and stat: the next pass sees it gone
            if self._seen.get(path) == version:
                continue
            self._seen[path] = version
            try:
                flow = load_flow(path, version, self.center)
                owner = next(
                    (p for p, n in self._names.items() if n == flow.name and p != path), None
                )
                if owner is not None:
                    message = f"flow name {flow.name!r} is already used by {owner}"
                    raise FlowLoadError(str(path), [Problem(str(path), 1, "[flow]", message)])
            except FlowLoadError as exc:
                failed[str(path)] = errors[str(path)] = exc
                kept = self._names.get(path)
                log.error(
                    "flow file %s cannot be used%s:\n%s",
                    path,
                    f"; keeping the running version of {kept!r}" if kept else "",
                    exc,
                )
                continue
            errors.pop(str(path), None)
            if (old := self._names.get(path)) is not None and old != flow.name:
                flows.pop(old, None)
            self._names[path] = flow.name
            flows[flow.name] = flow
            loaded.append(flow.name)
            log.info("flow %s loaded from %s (version %s)", flow.name, path, version)
        self._flows, self.errors = flows, errors
        return ReloadReport(tuple(loaded), tuple(removed), failed)

    async def reload_async(self) -> ReloadReport:
        """Reload off the event loop; concurrent calls (watcher, SIGHUP, API) run one at a time."""
        async with self._lock:
            return await asyncio.to_thread(self.reload)

    async def watch(self, interval: float = 2.0) -> None:
        """Poll the directory for changed files until cancelled (run it in an owned task)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.reload_async()
            except OSError as exc:  # the directory itself vanished or is unreadable
                log.error("flow directory %s cannot be read: %s", self.directory, exc)
