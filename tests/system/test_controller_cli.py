"""The simulator's command line as a user meets it: --check, bad arguments,
--help, clean exit on SIGINT/SIGTERM, overrides taking effect."""
import json
import signal
import subprocess

import pytest

from sim_harness import LOOSE_GUARDS, Phone, Sim, controller_config, is_full_state, require_sim, unique


def run(args, timeout=10):
    return subprocess.run([str(require_sim())] + args, capture_output=True, text=True, timeout=timeout)


def write(tmp_path, cfg, name="config.json"):
    path = tmp_path / name
    path.write_text(json.dumps(cfg) if not isinstance(cfg, str) else cfg)
    return str(path)


def test_check_accepts_the_original_board(tmp_path):
    r = run(["--config", write(tmp_path, controller_config()), "--check"])
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr


def test_check_prints_every_error_with_its_path(tmp_path):
    cfg = controller_config()
    cfg["mqtt"]["broker_url"] = "ftp://example.com"
    cfg["mqtt"]["client_id"] = ""
    cfg["relays"].append({"pin": 16})
    cfg["momentary"][0]["pin"] = 24
    cfg["contacts"][0]["debounce_ms"] = "fast"
    r = run(["--config", write(tmp_path, cfg), "--check"])
    assert r.returncode == 1
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    for path in ("mqtt.broker_url:", "mqtt.client_id:", "relays[2].pin:", "momentary[0].pin:",
                 "contacts[0].debounce_ms:"):
        assert any(line.startswith(path) for line in lines), (path, r.stderr)


@pytest.mark.parametrize("text", ["", "{", "[]", '{"mqtt":', "\xff\xfe", '{"a":' * 500 + "1" + "}" * 500],
                         ids=["empty", "open brace", "array", "cut", "not utf-8", "deep"])
def test_check_refuses_broken_files_cleanly(tmp_path, text):
    path = tmp_path / "c.json"
    path.write_bytes(text.encode("latin-1"))
    r = run(["--config", str(path), "--check"])
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert r.stderr.strip(), "an error message is expected"


@pytest.mark.parametrize("args", [["--bogus"], ["--config"], ["--keepalive", "abc"], ["--keepalive", "70000"],
                                  ["--backoff-first-ms", "-5"], ["--board", "nonsense"]],
                         ids=["unknown flag", "missing value", "not a number", "out of range", "negative",
                              "bad board address"])
def test_bad_arguments_exit_2_with_a_message(tmp_path, args):
    if args[0] != "--config":
        args = ["--config", write(tmp_path, controller_config())] + args
    r = run(args)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "mqtt-tiny-sim" in r.stderr


def test_missing_config_file_is_an_error(tmp_path):
    r = run(["--config", str(tmp_path / "nope.json"), "--check"])
    assert r.returncode in (1, 2) and "nope.json" in r.stderr


def test_help():
    r = run(["--help"])
    assert r.returncode == 0
    for flag in ("--config", "--broker", "--board", "--check", "--backoff-max-ms"):
        assert flag in r.stdout + r.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_while_connected_exits_0(tmp_path, broker, sig):
    sim = Sim(tmp_path, f"mqtt://127.0.0.1:{broker.port}", unique("mtc/cli"),
              config=controller_config(guards=LOOSE_GUARDS))
    sim.start()
    sim.board.close()
    sim.board = None
    sim.proc.send_signal(sig)
    rc = sim.proc.wait(10)
    sim.proc.stdout.close()
    sim._log.close()
    sim.proc = None
    assert rc == 0, sim.log_tail()


def test_signal_while_broker_unreachable_exits_0(tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    sim = Sim(tmp_path, f"mqtt://127.0.0.1:{dead}", unique("mtc/cli"), config=controller_config())
    sim.start(wait_connected=False)
    sim.board.wait_mqtt("connect_failed", 5)
    assert sim.stop() == 0


def test_command_line_overrides_the_config(tmp_path, broker):
    """--broker, --topic and --client-id win over the file (which points elsewhere)."""
    topic = unique("mtc/cli")
    phone = Phone(broker.port, topic)
    cfg = controller_config(guards=LOOSE_GUARDS)
    cfg["mqtt"]["broker_url"] = "mqtt://127.0.0.1:1"
    cfg["mqtt"]["topic"] = "somewhere/else"
    sim = Sim(tmp_path, f"mqtt://127.0.0.1:{broker.port}", topic, config=cfg, client_id="cli-override")
    try:
        sim.start()
        phone.wait_device(is_full_state, 5)
        assert "cli-override" in open(broker.log_path).read()
    finally:
        sim.stop()
        phone.close()


def test_check_refuses_a_public_ip_host_the_lookup_cannot_hold(tmp_path):
    """The config allows 159 bytes of URL; the lookup holds a 127-byte host:
    --check says so instead of passing what fails at run time."""
    cfg = controller_config()
    cfg["public_ip_url"] = "http://" + "a" * 140 + ".example/ip"
    r = run(["--config", write(tmp_path, cfg), "--check"])
    assert r.returncode == 1, r.stderr
    assert "public_ip_url: public IP URL: host longer than 127 bytes" in r.stderr, r.stderr
    cfg["public_ip_url"] = "http://" + "a" * 119 + ".example/ip"
    r = run(["--config", write(tmp_path, cfg), "--check"])
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("args,expect", [
    (["--topic", b"home/\xff\xfe".decode("utf-8", "surrogateescape")], "--topic: must be valid UTF-8"),
    (["--topic", "$SYS/x"], "--topic: must not start with $"),
    (["--password", "secret"], "--password: needs --user"),
], ids=["topic not utf-8", "topic starts with $", "password without user"])
def test_check_refuses_overrides_that_fail_at_run_time(tmp_path, args, expect):
    r = run(["--config", write(tmp_path, controller_config())] + args + ["--check"])
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert expect in r.stderr, r.stderr
