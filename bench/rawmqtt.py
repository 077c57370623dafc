"""A minimal blocking MQTT 3.1.1 client for latency measurements: one thread,
one socket with TCP_NODELAY, no callbacks. paho's network thread and the
wake-ups between it and the caller cost a few hundred microseconds per
message on a busy machine, which would hide what the device itself adds.

Only what the benchmarks need: CONNECT (clean session), SUBSCRIBE QoS1,
PUBLISH QoS1 out, PUBLISH in (PUBACK sent for QoS1), PUBACK in (ignored).
"""
import socket
import struct


def _remaining_length(n):
    out = bytearray()
    while True:
        byte = n % 128
        n //= 128
        if n:
            byte |= 0x80
        out.append(byte)
        if not n:
            return bytes(out)


def _utf8(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


class RawClient:
    def __init__(self, host, port, client_id, keepalive=60):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.next_id = 1
        var = _utf8("MQTT") + bytes([4, 0x02]) + struct.pack("!H", keepalive)
        self._send(0x10, var + _utf8(client_id))
        ptype, _, body = self.read_packet()
        if ptype != 2 or body[1] != 0:
            raise RuntimeError(f"CONNACK refused: {body!r}")

    def _send(self, first, body):
        self.sock.sendall(bytes([first]) + _remaining_length(len(body)) + body)

    def _packet_id(self):
        pid = self.next_id
        self.next_id = self.next_id % 65535 + 1
        return pid

    def subscribe(self, topic, qos=1):
        pid = self._packet_id()
        self._send(0x82, struct.pack("!H", pid) + _utf8(topic) + bytes([qos]))
        while True:
            ptype, _, body = self.read_packet()
            if ptype == 9:
                if body[2] == 0x80:
                    raise RuntimeError("subscription refused")
                return

    def publish(self, topic, payload, qos=1):
        body = _utf8(topic)
        if qos:
            body += struct.pack("!H", self._packet_id())
        self._send(0x30 | (qos << 1), body + payload)

    def read_packet(self):
        """(type, flags, body) of the next packet; blocks."""
        while True:
            if len(self.buf) >= 2:
                mult, length, i = 1, 0, 1
                while i < len(self.buf):
                    byte = self.buf[i]
                    length += (byte & 0x7F) * mult
                    mult *= 128
                    i += 1
                    if not byte & 0x80:
                        break
                else:
                    i = None
                if i is not None and len(self.buf) >= i + length and not (self.buf[i - 1] & 0x80):
                    first = self.buf[0]
                    body = self.buf[i:i + length]
                    self.buf = self.buf[i + length:]
                    return first >> 4, first & 0x0F, body
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("broker closed the connection")
            self.buf += chunk

    def next_message(self):
        """(topic, payload) of the next PUBLISH; acknowledges QoS1."""
        while True:
            ptype, flags, body = self.read_packet()
            if ptype != 3:
                continue
            qos = (flags >> 1) & 3
            tlen = struct.unpack("!H", body[:2])[0]
            topic = body[2:2 + tlen].decode()
            pos = 2 + tlen
            if qos:
                pid = body[pos:pos + 2]
                pos += 2
                self._send(0x40, pid)
            return topic, body[pos:]

    def close(self):
        try:
            self._send(0xE0, b"")
        except OSError:
            pass
        self.sock.close()
