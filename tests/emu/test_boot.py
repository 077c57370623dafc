"""The real firmware image booted on an emulated RP2040 (emu/run.mjs, rp2040js).

The example board: relays GP16/17 and momentary relays GP18/19, all active
low (off = high), contacts GP0..3 with pull-ups, broker mqtt://10.0.0.1:1883
(never reached: the emu image's radio finds no network). Times are simulated.
"""

import re
import struct
import zlib

from conftest import config_header, example_config

BOOT_RX = r"^mqtt-tiny .*: boot \(reboots since power-up: 0\)"
RELAY_PINS = (16, 17, 18, 19)
OFF_LEVEL = 1  # active low
ON_LEVEL = 0
BOOT_TIMEOUT_MS = 3000


def first_index(events, kind, **match):
    for i, ev in enumerate(events):
        if ev.get("ev") == kind and all(ev.get(k) == v for k, v in match.items()):
            return i
    return None


def assert_relays_never_on(chip):
    on = [e for e in chip.gpio() if e["pin"] in RELAY_PINS and e["out"] and e["level"] == ON_LEVEL]
    assert not on, f"relay pins driven to their on level: {on}\nlog:\n{chip.log_text()}"


def assert_no_reset_after_power_on(chip):
    resets = chip.resets()
    assert [r["cause"] for r in resets] == ["power_on"], f"unexpected resets: {resets}\nlog:\n{chip.log_text()}"


def test_relays_driven_off_before_anything_else(boot, emu_image, make_config):
    chip = boot(emu_image, make_config(example_config()))
    chip.wait_for_log(BOOT_RX, BOOT_TIMEOUT_MS)
    chip.run_until(chip.now_ms + 500)

    gpio = chip.gpio()
    first4 = gpio[:4]
    assert sorted(e["pin"] for e in first4) == list(RELAY_PINS), f"first GPIO events: {first4}"
    assert all(e["out"] and e["level"] == OFF_LEVEL for e in first4), (
        f"the relay pins must become outputs at their off level (high) first: {first4}"
    )
    safe_at = max(e["t_us"] for e in first4)
    print(f"\nrelay pins GP16..19 driven off (high) at {safe_at} us after power-up")

    events = chip.events
    safe_idx = max(events.index(e) for e in first4)
    first_log = first_index(events, "log")
    usb_on = first_index(events, "usb", state="enabled")
    assert first_log is not None and safe_idx < first_log, "a log line came before the relay pins were safe"
    assert usb_on is None or safe_idx < usb_on, "USB came up before the relay pins were safe"
    assert_relays_never_on(chip)


def test_boot_log_over_usb_and_nothing_on_uart0(boot, emu_image, make_config):
    chip = boot(emu_image, make_config(example_config()))
    ev, _ = chip.wait_for_log(BOOT_RX, BOOT_TIMEOUT_MS, src="usb")
    print(f"\nboot line over USB CDC at {ev['t_us']} us: {ev['line']}")
    chip.run_until(max(chip.now_ms, 2000))
    uart = chip.logs("uart0")
    assert not uart, f"GP0/GP1 are contacts in this config, yet UART0 printed: {uart[:5]}"


def test_config_loaded_from_flash(boot, emu_image, make_config):
    cfg_uf2 = make_config(example_config())
    json_len, ca_len = config_header(cfg_uf2)
    chip = boot(emu_image, cfg_uf2)
    _, m = chip.wait_for_log(
        r"^config: loaded from flash at 0x101f0000 \((\d+) bytes JSON, CA (\d+) bytes\)", BOOT_TIMEOUT_MS
    )
    assert int(m.group(1)) == json_len, f"JSON length {m.group(1)}, the image holds {json_len}"
    assert int(m.group(2)) == 0 == ca_len


def run_without_usable_config(chip):
    """No or a bad config: relays never on, the firmware keeps running, no reset."""
    first = chip.instr_rate(2000, 1000)  # also runs to 3 s
    chip.run_until(12000)
    later = chip.stats()
    assert later["instr"] > 0 and first > 0, "the core stopped executing"
    again = chip.instr_rate(12000, 1000)
    assert again > 0, "the core stopped executing"
    assert_relays_never_on(chip)
    assert_no_reset_after_power_on(chip)


def test_no_config_in_flash_keeps_relays_off(boot, emu_image):
    chip = boot(emu_image)
    chip.wait_for_log(r"^config: none in flash at 0x101f0000 \((.+)\); relays stay off", BOOT_TIMEOUT_MS)
    run_without_usable_config(chip)


def test_corrupt_config_is_refused(boot, emu_image, make_config, tmp_path):
    good = make_config(example_config())
    data = bytearray(good.read_bytes())
    data[32 + 24 + 10] ^= 0x20  # one byte of the JSON payload (UF2 header 32, config header 24)
    bad = tmp_path / "corrupt.uf2"
    bad.write_bytes(bytes(data))
    chip = boot(emu_image, bad)
    chip.wait_for_log(r"^config: .*(CRC|damaged)", BOOT_TIMEOUT_MS)
    assert not [e for e in chip.logs() if re.search(r"^config: loaded", e["line"])]
    run_without_usable_config(chip)


def rewrite_config_uf2(good, bad, edit):
    """Copies config UF2 good to bad with edit(json bytes) -> json bytes of the same length
    applied to the image's JSON and the image's CRC made valid again: an image the firmware
    reads without complaint whose content its parser must refuse."""
    data = bytearray(good.read_bytes())
    blocks = [data[i:i + 512] for i in range(0, len(data), 512)]
    flat = bytearray()
    for b in blocks:
        size = struct.unpack_from("<I", b, 16)[0]
        flat += b[32:32 + size]
    magic, version, json_len, ca_len, _crc, res = struct.unpack_from("<6I", flat, 0)
    json_bytes = bytes(flat[24:24 + json_len])
    new_json = edit(json_bytes)
    assert len(new_json) == json_len and new_json != json_bytes
    flat[24:24 + json_len] = new_json
    crc = zlib.crc32(bytes(flat[0:16]))
    crc = zlib.crc32(bytes(flat[24:24 + json_len + 1 + ca_len]), crc)
    struct.pack_into("<I", flat, 16, crc)
    at = 0
    for b in blocks:
        size = struct.unpack_from("<I", b, 16)[0]
        b[32:32 + size] = flat[at:at + size]
        at += size
    bad.write_bytes(b"".join(bytes(b) for b in blocks))
    return bad


def test_invalid_config_in_flash_is_refused_with_the_parsers_messages(boot, emu_image, make_config,
                                                                       tmp_path):
    good = make_config(example_config())
    bad = rewrite_config_uf2(good, tmp_path / "invalid.uf2",
                             lambda j: j.replace(b'"pin": 16', b'"pin": 24', 1))
    chip = boot(emu_image, bad)
    chip.wait_for_log(r"^config: invalid configuration in flash; relays stay off$", BOOT_TIMEOUT_MS)
    chip.wait_for_log(r"^config error: relays\[0\]\.pin: GP24 is wired to the WiFi chip", 100)
    assert not [e for e in chip.logs() if re.search(r"^config: loaded", e["line"])]
    run_without_usable_config(chip)
    # said again every 30 s, for a host that connects late
    chip.run_until(31000)
    said = [e for e in chip.logs() if re.search(r"^config error: relays\[0\]", e["line"])]
    assert len(said) == 2, f"expected the parser's message at boot and 30 s later: {said}"
    assert_relays_never_on(chip)


def test_tls_configuration_created(boot, emu_image, make_config, test_ca):
    cfg_uf2 = make_config(example_config("mqtts://10.0.0.1:8883"), ca=test_ca)
    _, ca_len = config_header(cfg_uf2)
    chip = boot(emu_image, cfg_uf2)
    _, m = chip.wait_for_log(r"^tls: CA loaded \((\d+) bytes\), TLS configuration ready", 5000)
    pem_len = len(test_ca.read_bytes())
    assert int(m.group(1)) in (pem_len, pem_len + 1, ca_len), f"CA length {m.group(1)}, PEM has {pem_len}"
    # The TLS configuration lives on lwIP's heap: it must be made after the radio
    # (which starts lwIP) is up, never before (lwIP's heap is not set up then).
    lines = [e["line"] for e in chip.logs()]
    radio = [i for i, line in enumerate(lines) if re.search(r"^wifi: radio .* started$", line)]
    tls = [i for i, line in enumerate(lines) if line.startswith("tls: ")]
    assert radio and tls and radio[0] < tls[0], f"TLS set up before the network stack:\n{chip.log_text()}"


def test_no_tls_configuration_without_network_stack(boot, cyw43_image, make_config, test_ca):
    """The board image on a chip without a CYW43: lwIP never starts, so no TLS
    configuration may be made (it would come from an uninitialised lwIP heap)."""
    chip = boot(cyw43_image, make_config(example_config("mqtts://10.0.0.1:8883"), ca=test_ca))
    chip.wait_for_log(r"^wifi: radio cyw43 did not start; retrying$", 5000)
    chip.run_until(12000)
    assert not [e for e in chip.logs() if e["line"].startswith("tls: ")], chip.log_text()


def test_contact_change_reaches_controller(boot, emu_image, make_config):
    chip = boot(emu_image, make_config(example_config()))
    chip.wait_for_log(BOOT_RX, BOOT_TIMEOUT_MS)
    chip.run_until(chip.now_ms + 1000)
    rx = r"^controller info: contact GP1 is now 1$"
    before = [e for e in chip.logs() if re.search(rx, e["line"])]
    assert not before, f"contact GP1 reported before it changed: {before}"
    mark = len(chip.events)
    chip.set_input(1, 0)  # contact closed: pulls the pulled-up pin low
    ev, _ = chip.wait_for_log(rx, 1000, since=mark)
    print(f"\ncontact GP1 closed at {chip.events[mark - 1]['t_us']} us, reported at {ev['t_us']} us: {ev['line']}")


def test_loop_sleeps_while_offline(boot, emu_image, make_config):
    chip = boot(emu_image, make_config(example_config()))
    chip.wait_for_log(BOOT_RX, BOOT_TIMEOUT_MS)
    rate = chip.instr_rate(5000, 5000)
    print(f"\nidle (offline) instructions per simulated second, 5 s..10 s after power-up: {rate:,.0f}")
    assert rate < 2_000_000, f"the loop spins while offline: {rate:,.0f} instructions per second"


def test_stalled_loop_is_rebooted_by_watchdog(boot, emu_image, make_config):
    chip = boot(emu_image, make_config(example_config()))
    chip.wait_for_log(BOOT_RX, BOOT_TIMEOUT_MS)
    chip.run_until(3000)
    st = chip.stall()
    stall_ms = st["t_us"] / 1000
    assert st["wd_enabled"], "the watchdog is not running when the loop stalls"
    reset = chip.wait_for(lambda e: e.get("ev") == "reset" and e["cause"] != "power_on", 9500, what="reset")
    reset_ms = reset["t_us"] / 1000
    print(
        f"\nstalled at {stall_ms:.0f} ms (last feed {st['wd_last_feed_us'] / 1000:.0f} ms, LOAD {st['wd_load']}), "
        f"reset ({reset['cause']}) at {reset_ms:.0f} ms: {reset_ms - stall_ms:.0f} ms after the stall"
    )
    assert reset["cause"] == "watchdog"
    # BOARD_WATCHDOG_MS = 8000: 8 s after the last feed, which the idle loop gives at least once a second
    assert 7000 <= reset_ms - stall_ms <= 9000, f"reset {reset_ms - stall_ms:.0f} ms after the stall"
    since_feed = reset["t_us"] / 1000 - st["wd_last_feed_us"] / 1000
    assert 7900 <= since_feed <= 8100, f"reset {since_feed:.0f} ms after the last feed, expected 8000"
    mark = chip.events.index(reset)
    chip.wait_for_log(r"reboots since power-up: 1, last by watchdog", BOOT_TIMEOUT_MS, since=mark)
    assert_relays_never_on(chip)


def test_cyw43_image_without_chip_keeps_running(boot, cyw43_image, make_config):
    chip = boot(cyw43_image, make_config(example_config()))
    chip.wait_for_log(r"^wifi: radio cyw43 did not start; retrying", 20000)
    chip.run_until(40000)
    logs = chip.logs()
    for lo in (0, 20000):
        window = [e for e in logs if lo * 1000 <= e["t_us"] < (lo + 20000) * 1000]
        assert window, f"no log output between {lo / 1000:.0f} s and {(lo + 20000) / 1000:.0f} s\n{chip.log_text()}"
    resets = [r["cause"] for r in chip.resets()]
    print(f"\nCYW43 image, no chip: {len(logs)} log lines in 40 s, resets: {resets}")
    assert_relays_never_on(chip)


def uf2_ranges(path):
    """[(address, size)] of every block of a UF2 file."""
    data = path.read_bytes()
    return [struct.unpack_from("<II", data, i + 12) for i in range(0, len(data), 512)]


def test_firmware_and_config_uf2_never_overlap(emu_image, cyw43_image, make_config):
    """Dragging a new firmware keeps the configuration and the other way round: the
    two kinds of UF2 write disjoint flash (firmware below 0x101F0000, the config in
    the last 64 KB)."""
    config_blocks = uf2_ranges(make_config(example_config()))
    assert config_blocks and all(0x101F0000 <= a and a + n <= 0x10200000 for a, n in config_blocks)
    for image in (emu_image, cyw43_image):
        blocks = uf2_ranges(image)
        assert blocks[0][0] == 0x10000000, f"{image.name} does not start at the flash base"
        end = max(a + n for a, n in blocks)
        assert end <= 0x101F0000, f"{image.name} reaches 0x{end:08x}, into the configuration region"


def test_config_survives_a_firmware_update(boot, emu_image, cyw43_image, make_config):
    """Configuration first, then a firmware image dragged over it (the CYW43 image,
    then the emulated-chip one): the configuration is still read from flash."""
    cfg = make_config(example_config())
    chip = boot(cfg, cyw43_image, emu_image)
    _, m = chip.wait_for_log(r"^config: loaded from flash at 0x101f0000 \((\d+) bytes JSON", BOOT_TIMEOUT_MS)
    json_len, _ = config_header(cfg)
    assert int(m.group(1)) == json_len
