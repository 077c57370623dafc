"""A scripted MQTT "broker" speaking raw bytes, for hostile-server tests.

The test gives a handler(conn) that runs on its own thread for every accepted
connection; conn.index counts connections from 0. The handler reads what the
client sends (read_packet, read_connect) and sends whatever it likes:
valid packets built with the helpers below, malformed ones, random bytes.
conn.serve() behaves like a minimal well-mannered broker until the client
goes away, so a handler can be hostile on the first connection and normal
on the next.
"""

import socket
import struct
import threading
import time

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 10, 11, 12, 13, 14


def encode_length(n):
    out = bytearray()
    while True:
        byte = n % 128
        n //= 128
        if n:
            byte |= 0x80
        out.append(byte)
        if not n:
            return bytes(out)


def packet(ptype, flags, body=b""):
    return bytes([(ptype << 4) | flags]) + encode_length(len(body)) + body


def mqtt_string(s):
    data = s if isinstance(s, bytes) else s.encode()
    return struct.pack("!H", len(data)) + data


def connack(rc=0, session_present=False):
    return packet(CONNACK, 0, bytes([1 if session_present else 0, rc]))


def publish(topic, payload=b"", qos=0, packet_id=1, dup=False, retain=False):
    payload = payload if isinstance(payload, bytes) else payload.encode()
    flags = (8 if dup else 0) | (qos << 1) | (1 if retain else 0)
    body = mqtt_string(topic) + (struct.pack("!H", packet_id) if qos else b"") + payload
    return packet(PUBLISH, flags, body)


def puback(packet_id):
    return packet(PUBACK, 0, struct.pack("!H", packet_id))


def suback(packet_id, rc=1):
    return packet(SUBACK, 0, struct.pack("!H", packet_id) + bytes([rc]))


def pingresp():
    return packet(PINGRESP, 0)


class FakeConn:
    def __init__(self, sock, index):
        self.sock = sock
        self.index = index
        self.buf = b""
        self.received = []              # (type, flags, body) of every packet read
        self.connect = None

    def _fill(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("fake broker: client sent nothing in time")
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("fake broker: client closed")
            self.buf += data

    def read_packet(self, timeout=5.0):
        """(type, flags, body) of the next packet from the client."""
        deadline = time.monotonic() + timeout
        self._fill(2, deadline)
        length, mult, i = 0, 1, 1
        while True:
            self._fill(i + 1, deadline)
            byte = self.buf[i]
            length += (byte & 0x7F) * mult
            mult *= 128
            i += 1
            if not byte & 0x80:
                break
            if i > 4:
                raise ValueError("fake broker: bad length from client")
        self._fill(i + length, deadline)
        first = self.buf[0]
        body = self.buf[i:i + length]
        self.buf = self.buf[i + length:]
        pkt = (first >> 4, first & 0x0F, body)
        self.received.append(pkt)
        return pkt

    def read_connect(self, timeout=5.0):
        """Reads and decodes the CONNECT packet."""
        ptype, _, body = self.read_packet(timeout)
        assert ptype == CONNECT, f"expected CONNECT, got packet type {ptype}"
        pos = 0

        def string():
            nonlocal pos
            n = struct.unpack_from("!H", body, pos)[0]
            value = body[pos + 2:pos + 2 + n]
            pos += 2 + n
            return value
        proto = string()
        level, flags = body[pos], body[pos + 1]
        keepalive = struct.unpack_from("!H", body, pos + 2)[0]
        pos += 4
        info = {"protocol": proto, "level": level, "clean": bool(flags & 2),
                "keepalive": keepalive, "client_id": string().decode()}
        if flags & 4:
            info["will_topic"] = string().decode()
            info["will_payload"] = string()
        if flags & 0x80:
            info["username"] = string().decode()
        if flags & 0x40:
            info["password"] = string()
        self.connect = info
        return info

    def send(self, data):
        self.sock.sendall(data)

    def serve(self, timeout=60.0, on_publish=None):
        """Acts as a plain broker (SUBACK granting the requested QoS, PUBACK,
        PINGRESP) until the client closes or timeout passes."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                ptype, flags, body = self.read_packet(deadline - time.monotonic())
                if ptype == SUBSCRIBE:
                    pid = struct.unpack_from("!H", body)[0]
                    self.send(suback(pid, body[-1]))
                elif ptype == PUBLISH:
                    qos = (flags >> 1) & 3
                    if on_publish:
                        on_publish(self, flags, body)
                    if qos == 1:
                        n = struct.unpack_from("!H", body)[0]
                        self.send(puback(struct.unpack_from("!H", body, 2 + n)[0]))
                elif ptype == PINGREQ:
                    self.send(pingresp())
                elif ptype == DISCONNECT:
                    return
        except (EOFError, TimeoutError, OSError):
            return

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class FakeBroker:
    def __init__(self, handler):
        self.handler = handler
        self.connections = []
        self.accept_times = []
        self.errors = []                # unexpected exceptions raised by handlers
        self._closed = False
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self.host = "127.0.0.1"
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.tls = None
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def _accept_loop(self):
        while not self._closed:
            try:
                sock, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = FakeConn(sock, len(self.connections))
            self.connections.append(conn)
            self.accept_times.append(time.monotonic())
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn):
        try:
            self.handler(conn)
        except (EOFError, TimeoutError, ConnectionError):
            pass                        # the client went away: normal here
        except Exception as e:          # a broken test script: reported by the test
            self.errors.append(repr(e))
        finally:
            conn.close()

    def close(self):
        self._closed = True
        self._thread.join(2.0)
        self._listener.close()
        for conn in self.connections:
            conn.close()

    def failure_log(self):
        lines = [f"connections: {len(self.connections)}", f"handler errors: {self.errors}"]
        for c in self.connections[-10:]:
            lines.append(f"  #{c.index}: connect={c.connect} packets={[(t, f) for t, f, _ in c.received]}")
        return [(f"fake broker :{self.port}", "\n".join(lines))]
