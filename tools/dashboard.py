#!/usr/bin/python3
"""Live view of mqtt-tiny-sim's virtual board, for `make run`.

Connects to the board socket (JSON lines, see docs/simulator.md), shows the
relays, momentary relays and contacts as they change, the MQTT state and the
last messages the controller published. Keys: a digit opens/closes the n-th
contact (0-3 are GP0..GP3 on the example board), w toggles the simulated
WiFi, s asks for counters, q quits.

Without a terminal (stdin or stdout not a TTY) it prints one line per event
instead, until the simulator goes away or it is stopped.

Only the Python standard library is used (Debian's python3).
"""

import argparse
import json
import os
import select
import signal
import socket
import sys
import time

KEEP_PUBLISHED = 8
KEEP_LOG = 6
STATS_EVERY_S = 2.0


class Board:
    """State mirrored from the board's events."""

    def __init__(self):
        self.pins = []          # dicts: pin, kind, level, on (order of the hello event)
        self.version = "?"
        self.mqtt = "starting"
        self.mqtt_reason = ""
        self.wifi = "up"
        self.published = []     # (t_ms, payload)
        self.log = []           # (t_ms, text)
        self.stats = None
        self.t_ms = 0

    def pin(self, number):
        for p in self.pins:
            if p["pin"] == number:
                return p
        return None

    def contacts(self):
        return [p for p in self.pins if p["kind"] == "contact"]

    def apply(self, ev):
        """Updates the state; returns a one-line description of the event."""
        kind = ev.get("ev")
        self.t_ms = ev.get("t_ms", self.t_ms)
        if kind in ("hello", "pins"):
            self.pins = ev.get("pins", [])
            if kind == "hello":
                self.version = ev.get("version", "?")
                self.mqtt = ev.get("mqtt", self.mqtt)
                self.wifi = ev.get("wifi", self.wifi)
            groups = []
            for k in ("relay", "momentary", "contact"):
                pins = ["GP%d" % p["pin"] for p in self.pins if p["kind"] == k]
                if pins:
                    groups.append("%s %s" % (k, " ".join(pins)))
            return "board %s: %s; MQTT %s, WiFi %s" % (self.version, ", ".join(groups), self.mqtt,
                                                      self.wifi)
        if kind == "output":
            p = self.pin(ev["pin"])
            if p:
                p["level"], p["on"] = ev["level"], ev["on"]
            return "GP%d %s (level %d)" % (ev["pin"], "ON" if ev["on"] else "off", ev["level"])
        if kind == "input":
            p = self.pin(ev["pin"])
            if p:
                p["level"] = ev["level"]
            return "GP%d input level %d" % (ev["pin"], ev["level"])
        if kind == "contact":
            p = self.pin(ev["pin"])
            if p:
                p["on"] = ev["on"]
            return "GP%d contact %s" % (ev["pin"], "closed" if ev["on"] else "open")
        if kind == "mqtt":
            self.mqtt = ev.get("state", "?")
            self.mqtt_reason = ev.get("reason", "")
            return "MQTT %s%s" % (self.mqtt, " (%s)" % self.mqtt_reason if self.mqtt_reason else "")
        if kind == "wifi":
            self.wifi = ev.get("state", "?")
            return "WiFi %s" % self.wifi
        if kind == "published":
            self.published.append((self.t_ms, ev.get("payload", "")))
            del self.published[:-KEEP_PUBLISHED]
            return "published %s" % ev.get("payload", "")
        if kind == "stats":
            self.stats = {k: v for k, v in ev.items() if k not in ("ev", "t_ms")}
            return "stats " + json.dumps(self.stats, separators=(",", ":"))
        if kind in ("error", "log"):
            text = ev.get("message", "")
            self.log.append((self.t_ms, text))
            del self.log[:-KEEP_LOG]
            return "%s: %s" % (kind, text)
        return json.dumps(ev)


def connect(address, wait_s):
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return socket.create_connection((host, int(port)), timeout=2)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def lamp(on, on_text, off_text):
    return ("\033[1;32m● %s\033[0m" % on_text) if on else ("\033[2m○ %s\033[0m" % off_text)


def render(board, header_lines, status):
    out = ["\033[H\033[2J"]
    out.append("\033[1mMqttTinyController simulator %s\033[0m   t=%.1f s   MQTT: %s%s   WiFi: %s\n"
               % (board.version, board.t_ms / 1000.0, board.mqtt,
                  " (%s)" % board.mqtt_reason if board.mqtt_reason else "", board.wifi))
    out.append("\n")
    groups = (("relay", "Relays", "ON", "off"), ("momentary", "Momentary relays", "ON", "off"),
              ("contact", "Contacts", "closed", "open"))
    contacts = board.contacts()
    for kind, title, on_text, off_text in groups:
        pins = [p for p in board.pins if p["kind"] == kind]
        if not pins:
            continue
        cells = []
        locked = (board.stats or {}).get("locked", {})
        for p in pins:
            key = ""
            if kind == "contact":
                i = contacts.index(p)
                key = "[%d] " % i if i < 10 else ""
            lock = " \033[1;31mLOCKED\033[0m" if locked.get("GP%d" % p["pin"]) else ""
            cells.append("%sGP%-2d %s%s" % (key, p["pin"], lamp(p["on"], on_text, off_text), lock))
        out.append("  %-17s %s\n" % (title, "   ".join(cells)))
    out.append("\n\033[1mLast published\033[0m\n")
    if not board.published:
        out.append("  (nothing yet)\n")
    for t, payload in board.published[-KEEP_PUBLISHED:]:
        out.append("  %8.3f s  %s\n" % (t / 1000.0, payload[:150]))
    if board.log:
        out.append("\n\033[1mNotices\033[0m\n")
        for t, text in board.log:
            out.append("  %8.3f s  %s\n" % (t / 1000.0, text[:150]))
    if board.stats:
        s = board.stats
        out.append("\n\033[1mCounters\033[0m  messages %s, relay changes %s, publishes %s, errors %s, "
                   "skipped by guards %s, MQTT connects %s, outages %s\n"
                   % (s.get("messages"), s.get("relay_changes"), s.get("publishes"),
                      s.get("errors"), (s.get("cooldown_skips") or 0) + (s.get("toggle_skips") or 0)
                      + (s.get("locked_skips") or 0), s.get("mqtt_connects"), s.get("mqtt_outages")))
        if s.get("publishing_halted"):
            out.append("  \033[1;31mPUBLISHING HALTED by the publish guard (restart the simulator to reset)\033[0m\n")
    out.append("\n")
    for line in header_lines:
        out.append(line + "\n")
    out.append("\n\033[1mKeys\033[0m  0-9 open/close a contact   w WiFi down/up   s counters   q quit\n")
    if status:
        out.append(status + "\n")
    sys.stdout.write("".join(out))
    sys.stdout.flush()


def send(sock, obj):
    sock.sendall((json.dumps(obj) + "\n").encode())


def handle_key(ch, board, sock):
    """Returns (quit, status text)."""
    if ch in ("q", "Q"):
        return True, ""
    if ch.isdigit():
        contacts = board.contacts()
        i = int(ch)
        if i >= len(contacts):
            return False, "no contact [%d] on this board" % i
        p = contacts[i]
        send(sock, {"op": "set", "pin": p["pin"], "level": 0 if p["level"] else 1})
        return False, "GP%d: level %d -> %d" % (p["pin"], p["level"], 0 if p["level"] else 1)
    if ch in ("w", "W"):
        state = "up" if board.wifi == "down" else "down"
        send(sock, {"op": "wifi", "state": state})
        return False, "WiFi %s requested" % state
    if ch in ("s", "S"):
        send(sock, {"op": "stats"})
        return False, "counters refreshed"
    return False, ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", required=True, help="HOST:PORT of the sim's board socket")
    ap.add_argument("--info", action="append", default=[], help="a line shown under the board")
    ap.add_argument("--wait", type=float, default=5.0, help="seconds to wait for the socket")
    ap.add_argument("--plain", action="store_true", help="print events, no live view")
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    interactive = not args.plain and sys.stdin.isatty() and sys.stdout.isatty()
    try:
        sock = connect(args.board, args.wait)
    except OSError as e:
        print("dashboard: cannot connect to the board at %s: %s" % (args.board, e), file=sys.stderr)
        return 1
    sock.settimeout(None)
    board = Board()

    old_tty = None
    if interactive:
        import termios
        import tty
        old_tty = termios.tcgetattr(sys.stdin.fileno())
        tty.setcbreak(sys.stdin.fileno(), termios.TCSADRAIN)  # keep keys typed early
        sys.stdout.write("\033[?25l")  # hide the cursor
    else:
        for line in args.info:
            print(line)
        sys.stdout.flush()

    buf = b""
    status = ""
    next_stats = 0.0
    try:
        while True:
            if interactive and time.monotonic() >= next_stats:
                send(sock, {"op": "stats"})  # guard state (locks, halt) for the view
                next_stats = time.monotonic() + STATS_EVERY_S
            watch = [sock] + ([sys.stdin] if interactive else [])
            ready, _, _ = select.select(watch, [], [], 1.0)
            if sock in ready:
                chunk = sock.recv(65536)
                if not chunk:
                    status = "the simulator closed the board socket"
                    if not interactive:
                        print(status)
                    break
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if not line.strip():
                        continue
                    try:
                        ev = json.loads(line)
                    except ValueError:
                        continue
                    text = board.apply(ev)
                    if not interactive:
                        print("%9.3f  %s" % (ev.get("t_ms", 0) / 1000.0, text))
                        sys.stdout.flush()
            if interactive and sys.stdin in ready:
                ch = os.read(sys.stdin.fileno(), 1).decode(errors="replace")
                quit_now, status = handle_key(ch, board, sock)
                if quit_now:
                    break
            if interactive:
                render(board, args.info, status)
    except (KeyboardInterrupt, BrokenPipeError, ConnectionError):
        pass
    finally:
        if old_tty is not None:
            import termios
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, old_tty)
            sys.stdout.write("\033[?25h\n")
            sys.stdout.flush()
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
