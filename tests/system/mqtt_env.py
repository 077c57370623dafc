"""Helpers for the system tests: free ports, a real Mosquitto, certificates,
a paho-mqtt peer and a generic driver for our binaries.

Nothing here is a fixture; conftest.py wires these into pytest, and the soak
script (soak.py) uses them directly.
"""

import os
import signal
import socket
import subprocess
import threading
import time

MOSQUITTO = os.environ.get("MTC_MOSQUITTO", "/usr/sbin/mosquitto")
MOSQUITTO_PASSWD = os.environ.get("MTC_MOSQUITTO_PASSWD", "/usr/bin/mosquitto_passwd")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def build_dir():
    return os.environ.get("MTC_BUILD_DIR", os.path.join(REPO_ROOT, "build"))


def free_port():
    """A TCP port nobody listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=5.0, host="127.0.0.1", alive=None):
    """Waits until something accepts TCP connections on port. alive(), if
    given, is checked on each try so that a crashed server fails fast."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            pass
        if alive is not None and not alive():
            raise RuntimeError(f"server on port {port} exited before listening")
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")
        time.sleep(0.02)


def wait_until(predicate, timeout, interval=0.01, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------
# Certificates

def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class CertAuthority:
    """A CA made with openssl at test time (EC P-256, valid for a day).
    Files: .ca_cert, and after issue_server(): .server_cert, .server_key."""

    def __init__(self, directory, name):
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.name = name
        self.ca_key = os.path.join(self.dir, f"{name}-ca.key")
        self.ca_cert = os.path.join(self.dir, f"{name}-ca.pem")
        _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", self.ca_key,
                 cwd=self.dir)
        _openssl("req", "-x509", "-new", "-key", self.ca_key, "-sha256", "-days", "2",
                 "-subj", f"/CN=MqttTinyController test CA {name}", "-out", self.ca_cert,
                 cwd=self.dir)
        self.server_cert = None
        self.server_key = None

    def issue_server(self, dns="localhost", ip="127.0.0.1", cn="localhost"):
        key = os.path.join(self.dir, f"{self.name}-server.key")
        csr = os.path.join(self.dir, f"{self.name}-server.csr")
        cert = os.path.join(self.dir, f"{self.name}-server.pem")
        ext = os.path.join(self.dir, f"{self.name}-server.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n"
                    "keyUsage=digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\n"
                    f"subjectAltName=DNS:{dns},IP:{ip}\n")
        _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key, cwd=self.dir)
        _openssl("req", "-new", "-key", key, "-subj", f"/CN={cn}", "-out", csr, cwd=self.dir)
        _openssl("x509", "-req", "-in", csr, "-CA", self.ca_cert, "-CAkey", self.ca_key,
                 "-CAcreateserial", "-days", "2", "-sha256", "-extfile", ext, "-out", cert,
                 cwd=self.dir)
        for path in (key, cert, self.ca_cert):
            os.chmod(path, 0o644)  # readable by the broker whatever user it runs as
        self.server_cert, self.server_key = cert, key
        return self


# --------------------------------------------------------------------------
# Mosquitto

class Mosquitto:
    """A private Mosquitto on its own port with its own config.

    tls: a CertAuthority with a server certificate, for a TLS listener.
    passwords: {user: password} for a password file and no anonymous access.
    The port stays the same across stop()/start()/restart()/kill()."""

    def __init__(self, workdir, tls=None, passwords=None, port=None, name="mosquitto",
                 extra_config=()):
        self.dir = str(workdir)
        os.makedirs(self.dir, exist_ok=True)
        self.name = name
        self.port = port or free_port()
        self.tls = tls
        self.passwords = passwords
        self.host = "localhost" if tls else "127.0.0.1"
        scheme = "mqtts" if tls else "mqtt"
        self.url = f"{scheme}://{self.host}:{self.port}"
        self.conf = os.path.join(self.dir, f"{name}.conf")
        self.log_path = os.path.join(self.dir, f"{name}.log")
        self.proc = None
        self.starts = 0
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence false",
            "set_tcp_nodelay true",
            "user root",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "log_timestamp_format %H:%M:%S",
        ]
        if passwords:
            pwfile = os.path.join(self.dir, f"{name}.passwd")
            first = True
            for user, password in passwords.items():
                cmd = [MOSQUITTO_PASSWD, "-b"] + (["-c"] if first else []) + [pwfile, user, password]
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                first = False
            os.chmod(pwfile, 0o644)
            lines += ["allow_anonymous false", f"password_file {pwfile}"]
        else:
            lines.append("allow_anonymous true")
        if tls:
            lines += [f"cafile {tls.ca_cert}", f"certfile {tls.server_cert}",
                      f"keyfile {tls.server_key}", "require_certificate false"]
        lines += list(extra_config)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, timeout=5.0):
        assert self.proc is None or self.proc.poll() is not None, "broker already running"
        log = open(self.log_path, "ab")
        log.write(f"---- start #{self.starts + 1} ----\n".encode())
        log.flush()
        self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf], stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        self.starts += 1
        try:
            wait_port(self.port, timeout, alive=lambda: self.proc.poll() is None)
        except Exception as e:
            raise RuntimeError(f"{self.name} did not start: {e}\n{self.log_text()}") from None
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _end(self, sig, timeout=5.0):
        if not self.running():
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        """SIGTERM: Mosquitto closes its clients' connections and exits."""
        self._end(signal.SIGTERM)

    def kill(self):
        """SIGKILL: the process vanishes; the kernel resets its sockets."""
        self._end(signal.SIGKILL)

    def restart(self, timeout=5.0):
        self.stop()
        return self.start(timeout)

    def log_text(self, tail=200):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-tail:])

    def failure_log(self):
        return [(f"{self.name} log ({self.url})", self.log_text())]


# --------------------------------------------------------------------------
# paho-mqtt peer

class Peer:
    """Another MQTT client (paho-mqtt 1.6.1) that talks to the broker next to
    the client under test: subscribes, publishes and collects messages."""

    def __init__(self, broker=None, host="127.0.0.1", port=None, client_id=None,
                 username=None, password=None, ca=None, clean_session=True, keepalive=30):
        import paho.mqtt.client as mqtt
        if broker is not None:
            port = broker.port
            host = broker.host
            if broker.tls and ca is None:
                ca = broker.tls.ca_cert
        self.host, self.port = host, port
        self.client_id = client_id or f"peer-{os.getpid()}-{id(self) & 0xffffff:x}"
        self.client = mqtt.Client(client_id=self.client_id, clean_session=clean_session,
                                  protocol=mqtt.MQTTv311)
        if username is not None:
            self.client.username_pw_set(username, password)
        if ca is not None:
            self.client.tls_set(ca_certs=ca)
        self.keepalive = keepalive
        self.messages = []
        self._cond = threading.Condition()
        self._connected = False
        self.connack_rc = None
        self._subacks = {}
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    def _on_connect(self, client, userdata, flags, rc):
        with self._cond:
            self._connected = rc == 0
            self.connack_rc = rc
            self._cond.notify_all()

    def _on_disconnect(self, client, userdata, rc):
        with self._cond:
            self._connected = False
            self._cond.notify_all()

    def _on_message(self, client, userdata, msg):
        with self._cond:
            self.messages.append(msg)
            self._cond.notify_all()

    def _on_subscribe(self, client, userdata, mid, granted):
        with self._cond:
            self._subacks[mid] = granted
            self._cond.notify_all()

    def _wait(self, predicate, timeout, what):
        with self._cond:
            if not self._cond.wait_for(predicate, timeout):
                raise AssertionError(f"peer {self.client_id}: timed out after {timeout}s "
                                     f"waiting for {what}")

    def connect(self, timeout=5.0):
        self.client.connect(self.host, self.port, self.keepalive)
        self.client.loop_start()
        self._wait(lambda: self.connack_rc is not None, timeout, "CONNACK")
        if self.connack_rc != 0:
            self.client.loop_stop()
            raise ConnectionRefusedError(f"peer {self.client_id}: CONNACK code {self.connack_rc}")
        return self

    def subscribe(self, topic, qos=1, timeout=5.0):
        rc, mid = self.client.subscribe(topic, qos)
        assert rc == 0, f"subscribe {topic}: rc {rc}"
        self._wait(lambda: mid in self._subacks, timeout, f"SUBACK for {topic}")
        return self._subacks[mid]

    def publish(self, topic, payload, qos=0, retain=False, timeout=5.0):
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if qos > 0:
            info.wait_for_publish(timeout)
            assert info.is_published(), f"peer publish to {topic} not acknowledged"
        return info

    def wait_for(self, predicate, timeout=5.0, what="message"):
        """Waits until predicate(messages) is true; returns its value."""
        result = []

        def check():
            value = predicate(self.messages)
            if value:
                result.append(value)
                return True
            return False
        self._wait(check, timeout, what)
        return result[0]

    def wait_message(self, topic, payload=None, timeout=5.0):
        """The first message on topic (and with payload, if given)."""
        def find(msgs):
            for m in msgs:
                if m.topic == topic and (payload is None or m.payload == payload):
                    return m
            return None
        return self.wait_for(find, timeout, f"a message on {topic}")

    def on_topic(self, topic):
        with self._cond:
            return [m for m in self.messages if m.topic == topic]

    def close(self):
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()


# --------------------------------------------------------------------------
# Processes under test

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer", "SUMMARY: AddressSanitizer")


class BinaryProcess:
    """Runs one of our binaries with stdin as a pipe, collecting stdout lines
    (and JSON objects among them) on a thread, and stderr on another.

    Every collected line is a dict: JSON lines as parsed, with "_rx" (monotonic
    time the test saw it) and "_n" (its index); other lines as {"ev": "_text",
    "text": ...}. Sanitizer output on stderr fails stop()."""

    def __init__(self, argv, env=None, name=None, cwd=None):
        self.argv = [str(a) for a in argv]
        self.name = name or os.path.basename(self.argv[0])
        self.env = dict(os.environ)
        self.env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
        self.env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        if env:
            self.env.update(env)
        self.cwd = cwd
        self.events = []
        self.stderr_lines = []
        self._cond = threading.Condition()
        self.proc = None
        self.returncode = None
        self.started_at = None

    # -- life cycle
    def start(self):
        import json
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=self.env, cwd=self.cwd)

        def read_stdout():
            for raw in self.proc.stdout:
                now = time.monotonic()
                line = raw.rstrip(b"\r\n")
                try:
                    obj = json.loads(line.decode("utf-8", "surrogateescape"))
                    if not isinstance(obj, dict):
                        raise ValueError
                except ValueError:
                    obj = {"ev": "_text", "text": line.decode("utf-8", "replace")}
                obj["_rx"] = now
                with self._cond:
                    obj["_n"] = len(self.events)
                    self.events.append(obj)
                    self._cond.notify_all()
            with self._cond:
                self._cond.notify_all()

        def read_stderr():
            for raw in self.proc.stderr:
                with self._cond:
                    self.stderr_lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

        self._threads = [threading.Thread(target=read_stdout, daemon=True),
                         threading.Thread(target=read_stderr, daemon=True)]
        for t in self._threads:
            t.start()
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send(self, line):
        """Writes one command line (str or bytes) to stdin."""
        data = line if isinstance(line, bytes) else line.encode()
        self.proc.stdin.write(data + b"\n")
        self.proc.stdin.flush()

    def stop(self, timeout=10.0, expect_code=0, command="quit"):
        """Asks the process to finish (command on stdin, then EOF), waits, and
        checks the exit code and stderr for sanitizer reports."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                if command:
                    self.send(command)
                self.proc.stdin.close()
            except (BrokenPipeError, ValueError, OSError):
                pass
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.returncode = self.proc.wait()
            self._join()
            raise AssertionError(f"{self.name} did not exit within {timeout}s after "
                                 f"'{command}' and EOF\n{self.describe()}")
        self._join()
        self.check_stderr()
        if expect_code is not None:
            assert self.returncode == expect_code, \
                f"{self.name} exited with {self.returncode}, expected {expect_code}\n{self.describe()}"
        return self.returncode

    def terminate(self, timeout=10.0, expect_code=0):
        """SIGTERM, then like stop()."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        return self.stop(timeout, expect_code, command=None)

    def kill(self):
        if self.alive():
            self.proc.kill()
        if self.proc is not None:
            self.returncode = self.proc.wait()
            self._join()

    def _join(self):
        for t in getattr(self, "_threads", []):
            t.join(2.0)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except Exception:
                pass

    def check_stderr(self):
        text = "\n".join(self.stderr_lines)
        for marker in SANITIZER_MARKERS:
            assert marker not in text, f"{self.name}: sanitizer report on stderr\n{self.describe()}"

    # -- events
    def mark(self):
        """Index of the next event; pass it as since= to only see later events."""
        with self._cond:
            return len(self.events)

    def _match(self, e, ev, pred):
        if ev is not None and e.get("ev") != ev:
            return False
        return pred is None or pred(e)

    def find(self, ev=None, pred=None, since=0):
        with self._cond:
            return [e for e in self.events[since:] if self._match(e, ev, pred)]

    def count(self, ev=None, pred=None, since=0):
        return len(self.find(ev, pred, since))

    def wait_for(self, ev=None, pred=None, timeout=5.0, since=0, count=1):
        """The count-th event named ev (and matching pred) from index since on.
        Fails with the event log and stderr if it does not come in time or the
        process exits first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [e for e in self.events[since:] if self._match(e, ev, pred)]
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                exited = self.proc.poll() is not None and not self._threads[0].is_alive()
                if left <= 0 or exited:
                    why = "exited" if exited else f"timed out after {timeout}s"
                    break
                self._cond.wait(min(left, 0.1))
        raise AssertionError(f"{self.name}: {why} waiting for {ev!r} #{count} (since {since})\n"
                             f"{self.describe()}")

    def describe(self, tail=60):
        with self._cond:
            events = self.events[-tail:]
            err = self.stderr_lines[-tail:]
        lines = [f"argv: {' '.join(self.argv)}", f"returncode: {self.proc.poll() if self.proc else None}",
                 f"last {len(events)} events:"]
        for e in events:
            shown = {k: v for k, v in e.items() if not k.startswith("_")}
            text = repr(shown)
            lines.append("  " + (text if len(text) < 400 else text[:400] + "..."))
        lines.append("stderr:")
        lines += ["  " + line for line in err]
        return "\n".join(lines)

    def failure_log(self):
        return [(f"{self.name} (pid {self.proc.pid if self.proc else '-'})", self.describe(200))]

    def rss_kb(self):
        """Resident set size from /proc/PID/status (VmRSS), in kB."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return None
