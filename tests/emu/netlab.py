"""A private network for the emulated chip: a network namespace of this test
run's own, a TUN device, and the services the firmware talks to.

NetLab.open() moves the calling thread (pytest's main thread; every process
and thread started from it afterwards) into a new network namespace
(unshare(CLONE_NEWNET), needs root or CAP_SYS_ADMIN), brings up lo and a TUN
device mtc0 with 10.0.0.1/24, and starts, all bound to 10.0.0.1:
  - Mosquitto, plain on 1883 and TLS on 8883 (a CA made at test time with
    openssl, server certificate for broker.test and 10.0.0.1);
  - a DNS responder (UDP 53) answering every A query with 10.0.0.1;
  - an SNTP responder (UDP 123) giving a fixed time (NTP_UNIX);
  - an HTTP server (TCP 8080) answering GET with PUBLIC_IP (or what a test sets).
The chip is 10.0.0.2 behind emu/run.mjs --slip-cmd "tun_bridge mtc0". The
namespace has no route anywhere else: no packet leaves it. close() stops
everything, deletes the device and returns the thread to the namespace it
came from. Anything that cannot be set up raises NetLabError with what
failed: the tests fail, they are never skipped.
"""

import ctypes
import os
import socket
import struct
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "system"))

from mqtt_env import MOSQUITTO, CertAuthority, wait_port  # noqa: E402

CLONE_NEWNET = 0x40000000
TUN = "mtc0"
HOST_IP = "10.0.0.1"
CHIP_IP = "10.0.0.2"
PLAIN_PORT = 1883
TLS_PORT = 8883
HTTP_PORT = 8080
BROKER_NAME = "broker.test"
PUBLIC_IP = "203.0.113.7"
NTP_UNIX = 1893553445  # 2030-01-02T03:04:05Z
NTP_UTC = "2030-01-02T03:04:05Z"
NTP_EPOCH_OFFSET = 2208988800


class NetLabError(AssertionError):
    pass


def _run(*argv):
    res = subprocess.run(list(argv), capture_output=True, text=True, timeout=20)
    if res.returncode != 0:
        raise NetLabError(f"`{' '.join(argv)}` failed ({res.returncode}): {res.stderr.strip()}")
    return res.stdout


# ------------------------------------------------------------------ frames

def mqtt_type(head_hex):
    """MQTT packet type of a SLIP frame's TCP payload (IPv4 head), or None."""
    b = bytes.fromhex(head_hex)
    if len(b) < 20 or b[0] >> 4 != 4 or b[9] != 6:
        return None
    ihl = (b[0] & 0x0F) * 4
    total = int.from_bytes(b[2:4], "big")
    if len(b) < ihl + 13:
        return None
    doff = (b[ihl + 12] >> 4) * 4
    if total <= ihl + doff or len(b) <= ihl + doff:
        return None
    return b[ihl + doff] >> 4



# ------------------------------------------------------------------ services

class DnsResponder:
    """Answers every standard query for an A record with HOST_IP; counts the names asked."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST_IP, 53))
        self.asked = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @staticmethod
    def _name(data, off):
        labels = []
        while off < len(data) and data[off] != 0:
            n = data[off]
            if n & 0xC0 or off + 1 + n > len(data):
                return None, off
            labels.append(data[off + 1:off + 1 + n].decode("ascii", "replace"))
            off += 1 + n
        return ".".join(labels), off + 1

    def _serve(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(512)
            except OSError:
                return
            if len(data) < 12:
                continue
            qid, flags, qd = struct.unpack_from("!HHH", data)
            if flags & 0x8000 or qd != 1:
                continue
            name, end = self._name(data, 12)
            if name is None or end + 4 > len(data):
                continue
            qtype, qclass = struct.unpack_from("!HH", data, end)
            self.asked.append(name)
            question = data[12:end + 4]
            if qtype == 1 and qclass == 1:
                answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(HOST_IP)
                head = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0)
            else:
                answer = b""
                head = struct.pack("!HHHHHH", qid, 0x8180, 1, 0, 0, 0)
            try:
                self.sock.sendto(head + question + answer, peer)
            except OSError:
                return

    def close(self):
        self.sock.close()


class SntpResponder:
    """A server of mode 4, stratum 1, always NTP_UNIX; counts requests, answers none while `silent`."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST_IP, 123))
        self.requests = 0
        self.silent = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(512)
            except OSError:
                return
            if len(data) < 48 or (data[0] & 0x07) != 3:
                continue
            self.requests += 1
            if self.silent:
                continue
            now = NTP_UNIX + NTP_EPOCH_OFFSET
            ts = struct.pack("!II", now, 0)
            reply = bytes([0x24, 1, data[2], 0xEC]) + struct.pack("!II", 0, 0) + b"LOCL"
            reply += ts + data[40:48] + ts + ts   # reference, originate (the client's transmit), receive, transmit
            try:
                self.sock.sendto(reply, peer)
            except OSError:
                return

    def close(self):
        self.sock.close()


class PublicIpServer:
    """Answers every GET with `answer`: (HTTP status, content type, body); by default PUBLIC_IP as text."""

    DEFAULT = (200, "text/plain", PUBLIC_IP + "\n")

    def __init__(self):
        lab = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                lab.requests.append(self.path)
                status, ctype, text = lab.answer
                body = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.requests = []
        self.answer = self.DEFAULT
        self.server = ThreadingHTTPServer((HOST_IP, HTTP_PORT), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Broker:
    """Mosquitto on HOST_IP: plain PLAIN_PORT and TLS TLS_PORT."""

    def __init__(self, workdir, ca):
        self.dir = Path(workdir)
        self.conf = self.dir / "mosquitto.conf"
        self.log_path = self.dir / "mosquitto.log"
        self.proc = None
        self.conf.write_text("\n".join([
            "per_listener_settings false",
            "allow_anonymous true",
            "persistence false",
            "set_tcp_nodelay true",
            "user root",
            "log_dest stderr",
            "log_type all",
            "connection_messages true",
            "log_timestamp_format %H:%M:%S",
            f"listener {PLAIN_PORT} {HOST_IP}",
            f"listener {TLS_PORT} {HOST_IP}",
            f"cafile {ca.ca_cert}",
            f"certfile {ca.server_cert}",
            f"keyfile {ca.server_key}",
            "require_certificate false",
        ]) + "\n")

    def start(self, env=None):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env)
        log.close()
        alive = lambda: self.proc.poll() is None  # noqa: E731
        wait_port(PLAIN_PORT, 5, host=HOST_IP, alive=alive)
        wait_port(TLS_PORT, 5, host=HOST_IP, alive=alive)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_text(self, tail=60):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-tail:])
        except OSError:
            return "(no broker log)"


# ------------------------------------------------------------------ the lab

class NetLab:
    def __init__(self, workdir):
        self.dir = Path(workdir)
        self.old_ns = None
        self.services = []
        self.broker = None
        self.bridge = None

    def open(self):
        libc = ctypes.CDLL(None, use_errno=True)
        try:
            self.old_ns = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        except OSError as err:
            raise NetLabError(f"cannot open this thread's network namespace: {err}") from None
        if libc.unshare(CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            os.close(self.old_ns)
            self.old_ns = None
            raise NetLabError(
                f"cannot create a network namespace (unshare(CLONE_NEWNET): {os.strerror(err)}); "
                "the network tests need root or CAP_SYS_ADMIN (CI runs them as root)")
        links = _run("ip", "-o", "link", "show")
        if [l.split(":")[1].strip() for l in links.splitlines()] != ["lo"]:
            raise NetLabError(f"the new namespace is not empty:\n{links}")
        _run("ip", "link", "set", "lo", "up")
        if not Path("/dev/net/tun").exists():
            raise NetLabError("no /dev/net/tun: the kernel's TUN driver is missing")
        # IPv6 off in this namespace: only the traffic the tests make crosses the link.
        for conf in ("all", "default"):
            try:
                Path(f"/proc/sys/net/ipv6/conf/{conf}/disable_ipv6").write_text("1")
            except OSError:
                pass
        _run("ip", "tuntap", "add", "dev", TUN, "mode", "tun")
        _run("ip", "addr", "add", f"{HOST_IP}/24", "dev", TUN)
        _run("ip", "link", "set", TUN, "up")
        self.bridge = self._build_bridge()
        self.ca = CertAuthority(self.dir / "ca", "emu").issue_server(dns=BROKER_NAME, ip=HOST_IP, cn=BROKER_NAME)
        self.wrong_ca = CertAuthority(self.dir / "wrong-ca", "wrong")
        self.dns = DnsResponder()
        self.sntp = SntpResponder()
        self.http = PublicIpServer()
        self.services = [self.dns, self.sntp, self.http]
        self.broker = Broker(self.dir, self.ca)
        self.broker.start()
        return self

    def _build_bridge(self):
        out = self.dir / "tun_bridge"
        src = REPO / "emu" / "tun_bridge.c"
        res = subprocess.run(["cc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-Wshadow",
                              "-Wstrict-prototypes", "-o", str(out), str(src)],
                             capture_output=True, text=True, timeout=60)
        if res.returncode != 0:
            raise NetLabError(f"cannot build {src}:\n{res.stderr}")
        return out

    def slip_cmd(self):
        return f"exec {self.bridge} {TUN}"

    def routes(self):
        return _run("ip", "route", "show")

    def close(self):
        if self.broker is not None:
            self.broker.stop()
        for s in self.services:
            s.close()
        if self.old_ns is not None:
            subprocess.run(["ip", "link", "del", TUN], capture_output=True, timeout=20)
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.setns(self.old_ns, CLONE_NEWNET) != 0:
                raise NetLabError(f"cannot return to the original namespace: {os.strerror(ctypes.get_errno())}")
            os.close(self.old_ns)
            self.old_ns = None
