"""The WebSocket wire: an opening handshake and text frames over an accepted TLS socket.

The HTTPS server has already read the upgrade request (``UpgradeRequest.head``); this
module feeds those bytes to ``websockets``' Sans-I/O ``ServerProtocol``, answers the
handshake (``101`` or a refusal such as ``401``) and then moves frames between the
protocol and the socket. It knows nothing about IBKR: ``WsSocket.receive`` returns the
text messages that arrived, ``send_text`` writes one, ``abort`` cuts the connection
without a closing handshake (what a dropped gateway does), ``close`` says goodbye.

One thread does all the I/O of one socket (reads with a short timeout, then writes);
only ``abort`` may be called from another thread.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from http import HTTPStatus

from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol

from ibkr_session.logs import get_logger

__all__ = ["Refusal", "WsSocket", "accept_websocket"]

log = get_logger(__name__)

_MAX_MESSAGE = 1 << 20
_SEND_TIMEOUT = 5.0  # a peer that reads nothing for this long is cut off

# Looks at the handshake request; a status refuses it (with an empty body).
Refusal = Callable[[Request], int | None]


class WsSocket:
    """One open WebSocket over a socket (server side)."""

    def __init__(self, connection: socket.socket, protocol: ServerProtocol) -> None:
        self._connection = connection
        self._protocol = protocol
        self._fragments: list[bytes] = []
        self._aborted = threading.Event()

    @property
    def open(self) -> bool:
        return not self._aborted.is_set() and self._protocol.state is State.OPEN

    def receive(self, timeout: float, *, mute: bool = False) -> list[str] | None:
        """Wait up to ``timeout`` real seconds for data; the text messages that arrived
        (often none), or ``None`` once the connection is closed or broken. ``mute``: the
        protocol's own answers (pongs, a closing handshake) are swallowed, as by a
        half-open connection."""
        if not self.open:
            return None
        try:
            self._connection.settimeout(timeout)
            data = self._connection.recv(65536)
        except TimeoutError:
            return []
        except OSError:
            self._aborted.set()
            return None
        if data:
            self._protocol.receive_data(data)
        else:
            self._protocol.receive_eof()
        messages = [m for e in self._protocol.events_received() if (m := self._text(e))]
        if mute:
            self._protocol.data_to_send()
        else:
            self._flush()  # pongs, the answer to a close
        return messages if self.open else None

    def send_text(self, text: str) -> bool:
        """Send one text message; ``False`` (and the socket is cut) when that fails."""
        if not self.open:
            return False
        self._protocol.send_text(text.encode())
        return self._flush()

    def close(self) -> None:
        """A clean closing handshake (best effort), then the socket is shut."""
        if self.open:
            self._protocol.send_close(1001, "going away")
            self._flush()
        self.abort()

    def abort(self) -> None:
        """Cut the connection now, without a closing handshake: the peer sees it dropped."""
        self._aborted.set()
        with contextlib.suppress(OSError):
            self._connection.shutdown(socket.SHUT_RDWR)

    def _text(self, event: object) -> str | None:
        if not isinstance(event, Frame):
            return None
        if event.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            self._fragments.append(bytes(event.data))
            if event.fin:
                data, self._fragments = b"".join(self._fragments), []
                return data.decode("utf-8", errors="replace")
        return None

    def _flush(self) -> bool:
        for chunk in self._protocol.data_to_send():
            try:
                if not chunk:  # the protocol's end of stream: half-close
                    self._connection.shutdown(socket.SHUT_WR)
                    continue
                self._connection.settimeout(_SEND_TIMEOUT)
                self._connection.sendall(chunk)
            except OSError as exc:
                log.debug("sim.ws_send_failed", error=str(exc))
                self.abort()
                return False
        return True


def accept_websocket(
    connection: socket.socket,
    head: bytes,
    refuse: Refusal,
    answering: Callable[[int], None] | None = None,
) -> WsSocket | None:
    """Answer the opening handshake whose request is ``head``: the open socket, or
    ``None`` when it was refused (``refuse``'s status, or 400 for an invalid handshake).
    ``answering`` learns the status just before the answer leaves.
    """
    protocol = ServerProtocol(max_size=_MAX_MESSAGE)
    protocol.receive_data(head)
    requests = [e for e in protocol.events_received() if isinstance(e, Request)]
    request = requests[0] if requests else None
    response: Response
    if request is None:
        response = protocol.reject(HTTPStatus.BAD_REQUEST, "Failed to open a WebSocket.\n")
    else:
        status = refuse(request)
        response = protocol.accept(request) if status is None else protocol.reject(status, "")
    if answering is not None:
        answering(response.status_code)
    protocol.send_response(response)
    wire = WsSocket(connection, protocol)
    sent = wire._flush()
    if response.status_code != 101 or not sent:
        wire.abort()
        return None
    return wire
