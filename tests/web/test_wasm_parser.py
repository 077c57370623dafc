"""The firmware's configuration parser compiled to WebAssembly, as the setup
page runs it (web/src/parser.js under node): it accepts and refuses what
mqtt-tiny-config accepts and refuses, with the same messages, and its config
UF2 is byte for byte the tool's."""
import json

import pytest

from mqtt_env import CertAuthority
from web_env import ISRG_ROOT_X1, REPO, config_tool, page_parser, tool_errors


def board(broker="mqtt://192.168.1.10:1883", **extra):
    cfg = {
        "wifi": {"ssid": "home", "password": "wifi-password", "country": "DE"},
        "mqtt": {"broker_url": broker, "client_id": "pico-1", "topic": "home/pico"},
        "relays": [{"pin": 16}, {"pin": 17, "otp": ["JBSWY3DPEHPK3PXPJBSWY3DP"]}],
        "momentary": [{"pin": 18, "pulse_ms": 1500, "allow_backlog": False}],
        "contacts": [{"pin": 0}, {"pin": 1, "pull": "down", "normally_open": False}],
    }
    cfg.update(extra)
    return cfg


def write(tmp_path, cfg, name="config.json"):
    p = tmp_path / name
    p.write_text(json.dumps(cfg, indent=2) if not isinstance(cfg, str) else cfg)
    return p


def both_uf2(tmp_path, config, ca=None):
    ca_args = ["--ca", ca] if ca else []
    t = config_tool(config, "-o", tmp_path / "tool.uf2", *ca_args)
    assert t.returncode == 0, t.stderr
    p = page_parser(config, *([ca] if ca else []), "-o", tmp_path / "page.uf2")
    assert p.returncode == 0, p.stdout + p.stderr
    tool_bytes = (tmp_path / "tool.uf2").read_bytes()
    page_bytes = (tmp_path / "page.uf2").read_bytes()
    assert len(page_bytes) % 512 == 0 and len(page_bytes) > 0
    assert page_bytes == tool_bytes
    return page_bytes


def test_example_board_with_isrg_root_is_the_tools_uf2(tmp_path):
    data = both_uf2(tmp_path, REPO / "examples" / "config.example.json", ISRG_ROOT_X1)
    # the CA is in it: ISRG Root X1 is about 1.9 KB, more than the JSON
    assert b"-----BEGIN CERTIFICATE-----" in data
    assert len(data) // 512 >= 8


def test_plain_mqtt_leaves_the_ca_out_as_the_tool_does(tmp_path):
    data = both_uf2(tmp_path, write(tmp_path, board()), ISRG_ROOT_X1)
    assert b"BEGIN CERTIFICATE" not in data


def test_own_ca_made_at_test_time(tmp_path):
    ca = CertAuthority(tmp_path / "pki", "web").ca_cert
    both_uf2(tmp_path, write(tmp_path, board("mqtts://broker.example.net:8883")), ca)


def test_unicode_and_escapes_survive_byte_for_byte(tmp_path):
    cfg = board()
    cfg["wifi"]["ssid"] = "Café \u00e9t\u00e9 \"5G\""
    both_uf2(tmp_path, write(tmp_path, cfg))


BAD = {
    "wifi chip pin": board(contacts=[{"pin": 24}]),
    "pin twice": board(relays=[{"pin": 16}, {"pin": 16}]),
    "wildcard topic": dict(board(), mqtt={"broker_url": "mqtt://h", "client_id": "c",
                                          "topic": "home/#"}),
    "unknown key": board(relay=[{"pin": 5}]),
    "short otp secret": board(relays=[{"pin": 16, "otp": ["ABC"]}]),
    "many errors": board(relays=[{"pin": p} for p in (23, 24, 25, 29, 30, -1, 16, 16)],
                         contacts=[{"pin": 99}, {"pin": "GP77"}]),
    # fits CONFIG_MAX_TOKENS (448) but not the firmware's bound (FIRMWARE_CONFIG_TOKENS)
    "over the firmware's token bound": board(
        contacts=[{"pin": p, "pull": "up", "normally_open": True, "debounce_ms": 50}
                  for p in range(2, 16)]),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_refused_with_the_tools_messages(tmp_path, name):
    config = write(tmp_path, BAD[name])
    t = config_tool(config, "-o", tmp_path / "tool.uf2")
    p = page_parser(config, "-o", tmp_path / "page.uf2")
    assert t.returncode == 1 and p.returncode == 1
    assert not (tmp_path / "page.uf2").exists()
    page_lines = p.stdout.splitlines()
    assert page_lines, "no message"
    assert page_lines == tool_errors(t.stderr)


def test_not_json_gives_the_parsers_position(tmp_path):
    p = page_parser(write(tmp_path, '{"mqtt": {"broker_url": }'))
    assert p.returncode == 1
    assert p.stdout == "invalid JSON at line 1, column 25: expected a value\n"


def test_mqtts_without_ca_or_with_junk_ca_is_refused(tmp_path):
    config = write(tmp_path, board("mqtts://x.s1.eu.hivemq.cloud:8883"))
    p = page_parser(config)
    assert p.returncode == 1
    assert "mqtt.broker_url: mqtts:// needs a CA certificate" in p.stdout
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    p = page_parser(config, junk)
    assert p.returncode == 1 and "not a PEM certificate" in p.stdout
    assert config_tool(config, "-o", tmp_path / "t.uf2", "--ca", junk).returncode == 1


def test_accepts_what_the_firmware_accepts(tmp_path):
    p = page_parser(REPO / "examples" / "config.sim.json")
    assert p.returncode == 0 and p.stdout == ""
