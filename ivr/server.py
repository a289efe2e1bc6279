"""The FastAGI TCP server: accepts Asterisk's connections and runs one handler per call.

Our own small asyncio server rather than panoramisk.fast_agi (1.4): that one reads the request
with a loop that spins forever on EOF, reads only one line of a multi-line `520-` usage reply (the
rest is then taken as the replies to later commands), treats the unsolicited `HANGUP` line as the
reply to the next command (every later reply is off by one), wraps plain functions with
`asyncio.coroutine` (gone in Python 3.11), and has no timeouts. Asterisk keeps the socket open
after the script ends (trace 13), so this server always closes it itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from ivr.agi import AgiChannel, AgiError, AgiRequest, read_request

log = logging.getLogger(__name__)

Handler = Callable[[AgiRequest, AgiChannel], Awaitable[None]]


class FastAgiServer:
    """Owns the listening socket and every connection task; `close()` ends them all."""

    def __init__(
        self,
        handler: Handler,
        *,
        host: str = "127.0.0.1",
        port: int = 4573,
        request_timeout: float = 10.0,
        reply_timeout: float = 120.0,
    ) -> None:
        self._handler = handler
        self._host = host
        self._port = port
        self._request_timeout = request_timeout
        self._reply_timeout = reply_timeout
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The bound port (useful when started with port 0)."""
        if self._server is None:
            raise RuntimeError("FastAGI server is not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def active_calls(self) -> int:
        return len(self._connections)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self._host, self._port)
        log.info("FastAGI server listening on %s:%d", self._host, self.port)

    async def close(self) -> None:
        """Stop listening, cancel calls still running, and wait for every connection to end."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is None:  # start_server always runs the callback in a task
            raise RuntimeError("FastAGI connection outside a task")
        self._connections.add(task)
        peer = writer.get_extra_info("peername")
        try:
            await self._serve(reader, writer, peer)
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: object
    ) -> None:
        try:
            request = await read_request(reader, self._request_timeout)
        except (AgiError, TimeoutError) as exc:
            log.warning("FastAGI connection from %s dropped: %s", peer, exc or "request timeout")
            return
        channel = AgiChannel(reader, writer, reply_timeout=self._reply_timeout)
        try:
            await self._handler(request, channel)
        except (AgiError, TimeoutError, ConnectionError) as exc:
            log.warning(
                "FastAGI session %s on %s ended: %s",
                request.script,
                request.channel,
                exc or type(exc).__name__,
            )
        except Exception:  # a task boundary: one broken call must not take the server down
            log.exception("FastAGI handler failed for %s on %s", request.script, request.channel)
