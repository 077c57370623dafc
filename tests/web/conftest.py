import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "system"))

import json  # noqa: E402
import subprocess  # noqa: E402

import pytest  # noqa: E402

from browser import Browser  # noqa: E402
from mqtt_env import Mosquitto, free_port, wait_port  # noqa: E402
from web_env import REPO, test_out_dir, web_dir  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.when in ("call", "setup"):
        for value in getattr(item, "funcargs", {}).values():
            if hasattr(value, "failure_log"):
                for title, text in value.failure_log():
                    report.sections.append((title, text))


@pytest.fixture
def page_url():
    index = web_dir() / "index.html"
    assert index.is_file(), f"{index} not built (make web)"
    return index.resolve().as_uri()


@pytest.fixture
def downloads(tmp_path):
    d = tmp_path / "downloads"
    d.mkdir()
    return d


@pytest.fixture
def browser(downloads):
    b = Browser(downloads)
    yield b
    b.close()


@pytest.fixture(scope="session")
def shots():
    return test_out_dir()


class WsBroker:
    """A real Mosquitto on 127.0.0.1 with a WebSocket endpoint: its own
    websockets listener when this Mosquitto has one, else web/tools/ws_bridge.mjs
    in front of its TCP listener (Debian 12's Mosquitto 2.0.11 is built without
    websockets)."""

    def __init__(self, workdir):
        ws_port = free_port()
        self.bridge = None
        self.native = True
        self.mosquitto = Mosquitto(workdir / "native", name="ws-broker",
                                   extra_config=[f"listener {ws_port} 127.0.0.1",
                                                 "protocol websockets"])
        try:
            self.mosquitto.start()
            wait_port(ws_port, 5)
            self.ws_url = f"ws://127.0.0.1:{ws_port}"
        except Exception:
            self.native = False
            self.mosquitto.stop()
            self.mosquitto = Mosquitto(workdir / "bridged", name="broker").start()
            self.bridge = subprocess.Popen(
                ["node", str(REPO / "web" / "tools" / "ws_bridge.mjs"), "--listen", "127.0.0.1:0",
                 "--broker", f"127.0.0.1:{self.mosquitto.port}"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            line = self.bridge.stdout.readline()
            assert line, self.bridge.stderr.read()
            self.ws_url = json.loads(line)["ws"]
        self.port = self.mosquitto.port
        self.url = self.mosquitto.url

    def stop(self):
        if self.bridge:
            self.bridge.terminate()
            self.bridge.wait(timeout=5)
        self.mosquitto.stop()

    def failure_log(self):
        return self.mosquitto.failure_log()


@pytest.fixture
def ws_broker(tmp_path):
    b = WsBroker(tmp_path)
    yield b
    b.stop()
