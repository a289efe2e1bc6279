"""The IVR as one startable piece: flow library, its watcher, and the FastAGI server.

The composition root builds it, `await start()`s it, and `await close()`s it; `reload()` is what
SIGHUP or an admin's "reload flows" calls. Nothing here runs without an owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

from crm_core.clock import Clock
from ivr.library import FlowLibrary, ReloadReport
from ivr.loader import CenterCalendar
from ivr.ports import CallbackDesk, CallerDirectory, IvrJournal, QueueHandoff
from ivr.server import FastAgiServer
from ivr.session import IvrCallHandler, SafeDefault


class IvrService:
    def __init__(
        self,
        *,
        flows: Path,
        directory: CallerDirectory,
        handoff: QueueHandoff,
        callbacks: CallbackDesk,
        journal: IvrJournal,
        clock: Clock,
        safe_default: SafeDefault,
        host: str = "127.0.0.1",
        port: int = 4573,
        poll_interval: float | None = 2.0,  # None: reload only when told (SIGHUP, admin)
        center: CenterCalendar | None = None,
    ) -> None:
        self.library = FlowLibrary(flows, center)
        handler = IvrCallHandler(
            library=self.library,
            directory=directory,
            handoff=handoff,
            callbacks=callbacks,
            journal=journal,
            clock=clock,
            safe_default=safe_default,
        )
        self.server = FastAgiServer(handler, host=host, port=port)
        self._poll_interval = poll_interval
        self._watcher: asyncio.Task[None] | None = None
        self._reloads: set[asyncio.Task[ReloadReport]] = set()
        self._sighup = False

    async def start(self) -> ReloadReport:
        """Load the flows (broken ones are reported, not fatal), then accept calls."""
        report = await self.library.reload_async()
        await self.server.start()
        if self._poll_interval is not None:
            self._watcher = asyncio.create_task(
                self.library.watch(self._poll_interval), name="ivr-flow-watcher"
            )
        return report

    async def reload(self) -> ReloadReport:
        return await self.library.reload_async()

    def request_reload(self) -> None:
        """Reload soon, from sync code such as a signal handler; the task is owned here."""
        task = asyncio.get_running_loop().create_task(self.reload(), name="ivr-flow-reload")
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    def reload_on_sighup(self) -> None:
        """`kill -HUP <pid>` reloads the flows (Unix; the handler is removed by close())."""
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.request_reload)
        self._sighup = True

    async def close(self) -> None:
        if self._sighup:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            self._sighup = False
        for task in list(self._reloads):
            task.cancel()
        await asyncio.gather(*self._reloads, return_exceptions=True)
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        await self.server.close()
