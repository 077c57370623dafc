"""Fixtures for the tests that boot the real firmware image on an emulated RP2040.

Images: $MTC_FW_DIR (default <repo>/build-target/fw): mqtt_tiny_emu.uf2 (no
CYW43 glue: its radio never finds a network) and mqtt_tiny.uf2 (the CYW43
image). Config UF2s: $MTC_BUILD_DIR/mqtt-tiny-config (default <repo>/build).
Boot ROM: $MTC_BOOTROM, else <repo>/../shared/third_party/rp2040-bootrom/bootrom-b1.bin.
Anything missing fails the test with a message saying what to build.
"""

import copy
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chip import REPO, Chip, env_path  # noqa: E402

FW_DIR = env_path("MTC_FW_DIR", REPO / "build-target" / "fw")
BUILD_DIR = env_path("MTC_BUILD_DIR", REPO / "build")
BOOTROM = env_path("MTC_BOOTROM", REPO.parent / "shared" / "third_party" / "rp2040-bootrom" / "bootrom-b1.bin")
EXAMPLE = REPO / "examples" / "config.example.json"

UF2_PAYLOAD_OFFSET = 32
CONFIG_HEADER = struct.Struct("<IIIIII")  # magic, version, json_len, ca_len, crc32, reserved
CONFIG_MAGIC = 0x4643544D


def _need_file(path, what, how):
    if not Path(path).is_file():
        pytest.fail(f"{what} missing: {path}\n{how}", pytrace=False)
    return Path(path)


@pytest.fixture(scope="session")
def runner_ready():
    if shutil.which("node") is None:
        pytest.fail("node is not installed (Node 20 runs emu/run.mjs): run scripts/deps.sh", pytrace=False)
    _need_file(
        REPO / "emu" / "node_modules" / "rp2040js" / "package.json",
        "rp2040js",
        "run scripts/emu-test.sh (it runs `npm ci` in emu/)",
    )
    _need_file(BOOTROM, "RP2040 boot ROM", "set MTC_BOOTROM or put shared/ beside the repository")
    os.environ.setdefault("MTC_BOOTROM", str(BOOTROM))
    return True


@pytest.fixture(scope="session")
def emu_image(runner_ready):
    return _need_file(
        FW_DIR / "mqtt_tiny_emu.uf2",
        "firmware image without the CYW43 glue",
        "build it with `make target` (or set MTC_FW_DIR)",
    )


@pytest.fixture(scope="session")
def cyw43_image(runner_ready):
    return _need_file(
        FW_DIR / "mqtt_tiny.uf2", "CYW43 firmware image", "build it with `make target` (or set MTC_FW_DIR)"
    )


@pytest.fixture(scope="session")
def config_tool():
    return _need_file(
        BUILD_DIR / "mqtt-tiny-config",
        "host tool mqtt-tiny-config",
        "build it with `make build` (or set MTC_BUILD_DIR)",
    )


def example_config(broker="mqtt://10.0.0.1:1883"):
    """The example board: relays GP16/17, momentary GP18/19 (active low), contacts GP0..3."""
    cfg = json.loads(EXAMPLE.read_text())
    cfg = copy.deepcopy(cfg)
    cfg["mqtt"]["broker_url"] = broker
    cfg["mqtt"]["ca_file"] = ""
    return cfg


@pytest.fixture
def make_config(tmp_path, config_tool):
    """make_config(cfg_dict, ca=None, name="config") -> path of a config UF2."""

    def make(cfg, ca=None, name="config"):
        src = tmp_path / f"{name}.json"
        src.write_text(json.dumps(cfg, indent=2))
        out = tmp_path / f"{name}.uf2"
        cmd = [str(config_tool), str(src), "-o", str(out)]
        if ca:
            cmd += ["--ca", str(ca)]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if res.returncode != 0 or not out.is_file():
            pytest.fail(
                f"mqtt-tiny-config failed ({res.returncode}): {' '.join(cmd)}\n{res.stdout}{res.stderr}",
                pytrace=False,
            )
        return out

    return make


def config_header(uf2_path):
    """(json_len, ca_len) from the config image at the start of a config UF2's first block."""
    data = Path(uf2_path).read_bytes()
    magic, _version, json_len, ca_len, _crc, _res = CONFIG_HEADER.unpack_from(data, UF2_PAYLOAD_OFFSET)
    assert magic == CONFIG_MAGIC, f"{uf2_path}: no config image at the start of its first block"
    return json_len, ca_len


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory):
    """A self-signed EC P-256 CA certificate (PEM) made with openssl."""
    d = tmp_path_factory.mktemp("ca")
    key, pem = d / "ca.key", d / "ca.pem"
    subprocess.run(
        ["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key)],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["openssl", "req", "-new", "-x509", "-key", str(key), "-out", str(pem), "-days", "3650",
         "-subj", "/CN=mqtt-tiny emulator test CA", "-sha256"],
        check=True,
        capture_output=True,
    )
    return pem


@pytest.fixture
def boot(tmp_path, runner_ready):
    """boot(*uf2) -> a Chip at simulated time 0, closed after the test."""
    chips = []

    def start(*uf2, max_wall_s=150):
        chip = Chip(uf2=uf2, max_wall_s=max_wall_s, stderr_path=tmp_path / f"runner{len(chips)}.stderr")
        chips.append(chip)
        return chip

    yield start
    for chip in chips:
        chip.close()
