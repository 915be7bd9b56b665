"""A small RFC 6455 WebSocket client for the tests, on a plain socket, so that a test chooses
every header (Origin, Authorization, Host) and every frame (oversized, binary, never read)."""

import base64
import collections
import json
import os
import socket
import struct
import time


class HandshakeRefused(Exception):
    """The server answered the upgrade with an HTTP status other than 101."""

    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body!r}")
        self.status = status
        self.body = body


class Closed(Exception):
    """The server sent a close frame (code, reason) or dropped the connection (code None)."""

    def __init__(self, code, reason=""):
        super().__init__(f"closed: {code} {reason!r}")
        self.code = code
        self.reason = reason


def _deadline(timeout):
    return time.monotonic() + timeout


class WsClient:
    """One WebSocket connection to host:port/path. origin=None sends no Origin header;
    token sends Authorization: Bearer. Raises HandshakeRefused when the server says no."""

    def __init__(self, addr, port, path="/rpc", origin=None, token=None, host=None,
                 timeout=10, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((addr, port))
        self._buf = b""
        self._next_id = 1
        self._events = collections.deque()
        self.close_code = None
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {host or f'{addr}:{port}'}",
                 "Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                 "Sec-WebSocket-Version: 13"]
        if origin is not None:
            lines.append(f"Origin: {origin}")
        if token is not None:
            lines.append(f"Authorization: Bearer {token}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = self._read_until(b"\r\n\r\n", _deadline(timeout))
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        self.headers = {}
        for h in header_lines:
            if ":" in h:
                k, v = h.split(":", 1)
                self.headers[k.strip().lower()] = v.strip()
        if status != 101:
            n = int(self.headers.get("content-length", "0"))
            body = self._read_exact(n, _deadline(timeout)) if n else b""
            self.sock.close()
            raise HandshakeRefused(status, body.decode(errors="replace"))

    # -- bytes ---------------------------------------------------------------------------------

    def _recv(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("nothing from the WebSocket server in time")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("nothing from the WebSocket server in time") from None
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            raise Closed(None, "connection dropped")
        self._buf += chunk

    def _read_until(self, marker, deadline):
        while marker not in self._buf:
            self._recv(deadline)
        i = self._buf.index(marker) + len(marker)
        out, self._buf = self._buf[:i], self._buf[i:]
        return out

    def _read_exact(self, n, deadline):
        while len(self._buf) < n:
            self._recv(deadline)
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    # -- frames --------------------------------------------------------------------------------

    def send_frame(self, opcode, payload, fin=True):
        """One masked frame, as a client must send."""
        head = bytes([(0x80 if fin else 0) | opcode])
        n = len(payload)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 4096 else \
            (int.from_bytes(payload, "big") ^ int.from_bytes((mask * (n // 4 + 1))[:n], "big")
             ).to_bytes(n, "big")
        self.sock.sendall(head + mask + masked)

    def send_text(self, text):
        self.send_frame(0x1, text.encode() if isinstance(text, str) else text)

    def recv_frame(self, timeout=10):
        """(opcode, payload) of the next frame; pings are answered, a close raises Closed."""
        deadline = _deadline(timeout)
        while True:
            b0, b1 = self._read_exact(2, deadline)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read_exact(2, deadline))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read_exact(8, deadline))[0]
            assert not b1 & 0x80, "a server frame must not be masked"
            payload = self._read_exact(n, deadline)
            opcode = b0 & 0x0F
            if opcode == 0x9:
                self.send_frame(0xA, payload)
                continue
            if opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                self.close_code = code
                raise Closed(code, payload[2:].decode(errors="replace"))
            return opcode, payload

    def recv_json(self, timeout=10):
        opcode, payload = self.recv_frame(timeout)
        assert opcode == 0x1, f"expected a text frame, got opcode {opcode}"
        return json.loads(payload)

    def wait_closed(self, timeout=30):
        """Reads until the server closes; returns its close code (None if it just dropped)."""
        deadline = _deadline(timeout)
        while True:
            try:
                self.recv_frame(max(deadline - time.monotonic(), 0.001))
            except Closed as e:
                return e.code

    # -- JSON-RPC ------------------------------------------------------------------------------

    def call(self, method, params=None, timeout=10):
        """Sends a request; returns the reply object (result or error); queues events."""
        rid = self._next_id
        self._next_id += 1
        req = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            req["params"] = params
        self.send_text(json.dumps(req))
        deadline = _deadline(timeout)
        while True:
            msg = self.recv_json(max(deadline - time.monotonic(), 0.001))
            if "id" not in msg and "method" in msg:
                self._events.append((msg["method"], msg.get("params")))
                continue
            if msg.get("id") == rid:
                return msg

    def result(self, method, params=None, timeout=10):
        reply = self.call(method, params, timeout)
        assert "result" in reply, f"{method}: {reply!r}"
        return reply["result"]

    def authenticate(self, token):
        return self.call("Authenticate", {"token": token})

    def wait_event(self, name, pred=lambda p: True, timeout=30):
        deadline = _deadline(timeout)
        for i, (ev, params) in enumerate(self._events):
            if ev == name and pred(params):
                del self._events[i]
                return params
        while True:
            msg = self.recv_json(max(deadline - time.monotonic(), 0.001))
            if "id" not in msg and msg.get("method") == name and pred(msg.get("params")):
                return msg["params"]
            if "id" not in msg and "method" in msg:
                self._events.append((msg["method"], msg.get("params")))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
