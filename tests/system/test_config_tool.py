"""The configuration without a compiler, as a user meets it: mqtt-tiny-config
turning a JSON file (and its CA) into a config UF2 for the board's RPI-RP2
drive, refusing bad files with the firmware parser's messages, and reading a
config UF2 back; elf2uf2 turning the firmware ELF into its UF2 and checking a
UF2 against the ELF.

The UF2 files are decoded here in Python, independently of src/core/uf2.c,
and the configuration image is checked against the layout of
src/core/config_image.h (CRC-32 from zlib)."""
import json
import os
import shutil
import struct
import subprocess
import zlib

import pytest

from mqtt_env import build_dir

CONFIG_ADDR = 0x101F0000          # src/platform/pico/flash_layout.h
CONFIG_SIZE = 64 * 1024
FLASH_BASE = 0x10000000
FIRMWARE_MAX = 0x001F0000         # firmware must end below the configuration region
RP2040_FAMILY = 0xE48BFF56
IMAGE_MAGIC = 0x4643544D          # "MTCF"

# -- helpers ------------------------------------------------------------------


def tool(name):
    path = os.path.join(build_dir(), name)
    assert os.path.exists(path), f"{name} not built in {build_dir()} (set MTC_BUILD_DIR)"
    return path


def run(name, *args, cwd=None):
    r = subprocess.run([tool(name)] + [str(a) for a in args], capture_output=True, cwd=cwd,
                       timeout=60)
    for stream in (r.stdout, r.stderr):
        assert b"Sanitizer" not in stream and b"runtime error" not in stream, stream.decode()
    return r


def config_tool(*args, cwd=None):
    return run("mqtt-tiny-config", *args, cwd=cwd)


def board_config(broker="mqtt://127.0.0.1:1883", **mqtt):
    cfg = {
        "wifi": {"ssid": "home", "password": "wifi-password", "country": "DE"},
        "mqtt": dict({"broker_url": broker, "client_id": "pico-1", "topic": "home/pico"}, **mqtt),
        "relays": [{"pin": 16, "active_low": True}, {"pin": 17}],
        "momentary": [{"pin": 18, "pulse_ms": 2000}],
        "contacts": [{"pin": 2}, {"pin": 3}],
    }
    return cfg


def write_json(path, cfg):
    # Indented with a trailing newline: the image must carry these exact bytes.
    text = json.dumps(cfg, indent=2) + "\n"
    path.write_bytes(text.encode())
    return path


def decode_uf2(data):
    """Blocks of a UF2 file as dicts, every field checked against the spec."""
    assert len(data) % 512 == 0 and data, len(data)
    blocks = []
    for i in range(0, len(data), 512):
        b = data[i:i + 512]
        m0, m1, flags, addr, size, no, count, family = struct.unpack_from("<8I", b)
        (end,) = struct.unpack_from("<I", b, 508)
        assert (m0, m1, end) == (0x0A324655, 0x9E5D5157, 0x0AB16F30)
        assert flags == 0x2000                      # family id present, nothing else
        assert family == RP2040_FAMILY
        assert size == 256 and addr % 256 == 0      # what the RP2040 boot ROM takes
        assert no == i // 512 and count == len(data) // 512
        assert b[32 + size:508] == bytes(508 - 32 - size)
        blocks.append({"addr": addr, "payload": b[32:32 + size]})
    return blocks


def flash_of(blocks):
    """{address: byte-string} merged into one contiguous run (asserted)."""
    start = blocks[0]["addr"]
    out = bytearray()
    for b in blocks:
        assert b["addr"] == start + len(out), "blocks are not contiguous"
        out += b["payload"]
    return start, bytes(out)


def parse_image(region):
    magic, version, json_len, ca_len, crc, reserved = struct.unpack_from("<6I", region)
    assert magic == IMAGE_MAGIC and region[:4] == b"MTCF"
    assert version == 1 and reserved == 0
    payload = region[24:24 + json_len + 1 + ca_len]
    assert len(payload) == json_len + 1 + ca_len
    assert crc == zlib.crc32(region[:16] + payload)
    assert payload[json_len] == 0
    ca = payload[json_len + 1:]
    return payload[:json_len], ca, 24 + len(payload)


def make_ca(tmp_path):
    """A real PEM certificate made with openssl."""
    key, pem = tmp_path / "ca.key", tmp_path / "ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                    str(pem), "-days", "2", "-subj", "/CN=config tool test CA"],
                   check=True, capture_output=True)
    return pem


def listing(directory):
    return sorted(os.listdir(directory))


# -- mqtt-tiny-config: writing ------------------------------------------------


def test_valid_config_becomes_an_image_at_the_config_region(tmp_path):
    pem = make_ca(tmp_path)
    shutil.copy(pem, tmp_path / "broker-ca.pem")
    cfg = write_json(tmp_path / "config.json",
                     board_config("mqtts://broker.example:8883", ca_file="broker-ca.pem"))
    out = tmp_path / "config.uf2"
    # From another folder: mqtt.ca_file is relative to the config's folder.
    r = config_tool(cfg, "-o", out, cwd="/")
    assert r.returncode == 0, r.stderr.decode()
    assert b"is valid (2 relays, 1 momentary, 2 contacts" in r.stdout
    assert b"0x101F0000" in r.stdout

    blocks = decode_uf2(out.read_bytes())
    start, region = flash_of(blocks)
    assert start == CONFIG_ADDR
    json_bytes, ca, image_size = parse_image(region)
    assert json_bytes == cfg.read_bytes()
    assert ca == pem.read_bytes() + b"\0"
    # whole 256-byte pages, 0xFF after the image
    assert len(blocks) == (image_size + 255) // 256
    assert region[image_size:] == b"\xff" * (len(region) - image_size)
    assert listing(tmp_path) == ["broker-ca.pem", "ca.key", "ca.pem", "config.json", "config.uf2"]


def test_ca_option_wins_and_plain_mqtt_carries_no_ca(tmp_path):
    pem = make_ca(tmp_path)
    cfg = write_json(tmp_path / "tls.json",
                     board_config("mqtts://broker.example", ca_file="missing.pem"))
    r = config_tool(cfg, "--ca", pem, "-o", tmp_path / "tls.uf2")
    assert r.returncode == 0, r.stderr.decode()
    _, region = flash_of(decode_uf2((tmp_path / "tls.uf2").read_bytes()))
    assert parse_image(region)[1] == pem.read_bytes() + b"\0"

    plain = write_json(tmp_path / "plain.json", board_config())
    r = config_tool(plain, "-o", tmp_path / "plain.uf2")
    assert r.returncode == 0, r.stderr.decode()
    _, region = flash_of(decode_uf2((tmp_path / "plain.uf2").read_bytes()))
    json_bytes, ca, _ = parse_image(region)
    assert json_bytes == plain.read_bytes() and ca == b""


@pytest.mark.parametrize("edit, expected", [
    (lambda c: c["relays"][1].update(pin=16),
     [b"  relays[1].pin: GP16 is already used by relays[0]"]),
    (lambda c: c["contacts"][0].update(pin=24),
     [b"  contacts[0].pin: GP24 is wired to the WiFi chip"]),
    (lambda c: (c["relays"][1].update(pin=16), c["contacts"][0].update(pin=24)),
     [b"  relays[1].pin: GP16 is already used", b"  contacts[0].pin: GP24 is wired"]),
])
def test_invalid_config_prints_the_parser_errors_and_writes_nothing(tmp_path, edit, expected):
    cfg = board_config()
    edit(cfg)
    path = write_json(tmp_path / "bad.json", cfg)
    r = config_tool(path, "-o", tmp_path / "config.uf2")
    assert r.returncode == 1
    assert str(path).encode() + b": invalid configuration:" in r.stderr
    for line in expected:
        assert line in r.stderr, r.stderr.decode()
    assert listing(tmp_path) == ["bad.json"]   # no UF2, no temporary file


def test_bad_json_and_an_existing_uf2_left_alone(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"mqtt": {"broker_url": "mqtt://127.0.0.1",\n')
    out = tmp_path / "config.uf2"
    out.write_bytes(b"the previous file")
    r = config_tool(path, "-o", out)
    assert r.returncode == 1
    assert b"invalid configuration:" in r.stderr
    assert b"  : invalid JSON at line 2" in r.stderr, r.stderr.decode()
    assert out.read_bytes() == b"the previous file"
    assert listing(tmp_path) == ["broken.json", "config.uf2"]


def test_mqtts_needs_a_pem_ca(tmp_path):
    cfg = write_json(tmp_path / "c.json", board_config("mqtts://broker.example"))
    r = config_tool(cfg, "-o", tmp_path / "c.uf2")
    assert r.returncode == 1
    assert b"mqtt.broker_url is mqtts:// but no CA certificate is given" in r.stderr
    assert b"--ca FILE.pem" in r.stderr

    not_pem = tmp_path / "not.pem"
    not_pem.write_text("just text\n")
    r = config_tool(cfg, "--ca", not_pem, "-o", tmp_path / "c.uf2")
    assert r.returncode == 1
    assert b"not.pem is not a PEM certificate" in r.stderr

    r = config_tool(cfg, "--ca", tmp_path / "absent.pem", "-o", tmp_path / "c.uf2")
    assert r.returncode == 1
    assert b"cannot open" in r.stderr
    assert not (tmp_path / "c.uf2").exists()


def test_an_image_larger_than_the_region_is_refused(tmp_path):
    big = tmp_path / "big.pem"
    body = ("A" * 63 + "\n") * 1016            # 65024 bytes: under the 64 KB CA limit
    big.write_text("-----BEGIN CERTIFICATE-----\n" + body + "-----END CERTIFICATE-----\n")
    cfg = write_json(tmp_path / "c.json", board_config("mqtts://broker.example"))
    r = config_tool(cfg, "--ca", big, "-o", tmp_path / "c.uf2")
    assert r.returncode == 1
    assert b"more than the 65536-byte configuration region" in r.stderr, r.stderr.decode()
    assert not (tmp_path / "c.uf2").exists()


def test_check_only_validates(tmp_path):
    cfg = write_json(tmp_path / "c.json", board_config())
    r = config_tool("--check", cfg)
    assert r.returncode == 0, r.stderr.decode()
    assert b"is valid" in r.stdout
    bad = board_config()
    bad["contacts"][1]["pin"] = 23
    bad_path = write_json(tmp_path / "bad.json", bad)
    r = config_tool("--check", bad_path)
    assert r.returncode == 1
    assert b"  contacts[1].pin: GP23" in r.stderr
    assert listing(tmp_path) == ["bad.json", "c.json"]


@pytest.mark.parametrize("args", [
    [],
    ["c.json"],                              # no -o
    ["c.json", "-o"],
    ["c.json", "-o", "x.uf2", "--frobnicate"],
    ["c.json", "other.json", "-o", "x.uf2"],
    ["--check", "c.json", "-o", "x.uf2"],
    ["--dump", "x.uf2", "--ca", "c.pem"],
    ["--check", "--dump", "c.json"],
])
def test_usage_errors_exit_2(tmp_path, args):
    write_json(tmp_path / "c.json", board_config())
    r = config_tool(*args, cwd=tmp_path)
    assert r.returncode == 2
    assert b"usage: mqtt-tiny-config" in r.stderr
    assert listing(tmp_path) == ["c.json"]


# -- mqtt-tiny-config --dump --------------------------------------------------


def test_dump_round_trip(tmp_path):
    pem = make_ca(tmp_path)
    cfg = write_json(tmp_path / "c.json", board_config("mqtts://broker.example"))
    out = tmp_path / "c.uf2"
    assert config_tool(cfg, "--ca", pem, "-o", out).returncode == 0
    r = config_tool("--dump", out)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout == cfg.read_bytes()
    ca_len = len(pem.read_bytes()) + 1
    assert f"CA {ca_len} bytes".encode() in r.stderr
    assert b"CRC-32 verified" in r.stderr and b"0x101F0000" in r.stderr


def edit_block(data, index, offset, value):
    b = bytearray(data)
    b[index * 512 + offset] ^= value
    return bytes(b)


def test_dump_refuses_damaged_files(tmp_path):
    cfg = write_json(tmp_path / "c.json", board_config())
    out = tmp_path / "c.uf2"
    assert config_tool(cfg, "-o", out).returncode == 0
    good = out.read_bytes()
    n = len(good) // 512
    assert n >= 2
    cases = {
        "payload": (edit_block(good, 1, 32 + 5, 0x01), b"CRC mismatch"),
        "image magic": (edit_block(good, 0, 32, 0x01), b"bad magic"),
        "start magic": (edit_block(good, 0, 0, 0x01), b"block 0: bad start magic"),
        "end magic": (edit_block(good, n - 1, 508, 0x01), b"bad end magic"),
        "truncated": (good[:-512], b"truncated"),
        "partial block": (good[:-1], b"not a UF2 file"),
        "order": (good[512:1024] + good[:512] + good[1024:], b"block 0: block out of order"),
        "family": (edit_block(good, 0, 28, 0x01), b"wrong family id"),
    }
    for name, (data, message) in cases.items():
        path = tmp_path / f"{name}.uf2"
        path.write_bytes(data)
        r = config_tool("--dump", path)
        assert r.returncode == 1, name
        assert message in r.stderr, (name, r.stderr.decode())
        assert r.stdout == b"", name

    # blocks for another part of the flash (the firmware's)
    moved = bytearray(good)
    struct.pack_into("<I", moved, 12, FLASH_BASE)
    (tmp_path / "moved.uf2").write_bytes(bytes(moved))
    r = config_tool("--dump", tmp_path / "moved.uf2")
    assert r.returncode == 1 and b"outside the configuration region" in r.stderr

    # a UF2 with no image: erased region
    blank = bytearray(good[:512])
    blank[32:32 + 256] = b"\xff" * 256
    struct.pack_into("<I", blank, 24, 1)
    (tmp_path / "blank.uf2").write_bytes(bytes(blank))
    r = config_tool("--dump", tmp_path / "blank.uf2")
    assert r.returncode == 1 and b"no configuration image (erased flash)" in r.stderr


# -- elf2uf2 ------------------------------------------------------------------

TINY_C = r"""
const unsigned char table[3000] = { 1, 2, 3, 4, 5, 6, 7, 8, [2999] = 0x5a };
int counter = 0x12345678;     /* .data: runs from RAM, loaded from flash */
int zero;                     /* .bss: no bytes in the file */
void _start(void)
{
    for (;;)
        counter += table[counter & 1023] + zero;
}
"""

TINY_LD = """
MEMORY {
  FLASH (rx) : ORIGIN = 0x10000000, LENGTH = 2048k
  RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 256k
}
SECTIONS {
  .text : { *(.text*) *(.rodata*) } > FLASH
  .data : { *(.data*) } > RAM AT > FLASH
  .bss : { *(.bss*) *(COMMON) } > RAM
}
"""


@pytest.fixture(scope="module")
def tiny_elf(tmp_path_factory):
    """A real RP2040 ELF from the ARM toolchain (scripts/deps.sh installs it):
    code and constants in flash, .data in RAM loaded from flash, .bss."""
    d = tmp_path_factory.mktemp("elf")
    (d / "tiny.c").write_text(TINY_C)
    (d / "tiny.ld").write_text(TINY_LD)
    elf = d / "tiny.elf"
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m0plus", "-mthumb", "-O1", "-nostdlib",
                    "-T", str(d / "tiny.ld"), "-o", str(elf), str(d / "tiny.c")],
                   check=True, capture_output=True)
    binary = d / "tiny.bin"
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", str(elf), str(binary)], check=True)
    return elf, binary.read_bytes()


def test_elf2uf2_matches_objcopy(tmp_path, tiny_elf):
    elf, binary = tiny_elf
    out = tmp_path / "fw.uf2"
    r = run("elf2uf2", elf, out)
    assert r.returncode == 0, r.stderr.decode()
    start, flash = flash_of(decode_uf2(out.read_bytes()))
    assert start == FLASH_BASE
    # objcopy's flash bytes (code, constants, .data's initial values), then
    # 0x00 to the end of the last 256-byte page
    assert len(flash) == (len(binary) + 255) // 256 * 256
    assert flash[:len(binary)] == binary
    assert flash[len(binary):] == bytes(len(flash) - len(binary))
    assert struct.pack("<I", 0x12345678) in binary     # .data came along

    r = run("elf2uf2", "--verify", elf, out)
    assert r.returncode == 0, r.stderr.decode()
    blocks = len(out.read_bytes()) // 512
    assert f"verified {len(binary)} bytes in {blocks} blocks".encode() in r.stdout, r.stdout


def test_elf2uf2_verify_finds_damage(tmp_path, tiny_elf):
    elf, binary = tiny_elf
    out = tmp_path / "fw.uf2"
    assert run("elf2uf2", elf, out).returncode == 0
    good = out.read_bytes()

    flipped = edit_block(good, 2, 32 + 17, 0x40)
    (tmp_path / "flipped.uf2").write_bytes(flipped)
    r = run("elf2uf2", "--verify", elf, tmp_path / "flipped.uf2")
    assert r.returncode == 1
    addr = FLASH_BASE + 2 * 256 + 17
    want = f"first mismatch at 0x{addr:08x}: ELF 0x{binary[512 + 17]:02x}, " \
           f"UF2 0x{binary[512 + 17] ^ 0x40:02x}"
    assert want.encode() in r.stderr, r.stderr.decode()

    cases = {
        "swapped": (good[512:1024] + good[:512] + good[1024:], b"block 0: block out of order"),
        "truncated": (good[:-512], b"truncated"),
        "count": (edit_block(good, 1, 24, 0x08), b"block 1: block count differs"),
        "family": (edit_block(good, 0, 28, 0x01), b"block 0: wrong family id"),
        "flags": (edit_block(good, 0, 9, 0x10), b"block 0: unknown flags"),
        "size": (edit_block(good, 0, 16, 0x01), b"block 0: bad payload size"),
    }
    for name, (data, message) in cases.items():
        path = tmp_path / f"{name}.uf2"
        path.write_bytes(data)
        r = run("elf2uf2", "--verify", elf, path)
        assert r.returncode == 1, name
        assert message in r.stderr, (name, r.stderr.decode())


def make_elf(segments, machine=40, phoff=52, truncate=None):
    """ELF32 LE ARM executable with PT_LOAD segments (paddr, vaddr, data,
    memsz or None), file bytes after the program headers."""
    header = bytearray(52)
    header[:16] = b"\x7fELF\x01\x01\x01" + bytes(9)
    struct.pack_into("<HHIIIIIHHHHHH", header, 16, 2, machine, 1, FLASH_BASE, phoff, 0, 0x5000200,
                     52, 32, len(segments), 40, 0, 0)
    data_off = 52 + 32 * len(segments)
    phdrs, blob = bytearray(), bytearray()
    for paddr, vaddr, data, memsz in segments:
        phdrs += struct.pack("<8I", 1, data_off + len(blob), vaddr, paddr, len(data),
                             memsz if memsz is not None else len(data), 5, 4)
        blob += data
    elf = bytes(header) + bytes(phdrs) + bytes(blob)
    return elf[:truncate] if truncate is not None else elf


def test_elf2uf2_refuses_firmware_reaching_the_config_region(tmp_path):
    end = FLASH_BASE + FIRMWARE_MAX
    fits = make_elf([(FLASH_BASE, FLASH_BASE, b"\x11" * 256, None),
                     (end - 512, end - 512, b"\x22" * 512, None)])
    (tmp_path / "fits.elf").write_bytes(fits)
    r = run("elf2uf2", tmp_path / "fits.elf", tmp_path / "fits.uf2")
    assert r.returncode == 0, r.stderr.decode()
    blocks = decode_uf2((tmp_path / "fits.uf2").read_bytes())
    assert [b["addr"] for b in blocks] == [FLASH_BASE, end - 512, end - 256]
    assert run("elf2uf2", "--verify", tmp_path / "fits.elf", tmp_path / "fits.uf2").returncode == 0

    over = make_elf([(FLASH_BASE, FLASH_BASE, b"\x11" * 256, None),
                     (end - 512, end - 512, b"\x22" * 513, None)])
    (tmp_path / "over.elf").write_bytes(over)
    r = run("elf2uf2", tmp_path / "over.elf", tmp_path / "over.uf2")
    assert r.returncode == 1
    assert b"must end below the configuration region at 0x101f0000 (1 bytes too many)" \
        in r.stderr, r.stderr.decode()
    assert not (tmp_path / "over.uf2").exists()


def test_elf2uf2_segments_sharing_a_page_and_ram_segments(tmp_path):
    text = bytes(range(256)) * 2 + b"\x99" * 10          # 522 bytes
    data = b"\xab" * 20                                 # .data right after it, same page
    elf = make_elf([(FLASH_BASE, FLASH_BASE, text, None),
                    (FLASH_BASE + len(text), 0x20000000, data, None),
                    (0x20001000, 0x20001000, b"", 64),        # .bss: nothing to load
                    (0x20002000, 0x20002000, b"\x01" * 8, None)])  # RAM-only: left out
    (tmp_path / "a.elf").write_bytes(elf)
    r = run("elf2uf2", tmp_path / "a.elf", tmp_path / "a.uf2")
    assert r.returncode == 0, r.stderr.decode()
    assert b"segment 3 loads at 0x20002000, not in flash: left out" in r.stderr
    start, flash = flash_of(decode_uf2((tmp_path / "a.uf2").read_bytes()))
    assert start == FLASH_BASE and len(flash) == 768
    assert flash == text + data + bytes(768 - len(text) - len(data))
    r = run("elf2uf2", "--verify", tmp_path / "a.elf", tmp_path / "a.uf2")
    assert r.returncode == 0 and f"verified {len(text) + len(data)} bytes".encode() in r.stdout

    overlap = make_elf([(FLASH_BASE, FLASH_BASE, text, None),
                        (FLASH_BASE + 500, FLASH_BASE + 500, data, None)])
    (tmp_path / "overlap.elf").write_bytes(overlap)
    r = run("elf2uf2", tmp_path / "overlap.elf", tmp_path / "overlap.uf2")
    assert r.returncode == 1 and b"segments 0 and 1 overlap at 0x100001f4" in r.stderr


def test_elf2uf2_hostile_elf_files(tmp_path):
    good = make_elf([(FLASH_BASE, FLASH_BASE, b"\x11" * 300, None)])
    bad_offset = bytearray(good)
    struct.pack_into("<I", bad_offset, 52 + 4, 0xFFFFFF00)     # p_offset near 4 GB
    huge_phnum = bytearray(good)
    struct.pack_into("<H", huge_phnum, 44, 0xFFFF)
    cases = {
        "empty": (b"", b"not an ELF file"),
        "text": (b"hello, this is not an ELF file at all, really not one" * 2, b"not an ELF"),
        "64-bit": (b"\x7fELF\x02" + good[5:], b"not a 32-bit little-endian ELF"),
        "x86": (make_elf([(FLASH_BASE, FLASH_BASE, b"\x11", None)], machine=3),
                b"not an ARM executable"),
        "header only": (good[:60], b"program headers missing or outside the file"),
        "phoff": (make_elf([(FLASH_BASE, FLASH_BASE, b"\x11", None)], phoff=0xFFFFFFF0),
                  b"program headers missing or outside the file"),
        "phnum": (bytes(huge_phnum), b"program headers missing or outside the file"),
        "segment cut": (good[:-1], b"segment 0 (offset 0x54, 300 bytes) runs past the end"),
        "segment offset": (bytes(bad_offset), b"runs past the end of the file"),
        "nothing in flash": (make_elf([(0x20000000, 0x20000000, b"\x11", None)]),
                             b"no loadable bytes in flash"),
        "past flash": (make_elf([(FLASH_BASE + 0x1FFFF0, FLASH_BASE, b"\x11" * 32, None)]),
                       b"must end below the configuration region"),
    }
    for name, (data, message) in cases.items():
        path = tmp_path / "in.elf"
        path.write_bytes(data)
        r = run("elf2uf2", path, tmp_path / "out.uf2")
        assert r.returncode == 1, name
        assert message in r.stderr, (name, r.stderr.decode())
        assert not (tmp_path / "out.uf2").exists(), name
    r = run("elf2uf2", tmp_path / "in.elf")
    assert r.returncode == 2 and b"usage: elf2uf2" in r.stderr
