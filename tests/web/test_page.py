"""The setup page in headless Chromium (Debian's), as a user meets it: fill
the form, get the firmware parser's verdict, download config.uf2 (byte for
byte what mqtt-tiny-config writes), be refused a bad pin with the parser's
message, and drive the simulator through the live panel over a real
Mosquitto. Screenshots at phone and desktop widths go to build/web-test/."""
import base64
import hashlib
import hmac
import json
import struct
import time

from mqtt_env import CertAuthority, wait_until
from sim_harness import Sim, unique
from browser import png_size
from web_env import ISRG_ROOT_X1, config_tool, tool_errors

READY = "document.body.dataset.ready === '1'"


def open_page(browser, url, width=1280):
    browser.do("viewport", width=width, height=900)
    browser.do("goto", url=url)
    browser.wait(READY)


def wait_download(downloads, name, timeout=10):
    path = downloads / name
    wait_until(lambda: path.exists() and path.stat().st_size > 0 and
               not (downloads / (name + ".crdownload")).exists(), timeout, what=f"download {name}")
    return path


def uf2_payload(data):
    """The flash bytes a UF2 file carries (256 bytes a block, in order)."""
    return b"".join(data[i + 32:i + 32 + 256] for i in range(0, len(data), 512))


def fill_hivemq_board(browser):
    browser.type("#wifi-ssid", "home-net")
    browser.type("#wifi-password", "correct horse battery")
    browser.type("#wifi-country", "DE")
    browser.do("select", sel="#preset", value="hivemq")
    browser.type("#broker-url", "mqtts://abc123.s1.eu.hivemq.cloud:8883")
    browser.type("#mqtt-username", "pico")
    browser.type("#mqtt-password", "broker-secret")
    browser.type("#client-id", "garage-pico")
    browser.type("#topic", "home/garage")


def valid(browser):
    browser.wait("document.getElementById('status').textContent.startsWith('Valid')")
    return browser.text("#status")


def test_form_to_config_uf2_equals_the_host_tools(browser, page_url, downloads, tmp_path, shots):
    open_page(browser, page_url)
    fill_hivemq_board(browser)
    browser.do("click", sel="#add-relay")                      # a third relay, GP20
    browser.do("select", sel="#contacts-3-pin", value="22")    # contact GP3 -> GP22
    browser.do("click", sel="#relays-0-add-otp")               # a one-time-code secret + its QR
    browser.wait("document.getElementById('qr-dialog').open && "
                 "document.querySelector('#qr-image svg') !== null")
    qr_label = browser.text("#qr-label")
    browser.do("click", sel="#qr-dialog button")
    status = valid(browser)
    assert "3 relays, 2 momentary, 4 contacts" in status
    assert browser.errors() == []

    browser.do("click", sel="#export-json")
    browser.do("click", sel="#download-uf2")
    config = wait_download(downloads, "config.json")
    page_uf2 = wait_download(downloads, "config.uf2")
    cfg = json.loads(config.read_text())
    assert [r["pin"] for r in cfg["relays"]] == [16, 17, 20]
    assert [c["pin"] for c in cfg["contacts"]] == [0, 1, 2, 22]
    secret = cfg["relays"][0]["otp"][0]
    assert len(secret) == 32 and secret in qr_label
    assert cfg["mqtt"]["broker_url"] == "mqtts://abc123.s1.eu.hivemq.cloud:8883"
    assert config.read_text() == browser.eval("document.getElementById('json').value")

    t = config_tool(config, "-o", tmp_path / "tool.uf2", "--ca", ISRG_ROOT_X1)
    assert t.returncode == 0, t.stderr
    assert page_uf2.read_bytes() == (tmp_path / "tool.uf2").read_bytes()
    assert open(ISRG_ROOT_X1, "rb").read() in uf2_payload(page_uf2.read_bytes())

    # the IoT MQTT Panel settings follow the board
    iot = browser.text("#iot-settings")
    assert '{"GP20": <payload>}' in iot and "$.GP22" in iot and "abc123.s1.eu.hivemq.cloud" in iot
    assert "8883" in iot

    for width in (390, 1280):
        path = shots / f"setup-{width}.png"
        browser.do("viewport", width=width, height=900)
        browser.do("screenshot", path=str(path), full_page=True)
        w, h = png_size(path)
        assert w == width and h > 900 and path.stat().st_size > 20000


def test_uploaded_ca_is_embedded_as_the_tool_embeds_it(browser, page_url, downloads, tmp_path):
    ca = CertAuthority(tmp_path / "pki", "page").ca_cert
    open_page(browser, page_url)
    browser.do("select", sel="#preset", value="mosquitto")
    browser.type("#broker-url", "mqtts://broker.lan:8883")
    browser.do("click", sel="#ca-upload")
    status = browser.wait("document.getElementById('status').textContent.startsWith('Not valid') && "
                          "document.getElementById('status').textContent")
    assert browser.errors() == ["mqtt.broker_url: mqtts:// needs a CA certificate "
                                "(HiveMQ Cloud: ISRG Root X1)"], status
    assert browser.eval("document.getElementById('download-uf2').disabled") is True
    browser.do("upload", sel="#ca-file", path=str(ca))
    valid(browser)
    browser.do("click", sel="#export-json")
    browser.do("click", sel="#download-uf2")
    config = wait_download(downloads, "config.json")
    page_uf2 = wait_download(downloads, "config.uf2")
    t = config_tool(config, "-o", tmp_path / "tool.uf2", "--ca", ca)
    assert t.returncode == 0, t.stderr
    assert page_uf2.read_bytes() == (tmp_path / "tool.uf2").read_bytes()
    assert open(ca, "rb").read() in uf2_payload(page_uf2.read_bytes())


def test_power_on_interlock_and_newer_keys_make_the_tools_uf2(browser, page_url, downloads, tmp_path):
    open_page(browser, page_url)
    fill_hivemq_board(browser)
    browser.do("select", sel="#relays-0-power_on", value="on")
    browser.do("select", sel="#relays-0-interlock", value="1")
    browser.do("select", sel="#relays-1-interlock", value="1")
    valid(browser)
    # both relays of group 1 on at power-on: the parser refuses it live, no download
    browser.do("select", sel="#relays-1-power_on", value="on")
    browser.wait("document.querySelectorAll('#errors li').length > 0")
    assert browser.errors() == ['relays[1]: power_on "on" with relays[0] in interlock group 1: '
                                'at most one relay of a group may start on']
    assert browser.eval("document.getElementById('download-uf2').disabled") is True
    browser.do("select", sel="#relays-1-power_on", value="off")
    # the other newer keys, each through its field
    browser.do("click", sel="#guards-details summary")
    browser.type("#interlock-gap", "250")
    browser.do("click", sel="#guard-remote_reset")
    browser.do("click", sel="#notify-GP0")
    browser.do("click", sel="#notify-GP18")
    browser.do("click", sel="#ha-discovery")
    browser.type("#ha-prefix", "ha/test")
    browser.do("select", sel="#contacts-0-device_class", value="garage_door")
    browser.do("click", sel="#status-off")
    valid(browser)
    assert browser.errors() == []

    browser.do("click", sel="#export-json")
    browser.do("click", sel="#download-uf2")
    config = wait_download(downloads, "config.json")
    page_uf2 = wait_download(downloads, "config.uf2")
    cfg = json.loads(config.read_text())
    assert cfg["relays"] == [{"pin": 16, "power_on": "on", "interlock": 1}, {"pin": 17, "interlock": 1}]
    assert cfg["interlock_gap_ms"] == 250 and cfg["guards"] == {"remote_reset": True}
    assert cfg["notify"] == [0, 18]
    assert cfg["homeassistant"] == {"discovery": True, "discovery_prefix": "ha/test"}
    assert cfg["contacts"][0] == {"pin": 0, "device_class": "garage_door"}
    assert cfg["mqtt"]["status_topic"] == ""
    t = config_tool(config, "-o", tmp_path / "tool.uf2", "--ca", ISRG_ROOT_X1)
    assert t.returncode == 0, t.stderr
    assert page_uf2.read_bytes() == (tmp_path / "tool.uf2").read_bytes()

    # a JSON typed into the editor sets the fields; a class the firmware does not know stays shown
    cfg["relays"][1]["interlock"] = 2
    cfg["contacts"][1]["device_class"] = "doorbell"
    browser.do("click", sel="#json-box summary")
    browser.eval("(() => { const t = document.getElementById('json'); t.value = %s; "
                 "t.dispatchEvent(new Event('input')); })()" % json.dumps(json.dumps(cfg)))
    browser.wait("document.querySelectorAll('#errors li').length > 0")
    assert browser.errors() == ["contacts[1].device_class: must be a device class such as door, garage_door, "
                                "window, motion (docs/config.md)"]
    assert browser.eval("['relays-0-power_on', 'relays-1-interlock', 'contacts-0-device_class', "
                        "'contacts-1-device_class', 'interlock-gap', 'ha-prefix']"
                        ".map(id => document.getElementById(id).value)") == [
        "on", "2", "garage_door", "other", "250", "ha/test"]
    assert browser.eval("['notify-GP0', 'notify-GP16', 'status-off', 'ha-discovery', 'guard-remote_reset']"
                        ".map(id => document.getElementById(id).checked)") == [True, False, True, True, True]


def test_bad_pins_are_refused_with_the_parsers_messages(browser, page_url, tmp_path):
    open_page(browser, page_url)
    fill_hivemq_board(browser)
    valid(browser)
    # the picker offers the WiFi chip's pins only as disabled entries
    disabled = browser.eval("[...document.querySelectorAll('#relays-0-pin option')]"
                            ".filter(o => o.disabled).map(o => o.value)")
    assert disabled == ["23", "24", "25", "29"]
    # a pin chosen twice: the parser's message, no download
    browser.do("select", sel="#relays-1-pin", value="16")
    browser.wait("document.querySelectorAll('#errors li').length > 0")
    page_errors = browser.errors()
    config = tmp_path / "twice.json"
    config.write_text(browser.eval("document.getElementById('json').value"))
    t = config_tool(config, "-o", tmp_path / "t.uf2", "--ca", ISRG_ROOT_X1)
    assert t.returncode == 1
    assert page_errors == tool_errors(t.stderr) == ["relays[1].pin: GP16 is already used by relays[0]"]
    assert browser.eval("document.getElementById('download-uf2').disabled") is True
    # a WiFi-chip pin typed into the JSON editor
    cfg = json.loads(config.read_text())
    cfg["relays"][1]["pin"] = 17
    cfg["contacts"][0]["pin"] = "GP24"
    browser.do("click", sel="#json-box summary")
    browser.eval("(() => { const t = document.getElementById('json'); t.value = %s; "
                 "t.dispatchEvent(new Event('input')); })()" % json.dumps(json.dumps(cfg)))
    browser.wait("document.querySelectorAll('#errors li').length > 0")
    assert browser.errors() == ["contacts[0].pin: GP24 is wired to the WiFi chip on a Pico W "
                                "(usable: GP0-GP22, GP26-GP28)"]
    assert browser.eval("document.getElementById('contacts-0-pin').value") == "24"
    # not JSON at all: the parser's position
    browser.eval("(() => { const t = document.getElementById('json'); t.value = '{\"mqtt\": '; "
                 "t.dispatchEvent(new Event('input')); })()")
    browser.wait("document.querySelectorAll('#errors li').length > 0")
    assert browser.errors()[0].startswith("invalid JSON at line 1, column 10")


def totp(secret, at=None):
    key = base64.b32decode(secret)
    counter = int((time.time() if at is None else at) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 15
    value = (struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1000000
    return f"{value:06d}"


OTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_live_panel_drives_the_simulator(browser, page_url, ws_broker, tmp_path, shots):
    topic = unique("web/panel")
    cfg = {
        "mqtt": {"broker_url": ws_broker.url, "client_id": "sim", "topic": topic},
        "relays": [{"pin": 16}, {"pin": 17, "otp": [OTP_SECRET]}],
        "momentary": [{"pin": 18, "pulse_ms": 500}],
        "contacts": [{"pin": 0}, {"pin": 1}],
    }
    sim = Sim(tmp_path / "sim", ws_broker.url, topic, config=cfg).start()
    try:
        board = sim.board
        open_page(browser, page_url + f"#ws={ws_broker.ws_url}&broker={ws_broker.url}"
                  f"&topic={topic}&relays=16,17&momentary=18&contacts=0,1")
        # the page's form took the board from the link; the relay with a secret is
        # added the way a user would: the JSON editor
        browser.eval("(() => { const t = document.getElementById('json'); t.value = %s; "
                     "t.dispatchEvent(new Event('input')); })()" % json.dumps(json.dumps(cfg)))
        browser.do("click", sel="#connect")
        browser.wait("document.getElementById('conn').textContent.startsWith('connected')")
        # the refresh sent on connect brings every pin's state
        browser.wait("document.querySelector('#live-GP16 .state').textContent === 'off' && "
                     "document.querySelector('#live-GP0 .state').textContent.startsWith('open')")

        mark = board.events.mark()
        browser.do("click", sel="#switch-GP16")
        board.wait_output(16, True, timeout=5, start=mark)
        assert board.pins()[16]["on"] is True
        browser.wait("document.querySelector('#live-GP16 .state').textContent === 'on'")

        # a second change within the cooldown: the board's error reaches the page
        browser.do("click", sel="#switch-GP16")
        browser.wait("document.getElementById('device-log').textContent.includes("
                     "'GP16 skipped: changed moments ago (cooldown)')")
        assert board.pins()[16]["on"] is True

        # a contact the board socket closes
        board.contact(0, closed=True)
        browser.wait("document.querySelector('#live-GP0 .state').textContent === 'closed (1)'")

        # the protected relay: refused without a code, switched with one
        browser.do("click", sel="#switch-GP17")
        browser.wait("document.querySelector('#device-log .error') !== null && "
                     "/GP17|one-time|MFA|code/.test(document.querySelector('#device-log .error').textContent)")
        assert board.pins()[17]["on"] is False
        mark = board.events.mark()
        browser.type("#mfa", totp(OTP_SECRET))
        browser.do("click", sel="#switch-GP17")
        board.wait_output(17, True, timeout=5, start=mark)
        browser.wait("document.querySelector('#live-GP17 .state').textContent === 'on'")

        # the momentary relay pulses and comes back
        mark = board.events.mark()
        browser.do("click", sel="#press-GP18")
        board.wait_output(18, True, timeout=5, start=mark)
        board.wait_output(18, False, timeout=5, start=mark)

        browser.do("click", sel="button.cmd[data-cmd=stats]")
        browser.wait("document.getElementById('stats').textContent.includes('UPTIME_S')")

        for width in (390, 1280):
            path = shots / f"panel-{width}.png"
            browser.do("viewport", width=width, height=900)
            browser.eval("document.getElementById('panel').scrollIntoView()")
            browser.do("screenshot", path=str(path), full_page=True)
            w, h = png_size(path)
            assert w == width and h > 900 and path.stat().st_size > 20000
        # one small picture of the connected page for the README (docs/web-setup.jpg)
        browser.do("viewport", width=1280, height=1000)
        browser.eval("window.scrollTo(0, document.getElementById('check').offsetTop - 10)")
        view = shots / "panel-1280-view.jpg"
        browser.do("screenshot", path=str(view))
        assert view.read_bytes()[:3] == b"\xff\xd8\xff" and view.stat().st_size > 20000
    finally:
        sim.stop()
