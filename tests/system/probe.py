"""Driver for mqtt-tiny-probe: the MQTT client core on the Linux transport,
with a line protocol on stdin (pub/stats/quit) and JSON events on stdout."""

import os

from mqtt_env import BinaryProcess, REPO_ROOT, build_dir

PROBE_NAME = "mqtt-tiny-probe"

# Command-line options taking a value, by keyword (underscores become dashes).
_VALUE_OPTIONS = {"broker", "ca", "tls_hostname", "user", "password", "id", "keepalive",
                  "session", "sub_qos", "will_topic", "will_payload", "backoff_first_ms",
                  "backoff_base_ms", "backoff_max_ms", "backoff_refused_ms",
                  "connect_timeout_ms", "rx_buffer"}


def probe_path(directory=None):
    return os.path.join(directory or build_dir(), PROBE_NAME)


def probe_sources_exist():
    """True once the probe's sources are in the tree: from then on a missing
    binary is a failure, not a reason to skip."""
    return os.path.isdir(os.path.join(REPO_ROOT, "apps", "probe"))


def probe_args(broker, sub=(), **options):
    """Command line for the probe. broker: a URL or an object with .url;
    sub: topic filters; options: the other CLI options by keyword, e.g.
    keepalive=2, backoff_first_ms=50, session="persistent"."""
    url = broker if isinstance(broker, str) else broker.url
    args = ["--broker", url]
    for name, value in options.items():
        if value is None:
            continue
        if name not in _VALUE_OPTIONS:
            raise TypeError(f"unknown probe option {name}")
        args += ["--" + name.replace("_", "-"), str(value)]
    for f in ([sub] if isinstance(sub, str) else sub):
        args += ["--sub", f]
    return args


class Probe(BinaryProcess):
    def __init__(self, args, binary=None, env=None, name="probe"):
        super().__init__([binary or probe_path()] + list(args), env=env, name=name)

    def pub(self, qos, topic, payload):
        """Queues a publication; payload is str or bytes (no newline)."""
        data = payload if isinstance(payload, bytes) else payload.encode()
        assert b"\n" not in data
        self.send(f"pub {qos} {topic} ".encode() + data)

    def publish(self, qos, topic, payload, timeout=5.0):
        """pub, then waits for its "published" (or "publish_failed") event."""
        since = self.mark()
        self.pub(qos, topic, payload)
        return self.wait_for(pred=lambda e: e.get("ev") in ("published", "publish_failed"),
                             timeout=timeout, since=since)

    def stats(self, timeout=5.0):
        since = self.mark()
        self.send("stats")
        return self.wait_for("stats", timeout=timeout, since=since)

    def connected(self, timeout=5.0, since=0, count=1):
        return self.wait_for("connected", timeout=timeout, since=since, count=count)

    def message(self, topic, timeout=5.0, since=0, pred=None):
        return self.wait_for("message", lambda e: e.get("topic") == topic and
                             (pred is None or pred(e)), timeout=timeout, since=since)

    def t_ms(self, event):
        return event["t_ms"]
