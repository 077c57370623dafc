"""A fault-injecting TCP proxy between the client under test and a broker.

Modes (set_mode, effective at once for open and new connections):
  pass           forward bytes both ways
  blackhole      keep every socket open and drop all bytes both ways: the
                 link is half-open, nobody sees a FIN or RST
  blackhole_up   drop only client -> broker bytes
  blackhole_down drop only broker -> client bytes (e.g. PUBACKs get lost)
  delay          forward each chunk after delay_ms
  refuse         close new connections as soon as they are accepted
Actions:
  cut()          close both sides of every open connection now (the mode
                 stays as it is, so with "pass" the client can come back)

Threads, one acceptor plus two pumps per connection; the test thread
controls it. Counters: accepted (connections seen), open_connections().
"""

import socket
import threading
import time

MODES = ("pass", "blackhole", "blackhole_up", "blackhole_down", "delay", "refuse")


class _Link:
    def __init__(self, client, upstream):
        self.client = client
        self.upstream = upstream
        self.closed = False
        self.lock = threading.Lock()

    def close(self):
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for s in (self.client, self.upstream):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


class FaultProxy:
    def __init__(self, target_port, target_host="127.0.0.1", listen_port=0, mode="pass"):
        self.target = (target_host, target_port)
        self.mode = mode
        self.delay_ms = 0
        self.accepted = 0
        self.accept_times = []          # monotonic time of each accepted connection
        self.bytes_up = 0
        self.bytes_down = 0
        self._links = []
        self._lock = threading.Lock()
        self._closed = False
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", listen_port))
        self._listener.listen(64)
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True,
                                          name=f"faultproxy-{self.port}")
        self._acceptor.start()

    def url(self, scheme="mqtt", host="127.0.0.1"):
        return f"{scheme}://{host}:{self.port}"

    # -- control
    def set_mode(self, mode, delay_ms=None):
        if mode not in MODES:
            raise ValueError(f"unknown proxy mode {mode}")
        if delay_ms is not None:
            self.delay_ms = delay_ms
        self.mode = mode

    def cut(self):
        """Closes both sides of every open connection now."""
        with self._lock:
            links, self._links = self._links, []
        for link in links:
            link.close()
        return len(links)

    def open_connections(self):
        with self._lock:
            self._links = [link for link in self._links if not link.closed]
            return len(self._links)

    def close(self):
        self._closed = True
        self._acceptor.join(2.0)
        self._listener.close()
        self.cut()

    def failure_log(self):
        return [(f"fault proxy :{self.port} -> {self.target[1]}",
                 f"mode {self.mode} (delay {self.delay_ms} ms), {self.accepted} connections "
                 f"accepted, {self.open_connections()} open, {self.bytes_up} bytes up, "
                 f"{self.bytes_down} bytes down")]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- work
    def _accept_loop(self):
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                if self._closed:
                    return
                time.sleep(0.01)
                continue
            self.accepted += 1
            self.accept_times.append(time.monotonic())
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.mode == "refuse":
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=2.0)
            except OSError:
                client.close()          # broker down: the client sees the connection close
                continue
            upstream.settimeout(None)
            upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = _Link(client, upstream)
            with self._lock:
                self._links.append(link)
            for src, dst, up in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pump, args=(link, src, dst, up), daemon=True).start()

    def _drops(self, up):
        mode = self.mode
        return (mode == "blackhole" or (mode == "blackhole_up" and up)
                or (mode == "blackhole_down" and not up))

    def _pump(self, link, src, dst, up):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if self.mode == "delay" and self.delay_ms:
                    time.sleep(self.delay_ms / 1000.0)
                if self._drops(up):
                    continue
                dst.sendall(data)
                if up:
                    self.bytes_up += len(data)
                else:
                    self.bytes_down += len(data)
        except OSError:
            pass
        link.close()
