"""Drives the real `mqtt-tiny-sim` binary for the controller system tests.

Three pieces, all talking to real processes:
  * `Sim`    - one simulator process: writes its config, starts it, waits for the
               `{"ev":"ready"}` line, stops it with SIGTERM and checks the exit code
               (under ASan/LSan a leak turns into a non-zero exit).
  * `Board`  - a client of the virtual-board socket: JSON lines in both directions,
               every event recorded with the time it arrived.
  * `Phone`  - a paho MQTT client on the device topic, playing the phone app.
  * `Rig`    - a sim and a phone on a fresh topic of one broker (optionally
               behind a fault proxy); `rig_factory` makes them for a test and
               checks at teardown that every sim exits 0.

Every wait has a deadline; nothing here sleeps "long enough" and hopes.
The `rig_factory` fixture at the bottom is imported by the test modules (the
broker and proxy fixtures come from conftest.py).
"""
import json
import os
import select
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# The original README's board.
RELAYS = [16, 17]
MOMENTARY = [18, 19]
CONTACTS = [0, 1, 2, 3]
ALL_PINS = CONTACTS + RELAYS + MOMENTARY

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer")

# Every deadline is multiplied by this (MTC_TIME_SCALE=3 on a very slow machine);
# the sanitizer build passes with the default on a loaded 2-core machine.
SLOW = float(os.environ.get("MTC_TIME_SCALE", "1"))


def build_dir():
    return Path(os.environ.get("MTC_BUILD_DIR", REPO / "build"))


def sim_path():
    """Path of the simulator binary, or None while it is not built."""
    for cand in (build_dir() / "mqtt-tiny-sim", build_dir() / "apps" / "sim" / "mqtt-tiny-sim"):
        if cand.is_file() and os.access(cand, os.X_OK):
            return cand
    return None


def require_sim():
    """The sim binary. Skips only while apps/sim has no sources yet; once it
    has, a missing binary is a failure (same rule as conftest.binary_path)."""
    path = sim_path()
    if path is None:
        if not list((REPO / "apps" / "sim").glob("*.c")):
            pytest.skip("mqtt-tiny-sim: apps/sim is not written yet")
        pytest.fail(f"mqtt-tiny-sim not found in {build_dir()} (set MTC_BUILD_DIR or build it)")
    return path


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def gp(pin):
    return f"GP{pin}"


# --------------------------------------------------------------------------- records

def _short(item, limit=300):
    text = repr(item)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


class EventLog:
    """Thread-safe append-only list of (t_monotonic, item) with waiting."""

    def __init__(self):
        self._items = []
        self._cond = threading.Condition()

    def append(self, item):
        with self._cond:
            self._items.append((time.monotonic(), item))
            self._cond.notify_all()

    def mark(self):
        with self._cond:
            return len(self._items)

    def items(self, start=0, pred=None):
        with self._cond:
            return [it for _, it in self._items[start:] if pred is None or pred(it)]

    def timed(self, start=0, pred=None):
        with self._cond:
            return [(t, it) for t, it in self._items[start:] if pred is None or pred(it)]

    def wait(self, pred, timeout, start=0, what="event"):
        """First item at index >= start matching pred; fails the test on timeout."""
        found = self.wait_timed(pred, timeout, start)
        if found is None:
            tail = [_short(it) for _, it in self._items[max(start, len(self._items) - 15):]]
            raise AssertionError(f"no {what} within {timeout * SLOW:.1f}s; last items: {tail}")
        return found[1]

    def wait_timed(self, pred, timeout, start=0):
        deadline = time.monotonic() + timeout * SLOW
        with self._cond:
            i = start
            while True:
                while i < len(self._items):
                    t, it = self._items[i]
                    if pred(it):
                        return t, it
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def wait_count(self, pred, count, timeout, start=0):
        """Waits until `count` matching items exist; returns them (possibly fewer on timeout)."""
        deadline = time.monotonic() + timeout * SLOW
        with self._cond:
            while True:
                got = [it for _, it in self._items[start:] if pred(it)]
                left = deadline - time.monotonic()
                if len(got) >= count or left <= 0:
                    return got
                self._cond.wait(left)

    def quiet(self, pred, duration, start=0):
        """Waits `duration` seconds and returns the matching items that arrived."""
        time.sleep(duration * SLOW)
        return self.items(start, pred)


# --------------------------------------------------------------------------- board

class Board:
    """One client of the simulator's virtual-board socket."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(None)
        self.events = EventLog()
        self.bad_lines = []
        self._closed = False
        self._send_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.hello = self.events.wait(lambda e: e.get("ev") == "hello", 10, what="board hello")

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if not line.strip():
                    continue
                try:
                    self.events.append(json.loads(line))
                except ValueError:
                    self.bad_lines.append(line)
        self.events.append({"ev": "_closed"})

    def send_raw(self, data):
        with self._send_lock:
            self.sock.sendall(data)

    def send(self, obj):
        self.send_raw(json.dumps(obj).encode() + b"\n")

    def set(self, pin, level):
        self.send({"op": "set", "pin": pin, "level": level})

    def open_level(self, pin):
        """Electrical level of contact `pin` when it is open (from the hello table)."""
        for p in self.hello["pins"]:
            if p["pin"] == pin:
                return p["level"] if not p["on"] else 1 - p["level"]
        raise KeyError(pin)

    def contact(self, pin, closed):
        """Closes or opens a contact (sets the electrical level that means it)."""
        level = self.open_level(pin)
        self.set(pin, 1 - level if closed else level)

    def wifi(self, up):
        self.send({"op": "wifi", "state": "up" if up else "down"})

    def _request(self, op, ev, timeout=5):
        start = self.events.mark()
        self.send({"op": op})
        return self.events.wait(lambda e: e.get("ev") == ev, timeout, start, what=f"{ev} reply")

    def pins(self):
        """{pin: {"kind", "level", "on"}} read with `get`."""
        reply = self._request("get", "pins")
        return {p["pin"]: p for p in reply["pins"]}

    def stats(self):
        return self._request("stats", "stats")

    def outputs(self, pin=None, start=0):
        return self.events.items(start, lambda e: e.get("ev") == "output" and (pin is None or e.get("pin") == pin))

    def mqtt_events(self, start=0):
        return self.events.items(start, lambda e: e.get("ev") == "mqtt")

    def wait_mqtt(self, state, timeout=10, start=0):
        return self.events.wait(lambda e: e.get("ev") == "mqtt" and e.get("state") == state,
                                timeout, start, what=f"mqtt {state}")

    def wait_output(self, pin, on, timeout=5, start=0):
        return self.events.wait(lambda e: e.get("ev") == "output" and e.get("pin") == pin and e.get("on") == on,
                                timeout, start, what=f"output GP{pin} on={on}")

    def close(self):
        if not self._closed:
            self._closed = True
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
            self._reader.join(2)


# --------------------------------------------------------------------------- config

def controller_config(*, pulse_ms=2000, debounce_ms=50, guards=None, publish_interval_s=-1,
                      public_ip_url=None, extra=None):
    """The original README's board as a config dict; broker, topic and client id are
    passed on the command line so that one file serves any broker."""
    cfg = {
        "mqtt": {
            "broker_url": "mqtt://127.0.0.1:1883",
            "client_id": "picow-test",
            "topic": "home/picow",
            "keepalive_s": 30,
        },
        "relays": [{"pin": p} for p in RELAYS],
        "momentary": [{"pin": p, "pulse_ms": pulse_ms} for p in MOMENTARY],
        "contacts": [{"pin": p, "debounce_ms": debounce_ms} for p in CONTACTS],
        "publish_interval_s": publish_interval_s,
    }
    if guards:
        cfg["guards"] = dict(guards)
    if public_ip_url:
        cfg["public_ip_url"] = public_ip_url
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key].update(value)
        else:
            cfg[key] = value
    return cfg


# Guards loose enough that a functional test never trips them.
LOOSE_GUARDS = {
    "cooldown_ms": 0,
    "toggle_window_ms": 1000,
    "toggle_max": 1000,
    "violation_max": 1000,
    "publish_window_ms": 1000,
    "publish_max": 100000,
    "backlog_window_ms": 300,
}


# --------------------------------------------------------------------------- sim

class Sim:
    """One `mqtt-tiny-sim` process with a board client attached."""

    def __init__(self, workdir, broker_url, topic, config=None, client_id=None, keepalive=None,
                 backoff_first_ms=50, backoff_max_ms=500, extra_args=(), user=None, password=None,
                 ca=None):
        self.binary = require_sim()
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.broker_url = broker_url
        self.topic = topic
        self.client_id = client_id or unique("picow")
        self.config = config if config is not None else controller_config(guards=LOOSE_GUARDS)
        self.keepalive = keepalive
        self.backoff = (backoff_first_ms, backoff_max_ms)
        self.extra_args = list(extra_args)
        self.user, self.password, self.ca = user, password, ca
        self.proc = None
        self.board = None
        self.board_addr = None
        self.connected_at = None
        self.runs = 0
        self.log_paths = []

    # -- process
    def args(self):
        cfg_path = self.workdir / "config.json"
        cfg_path.write_text(json.dumps(self.config, indent=1))
        args = [str(self.binary), "--config", str(cfg_path), "--broker", self.broker_url,
                "--board", "127.0.0.1:0", "--client-id", self.client_id, "--topic", self.topic]
        if self.keepalive is not None:
            args += ["--keepalive", str(self.keepalive)]
        if self.backoff[0] is not None:
            args += ["--backoff-first-ms", str(self.backoff[0])]
        if self.backoff[1] is not None:
            args += ["--backoff-max-ms", str(self.backoff[1])]
        if self.user is not None:
            args += ["--user", self.user]
        if self.password is not None:
            args += ["--password", self.password]
        if self.ca is not None:
            args += ["--ca", str(self.ca)]
        return args + self.extra_args

    def start(self, wait_connected=True):
        self.runs += 1
        log_path = self.workdir / f"sim-{self.runs}.log"
        self.log_paths.append(log_path)
        self._log = open(log_path, "wb")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        self.proc = subprocess.Popen(self.args(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self._log, env=env)
        line = self._read_ready(15 * SLOW)
        ready = json.loads(line)
        assert ready.get("ev") == "ready", ready
        host, port = ready["board"].rsplit(":", 1)
        self.board_addr = (host, int(port))
        self.board = Board(host, int(port))
        self.connected_at = None
        if wait_connected:
            self.wait_connected(10)
        return self

    def wait_connected(self, timeout):
        """The sim may connect before our board client is attached (then the
        event is gone): watch for the event and poll the stats as well."""
        deadline = time.monotonic() + timeout * SLOW
        while True:
            ev = self.board.events.timed(0, lambda e: e.get("ev") == "mqtt" and e.get("state") == "connected")
            if ev:
                self.connected_at = ev[0][0]
                return
            if self.board.stats().get("mqtt_connected"):
                self.connected_at = time.monotonic()
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"sim not connected within {timeout * SLOW:.0f}s\n{self.log_tail()}")
            time.sleep(0.02)

    def _read_ready(self, timeout):
        deadline = time.monotonic() + timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"sim printed no ready line in {timeout:.0f}s\n{self.log_tail()}")
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 4096)
                if not chunk:
                    rc = self.proc.wait()
                    raise AssertionError(f"sim exited ({rc}) before ready\n{self.log_tail()}")
                buf += chunk
        # Nothing else is expected on stdout; keep draining so the sim never blocks on it.
        threading.Thread(target=self._drain, args=(fd,), daemon=True).start()
        return buf.split(b"\n", 1)[0].decode()

    def _drain(self, fd):
        try:
            while os.read(fd, 4096):
                pass
        except OSError:
            pass

    def failure_log(self):
        out = []
        for path in self.log_paths:
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            out.append((f"sim log {path.name} ({self.workdir})", "\n".join(text.splitlines()[-150:])))
        return out

    def log_tail(self, n=40):
        if not self.log_paths:
            return ""
        try:
            lines = self.log_paths[-1].read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "--- sim log ---\n" + "\n".join(lines[-n:])

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, check=True):
        """SIGTERM; the sim must exit 0 promptly (clean shutdown, no leaks under LSan)."""
        if self.board:
            self.board.close()
            self.board = None
        if self.proc is None:
            return None
        rc = self.proc.poll()
        crashed_before = rc is not None
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(10 * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = "hang"
        self.proc.stdout.close()
        self._log.close()
        self.proc = None
        if check:
            log = self.log_paths[-1].read_text(errors="replace") if self.log_paths else ""
            for marker in SANITIZER_MARKERS:
                assert marker not in log, f"sanitizer report from the sim\n{self.log_tail(80)}"
            assert not crashed_before, f"sim died during the test (exit {rc})\n{self.log_tail()}"
            assert rc == 0, f"sim exit code {rc} after SIGTERM\n{self.log_tail()}"
        return rc

    def kill(self):
        """SIGKILL: a power cut, no clean shutdown."""
        if self.board:
            self.board.close()
            self.board = None
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self._log.close()
        self.proc = None

    def backlog_window_s(self):
        """Seconds after a (re)connect during which messages count as backlog."""
        ms = self.config.get("guards", {}).get("backlog_window_ms", 3000)
        return ms / 1000.0

    def settle_backlog(self):
        """Waits out the backlog window after the connection came up, so that
        what the test sends next is a live command."""
        ev = self.board.events.timed(0, lambda e: e.get("ev") == "mqtt" and e.get("state") == "connected")
        times = [t for t, _ in ev] + ([self.connected_at] if self.connected_at else [])
        if times:
            left = max(times) + self.backlog_window_s() + 0.05 - time.monotonic()
            if left > 0:
                time.sleep(left)

    # -- shortcuts
    def wifi(self, up):
        self.board.wifi(up)

    def pins(self):
        return self.board.pins()

    def stats(self):
        return self.board.stats()


# --------------------------------------------------------------------------- phone

class Phone:
    """A paho client on the device topic: the phone app."""

    def __init__(self, port, topic, host="127.0.0.1", client_id=None, clean_session=True,
                 user=None, password=None, tls_ca=None, subscribe=True):
        import paho.mqtt.client as mqtt  # imported late: collection must not need paho
        self._mqtt = mqtt
        self.topic = topic
        self.messages = EventLog()
        self.client = mqtt.Client(client_id=client_id or unique("phone"), clean_session=clean_session,
                                  protocol=mqtt.MQTTv311)
        if user is not None:
            self.client.username_pw_set(user, password)
        if tls_ca is not None:
            self.client.tls_set(ca_certs=str(tls_ca))
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self._want_subscribe = subscribe
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(10):
            raise AssertionError("phone could not connect to the broker")
        if subscribe and not self._subscribed.wait(10):
            raise AssertionError("phone subscription not acknowledged")

    def _on_connect(self, client, userdata, flags, rc):
        if rc == 0:
            nodelay(client)
            self._connected.set()
            if self._want_subscribe:
                client.subscribe(self.topic, qos=1)

    def _on_message(self, client, userdata, msg):
        try:
            body = json.loads(msg.payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            body = None
        self.messages.append({"payload": msg.payload, "json": body, "retain": msg.retain,
                              "qos": msg.qos, "dup": msg.dup})

    # -- sending
    def send(self, payload, qos=1, wait=True):
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload)
        info = self.client.publish(self.topic, payload, qos=qos)
        if wait and qos > 0:
            info.wait_for_publish(10)
            assert info.is_published(), "broker did not acknowledge the command"
        return info

    # -- what the device published (carries the TIME marker; our own commands do not)
    @staticmethod
    def is_device(m):
        return isinstance(m["json"], dict) and "TIME" in m["json"]

    def mark(self):
        return self.messages.mark()

    def device_msgs(self, start=0):
        return [m["json"] for m in self.messages.items(start, self.is_device)]

    def wait_device(self, pred, timeout=5, start=0, what="device publication"):
        m = self.messages.wait(lambda m: self.is_device(m) and pred(m["json"]), timeout, start, what=what)
        return m["json"]

    def wait_state(self, pin, value, timeout=5, start=0):
        key = gp(pin)
        return self.wait_device(lambda j: j.get(key) == value, timeout, start, what=f"{key}={value}")

    def wait_error(self, timeout=5, start=0):
        return self.wait_device(is_error, timeout, start, what="error publication")

    def close(self):
        # disconnect first: the network thread then ends at once instead of
        # finishing its one-second select
        self.client.disconnect()
        self.client.loop_stop()


def nodelay(client):
    """TCP_NODELAY on a paho client's socket (paho does not set it; without it
    every QoS1 round trip can stall ~40 ms on Nagle + delayed ACK)."""
    sock = client.socket()
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


def is_error(j):
    """An error publication from the device."""
    return isinstance(j, dict) and any(k in j for k in ("ERROR", "error", "ERR"))


def error_text(j):
    for k in ("ERROR", "error", "ERR"):
        if k in j:
            return str(j[k])
    return ""


def flatten(obj, prefix=""):
    """{"a.b": number} for every number in a nested dict (stats replies)."""
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out[prefix.rstrip(".")] = obj
    return out


def counter(stats, *names):
    """The first counter in a stats reply whose last key component is one of names."""
    flat = flatten(stats)
    for name in names:
        for k, v in flat.items():
            if k.split(".")[-1] == name:
                return v
    raise AssertionError(f"none of {names} in stats: {sorted(flat)}")


def is_full_state(j):
    return isinstance(j, dict) and all(gp(p) in j for p in ALL_PINS)


# --------------------------------------------------------------------------- fixtures

class Rig:
    """A sim and a phone on one fresh topic of one broker."""

    def __init__(self, workdir, broker, via=None, **sim_kwargs):
        """via: a FaultProxy in front of the broker for the sim's connection
        (the phone always talks to the broker directly)."""
        self.broker = broker
        self.proxy = via
        self.topic = unique("mtc/test")
        self.workdir = Path(workdir)
        self.phone = Phone(broker.port, self.topic)
        port = via.port if via is not None else broker.port
        self.sim = Sim(workdir, broker_url=f"mqtt://127.0.0.1:{port}", topic=self.topic, **sim_kwargs)
        self.extra = []

    @property
    def board(self):
        return self.sim.board

    def start(self, **kw):
        self.sim.start(**kw)
        return self

    def backlog_window_s(self):
        return self.sim.backlog_window_s()

    def settle(self):
        self.sim.settle_backlog()

    def reconnect_once(self):
        """One WiFi blip (down, up, connected, backlog window over). The sim
        connects with a clean session after boot and persistently afterwards,
        so from here on the broker keeps its session through outages. Tests
        of one thing (stale presses, redelivery, the outage cases) use it so
        that they do not depend on what happens in the first outage after
        boot, which has tests of its own."""
        mark = self.board.events.mark()
        self.sim.wifi(False)
        self.board.wait_mqtt("disconnected", 3, mark)
        self.sim.wifi(True)
        self.board.wait_mqtt("connected", 5, mark)
        self.settle()

    def new_phone(self, **kw):
        p = Phone(self.broker.port, self.topic, **kw)
        self.extra.append(p)
        return p

    def close(self, check=True):
        try:
            self.sim.stop(check=check)
        finally:
            self.phone.close()
            for p in self.extra:
                p.close()


@pytest.fixture
def rig_factory(tmp_path):
    """rig_factory(broker, config=..., **sim kwargs) -> started Rig; stopped (exit 0 checked) at teardown."""
    rigs = []

    def make(broker, start=True, settle=True, **kw):
        rig = Rig(tmp_path / f"rig{len(rigs)}", broker, **kw)
        rigs.append(rig)
        if start:
            rig.start()
            if settle:
                rig.phone.wait_device(is_full_state, 5, what="first full state")
                rig.settle()
        return rig

    make.failure_log = lambda: [entry for rig in rigs for entry in rig.sim.failure_log()]
    yield make
    problems = []
    for rig in rigs:
        try:
            rig.close()
        except AssertionError as e:
            problems.append(str(e))
    assert not problems, "\n".join(problems)
