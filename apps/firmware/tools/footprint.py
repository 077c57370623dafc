#!/usr/bin/env python3
"""Flash and static RAM of our own code in the linked RP2040 image.

  footprint.py MAP --root REPO [--max-flash BYTES] [--max-ram BYTES] [--markdown]

Reads the GNU ld map file after garbage collection (only what was linked
counts) and adds up, per object file of ours (src/core, src/platform/pico,
apps/firmware and the generated config), its input sections:
  .text* .rodata*          -> flash
  .data* .time_critical*   -> flash and RAM (copied at boot)
  .bss* COMMON             -> RAM
Exits 1 when a limit is exceeded.
"""
import argparse
import re
import sys

OURS = ("src/core/", "src/platform/pico/", "apps/firmware/")
GENERATED = "/generated/firmware_config"
# The parsed configuration (a core struct whose size the core's CONFIG_MAX_*
# limits decide) is shown on its own line; it counts in the checked RAM. The
# embedded config JSON and CA (the user's data, not code) are kept out of the
# checked flash.
CONFIG_STORE = "apps/firmware/config_store.c"
ROOT = ""
ENTRY = re.compile(r"^\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\S+\.o(?:bj)?)\s*$")
NAMED = re.compile(r"^ (\S+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\S+\.o(?:bj)?)\s*$")
NAME_ONLY = re.compile(r"^ (\S+)\s*$")


def classify(section):
    if section.startswith((".text", ".rodata")):
        return "flash"
    if section.startswith((".data", ".time_critical")):
        return "data"
    if section.startswith((".bss", "COMMON")):
        return "bss"
    return None


def short_name(path):
    path = re.sub(r"\.o(bj)?$", "", path)
    if GENERATED in path:
        return GENERATED[1:] + ".c"
    rest = path.split("mqtt_tiny.dir/", 1)[-1]
    if "/" not in rest:
        return "apps/firmware/" + rest   # sources beside the CMakeLists.txt
    i = path.find(ROOT.lstrip("/"))
    if i < 0:
        return None
    rel = path[i + len(ROOT.lstrip("/")):]
    return rel if rel.startswith(OURS) else None


def parse(map_path):
    per_file = {}
    in_map = False
    pending = None
    with open(map_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not in_map:
                in_map = line.startswith("Linker script and memory map")
                continue
            m = NAMED.match(line)
            if m:
                section, addr, size, obj = m.groups()
            else:
                m = ENTRY.match(line)
                if m and pending:
                    section = pending
                    addr, size, obj = m.groups()
                else:
                    n = NAME_ONLY.match(line)
                    pending = n.group(1) if n else None
                    continue
            pending = None
            name = short_name(obj)
            kind = classify(section)
            if name is None or kind is None or int(addr, 16) == 0:
                continue
            entry = per_file.setdefault(name, {"flash": 0, "data": 0, "bss": 0})
            entry[kind] += int(size, 16)
    return per_file


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("map")
    ap.add_argument("--root", required=True, help="the repository root (absolute)")
    ap.add_argument("--max-flash", type=int, default=0)
    ap.add_argument("--max-ram", type=int, default=0)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    global ROOT
    ROOT = args.root.rstrip("/") + "/"
    files = parse(args.map)
    if not files:
        print("footprint: none of our objects found in", args.map, file=sys.stderr)
        return 1
    rows = []
    for name in sorted(files):
        e = files[name]
        rows.append((name, e["flash"] + e["data"], e["data"] + e["bss"], e["data"], e["bss"]))
    code_rows = [r for r in rows if "firmware_config" not in r[0] and r[0] != CONFIG_STORE]
    store_ram = sum(r[2] for r in rows if r[0] == CONFIG_STORE)
    flash = sum(r[1] for r in code_rows)
    ram = sum(r[2] for r in code_rows)
    cfg_flash = sum(r[1] for r in rows if "firmware_config" in r[0])
    checked_ram = ram + store_ram
    if args.markdown:
        print("| object | flash (text+rodata+data) | static RAM (data+bss) |")
        print("|---|---:|---:|")
        for r in rows:
            print(f"| {r[0]} | {r[1]} | {r[2]} |")
        print(f"| our code without the configuration | {flash} | {ram} |")
        print(f"| **checked**: flash without the embedded configuration, RAM with the parsed one | **{flash}** | **{checked_ram}** |")
        print(f"| all of ours, with the embedded configuration and CA | {flash + cfg_flash} | {checked_ram} |")
    else:
        print(f"{'object':52} {'flash':>8} {'RAM':>8} {'data':>6} {'bss':>6}")
        for r in rows:
            print(f"{r[0]:52} {r[1]:8} {r[2]:8} {r[3]:6} {r[4]:6}")
        print(f"{'our code without the configuration':52} {flash:8} {ram:8}")
        print(f"{'+ parsed configuration (RAM, config_store.c)':52} {'':8} {store_ram:8}")
        print(f"{'checked (flash without, RAM with the configuration)':52} {flash:8} {checked_ram:8}")
        print(f"{'+ embedded config JSON + CA (flash)':52} {cfg_flash:8}")
        print(f"{'all of ours':52} {flash + cfg_flash:8} {checked_ram:8}")
    failed = False
    if args.max_flash and flash > args.max_flash:
        print(f"footprint: our code uses {flash} bytes of flash, limit {args.max_flash}", file=sys.stderr)
        failed = True
    if args.max_ram and checked_ram > args.max_ram:
        print(f"footprint: our code and its parsed configuration use {checked_ram} bytes of static RAM, "
              f"limit {args.max_ram}", file=sys.stderr)
        failed = True
    if not failed and (args.max_flash or args.max_ram):
        print(f"footprint: within limits (flash {flash} <= {args.max_flash}, RAM {checked_ram} <= {args.max_ram})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
