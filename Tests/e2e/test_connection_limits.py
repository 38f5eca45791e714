"""Connection storms (issue 20): idle and trickling clients cannot lock others out.
Attackers connect from other loopback addresses (127.0.0.2, ...), so limits per
address can be told apart from the server's total."""
import select
import socket
import time

import httpx

from conftest import MODEL_ID, Server


def connect_from(source, port, count):
    """`count` connections from `source` that send nothing; those the server refused at once are closed."""
    held = []
    for _ in range(count):
        s = socket.socket()
        s.settimeout(5)
        s.bind((source, 0))
        try:
            s.connect(("127.0.0.1", port))
            held.append(s)
        except OSError:
            s.close()
    return held


def closed_by_server(s, timeout=0.5):
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


def test_idle_connections_from_one_address_leave_room_for_others():
    s = Server()
    held = []
    try:
        held = connect_from("127.0.0.2", s.port, 600)
        time.sleep(0.5)
        readable, _, _ = select.select(held, [], [], 0.5)  # nothing was sent to them: readable means closed
        assert len(held) - len(readable) <= 256 + 32, "one address holds at most its limit and the refusal lane"
        r = httpx.get(s.base + "/health", timeout=5)
        assert r.status_code == 200
        body = {"model": MODEL_ID, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}
        assert httpx.post(s.base + "/v1/chat/completions", json=body, timeout=30).status_code == 200
    finally:
        for c in held:
            c.close()
        assert s.stop() == 0


def test_trickled_headers_meet_a_deadline_bytes_do_not_move():
    s = Server("--header-timeout", "2")
    trickling = connect_from("127.0.0.2", s.port, 20)
    try:
        started = time.time()
        request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 40
        closed = set()
        for byte_index in range(len(request)):  # one byte every 0.2 s: 8 s of trickle, past the 2 s deadline
            for i, c in enumerate(trickling):
                if i in closed:
                    continue
                try:
                    c.send(request[byte_index:byte_index + 1])
                except OSError:
                    closed.add(i)
            if len(closed) == len(trickling):
                break
            time.sleep(0.2)
        closed |= {i for i, c in enumerate(trickling) if i not in closed and closed_by_server(c)}
        assert len(closed) == len(trickling), "every trickling client was cut off"
        assert time.time() - started < 30
        assert httpx.get(s.base + "/health", timeout=5).status_code == 200
    finally:
        for c in trickling:
            c.close()
        assert s.stop() == 0


def test_requests_past_the_per_address_limit_get_503():
    s = Server("--max-connections-per-address", "8", "--header-timeout", "3")
    idle = connect_from("127.0.0.3", s.port, 8)
    try:
        extra = socket.socket()
        extra.bind(("127.0.0.3", 0))
        extra.connect(("127.0.0.1", s.port))
        extra.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = extra.recv(65536).decode()
        extra.close()
        assert reply.startswith("HTTP/1.1 503"), reply
        assert "retry-after" in reply.lower() and '"error"' in reply
        health = socket.create_connection(("127.0.0.1", s.port))  # another address is not limited
        health.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
        assert health.recv(65536).startswith(b"HTTP/1.1 200")
        health.close()
        deadline = time.time() + 10
        while time.time() < deadline and not all(closed_by_server(c, 0.1) for c in idle):
            time.sleep(0.2)
        assert all(closed_by_server(c, 0.1) for c in idle), "idle connections are closed at the header deadline"
        again = socket.socket()
        again.bind(("127.0.0.3", 0))
        again.connect(("127.0.0.1", s.port))
        again.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
        assert again.recv(65536).startswith(b"HTTP/1.1 200")
        again.close()
    finally:
        for c in idle:
            c.close()
        assert s.stop() == 0
