"""emu/run.mjs refuses images it cannot load faithfully, with a clear error (exit 2)."""

import json
import struct
import subprocess

import pytest

from chip import RUNNER

MAGIC0, MAGIC1, MAGIC_END = 0x0A324655, 0x9E5D5157, 0x0AB16F30
FAMILY_ID_PRESENT = 0x2000
RP2040 = 0xE48BFF56


def block(addr, payload=b"\x00" * 256, n=0, total=1, flags=FAMILY_ID_PRESENT, family=RP2040, end=MAGIC_END):
    head = struct.pack("<8I", MAGIC0, MAGIC1, flags, addr, len(payload), n, total, family)
    data = payload.ljust(476, b"\x00")
    return head + data + struct.pack("<I", end)


def run(tmp_path, content, *extra):
    f = tmp_path / "x.uf2"
    f.write_bytes(content)
    res = subprocess.run(
        ["node", str(RUNNER), str(f), "--until-ms", "1", *extra], capture_output=True, text=True, timeout=60
    )
    return res


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not a UF2 file"),
        (block(0x10000000)[:500], "not a UF2 file"),
        (block(0x10000000, end=0), "bad UF2 magic"),
        (block(0x10000000, family=0xE48BFF57), "expected RP2040 family 0xe48bff56"),
        (block(0x10000000, flags=0), "expected RP2040 family"),
        (block(0x20000000), "outside flash"),
        (block(0x101FFF80), "outside flash"),
        (block(0x10000000, n=1, total=1), "inconsistent"),
        (block(0x10000000, total=2), "says it has 2"),
        (block(0x10000000, payload=b""), "payload size 0"),
    ],
)
def test_bad_uf2_is_refused(tmp_path, runner_ready, content, message):
    res = run(tmp_path, content)
    assert res.returncode == 2, res.stdout + res.stderr
    assert message in res.stderr, res.stderr
    events = [json.loads(line) for line in res.stdout.splitlines()]
    assert [e["ev"] for e in events] == ["error"], events


def test_missing_file_and_bad_load_bin(tmp_path, runner_ready):
    res = subprocess.run(["node", str(RUNNER), str(tmp_path / "nope.uf2")], capture_output=True, text=True)
    assert res.returncode == 2 and "cannot read" in res.stderr
    big = tmp_path / "big.bin"
    big.write_bytes(b"\x00" * 4096)
    res = subprocess.run(
        ["node", str(RUNNER), "--load-bin", "0x101ff800", str(big)], capture_output=True, text=True
    )
    assert res.returncode == 2 and "do not fit flash" in res.stderr


def test_good_uf2_runs(tmp_path, runner_ready):
    # Two blocks of zeros (each 0x0000 halfword runs as a no-op shift): the runner
    # loads them and runs the requested simulated millisecond.
    content = block(0x10000000, n=0, total=2) + block(0x10000100, n=1, total=2)
    res = run(tmp_path, content)
    assert res.returncode == 0, res.stderr
    events = [json.loads(line) for line in res.stdout.splitlines()]
    assert events[0]["ev"] == "reset" and events[0]["cause"] == "power_on"
    assert events[-1]["ev"] == "exit" and events[-1]["code"] == 0
    assert any(e["ev"] == "paused" and e["t_us"] == 1000 for e in events)
