"""pytest fixtures for the system tests: real Mosquitto brokers (plain, TLS,
password file), a paho-mqtt peer, the fault proxy, the fake broker and the
drivers of our binaries. Every test that fails gets the logs of the brokers,
proxies and processes it used appended to its report.

Fixtures (function scope unless marked):
  tls_ca, other_ca (session)   CertAuthority; tls_ca has a server certificate
                               for DNS:localhost, IP:127.0.0.1
  broker                       Mosquitto, anonymous, plain TCP, started
  tls_broker                   Mosquitto with a TLS listener (certificate of tls_ca)
  passwd_broker                Mosquitto with a password file; .user/.password
  make_broker(tls=, passwords=, extra_config=, start=True)  more brokers
  make_peer(broker, **kw)      connected paho Peer, closed after the test
  make_proxy(target)           FaultProxy to a broker (or a port)
  make_fake_broker(handler)    FakeBroker running handler(conn) per connection
  binary(name)                 path of one of our binaries in $MTC_BUILD_DIR
  probe_bin                    path of mqtt-tiny-probe
  start_probe(broker, sub=(), env=None, **options)  started Probe; at the end
                               of the test it must exit 0 with no sanitizer report
  start_process(argv, env=None, name=None)  any binary, same checks (JSON lines
                               on stdout are parsed, other lines kept as text)
"""

import glob
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fakebroker import FakeBroker  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402
from mqtt_env import REPO_ROOT, BinaryProcess, CertAuthority, Mosquitto, Peer, build_dir  # noqa: E402
from probe import Probe, probe_args  # noqa: E402

# Our binaries and the app directory whose presence means they must exist.
APP_DIRS = {"mqtt-tiny-probe": "probe", "mqtt-tiny-sim": "sim"}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.when in ("call", "setup", "teardown"):
        seen = set()
        for value in getattr(item, "funcargs", {}).values():
            if id(value) in seen or not hasattr(value, "failure_log"):
                continue
            seen.add(id(value))
            try:
                for title, text in value.failure_log():
                    report.sections.append((title, text))
            except Exception as e:  # a log we cannot read must not hide the failure
                report.sections.append(("failure log", repr(e)))


class _Registry:
    """What a factory fixture made, for teardown and failure logs."""

    def __init__(self):
        self.items = []

    def add(self, item):
        self.items.append(item)
        return item

    def failure_log(self):
        out = []
        for item in self.items:
            if hasattr(item, "failure_log"):
                out += item.failure_log()
        return out


# -- certificates -----------------------------------------------------------

@pytest.fixture(scope="session")
def tls_ca(tmp_path_factory):
    return CertAuthority(tmp_path_factory.mktemp("pki-good"), "good").issue_server()


@pytest.fixture(scope="session")
def other_ca(tmp_path_factory):
    return CertAuthority(tmp_path_factory.mktemp("pki-other"), "other").issue_server()


# -- brokers ----------------------------------------------------------------

@pytest.fixture
def make_broker(tmp_path):
    made = _Registry()

    def make(tls=None, passwords=None, extra_config=(), start=True, name=None):
        name = name or f"mosquitto{len(made.items)}"
        b = made.add(Mosquitto(tmp_path / name, tls=tls, passwords=passwords,
                               extra_config=extra_config, name=name))
        if start:
            b.start()
        return b
    make.failure_log = made.failure_log
    yield make
    for b in made.items:
        b.stop()


@pytest.fixture
def broker(make_broker):
    return make_broker(name="broker")


@pytest.fixture
def tls_broker(make_broker, tls_ca):
    return make_broker(tls=tls_ca, name="tls-broker")


@pytest.fixture
def passwd_broker(make_broker):
    b = make_broker(passwords={"device": "right-password", "panel": "panel-password"},
                    name="passwd-broker")
    b.user, b.password = "device", "right-password"
    return b


# -- peers, proxies, fake brokers ------------------------------------------

@pytest.fixture
def make_peer():
    made = _Registry()

    def make(broker, connect=True, **kw):
        p = made.add(Peer(broker, **kw))
        return p.connect() if connect else p
    make.failure_log = made.failure_log
    yield make
    for p in made.items:
        try:
            p.close()
        except Exception:
            pass


@pytest.fixture
def make_proxy():
    made = _Registry()

    def make(target, mode="pass"):
        port = target if isinstance(target, int) else target.port
        return made.add(FaultProxy(port, mode=mode))
    make.failure_log = made.failure_log
    yield make
    for p in made.items:
        p.close()


@pytest.fixture
def make_fake_broker():
    made = _Registry()

    def make(handler):
        return made.add(FakeBroker(handler))
    make.failure_log = made.failure_log
    yield make
    for b in made.items:
        b.close()


# -- our binaries -----------------------------------------------------------

def binary_path(name):
    """Path of one of our binaries. Skips while its sources are not in the
    tree yet; fails once they are and the binary was not built."""
    path = os.path.join(build_dir(), name)
    if os.path.exists(path):
        return path
    app = APP_DIRS.get(name)
    if app and not glob.glob(os.path.join(REPO_ROOT, "apps", app, "*.c")):
        pytest.skip(f"{name}: apps/{app} is not written yet")
    pytest.fail(f"{name} not found in {build_dir()} (set MTC_BUILD_DIR or build it)")


@pytest.fixture
def binary():
    return binary_path


@pytest.fixture
def probe_bin():
    return binary_path("mqtt-tiny-probe")


@pytest.fixture
def start_process():
    made = _Registry()

    def start(argv, env=None, name=None):
        return made.add(BinaryProcess(argv, env=env, name=name)).start()
    start.failure_log = made.failure_log
    yield start
    _stop_all(made.items)


@pytest.fixture
def start_probe(probe_bin):
    made = _Registry()

    def start(broker, sub=(), env=None, name=None, **options):
        p = Probe(probe_args(broker, sub, **options), binary=probe_bin, env=env,
                  name=name or f"probe{len(made.items)}")
        return made.add(p).start()
    start.failure_log = made.failure_log
    yield start
    _stop_all(made.items)


def _stop_all(processes):
    """Stops what the test left running; each must exit 0 without a
    sanitizer report (a test that stopped one itself has checked it)."""
    errors = []
    for p in processes:
        if p.returncode is not None:
            continue
        try:
            p.stop()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n\n".join(errors))
