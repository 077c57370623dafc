"""The emulated board: emu/run.mjs in a subprocess, driven in steps of simulated time.

The runner starts paused (--wait); every call here that needs time sends
{"cmd":"run","until_ms":N} and reads events up to the {"ev":"paused"} that
follows, so each test knows exactly how far the chip has run. Times are
simulated (µs in events, ms in this API) unless a name says wall.
"""

import json
import os
import queue
import re
import subprocess
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUNNER = REPO / "emu" / "run.mjs"


class EmuError(AssertionError):
    pass


class Chip:
    def __init__(self, uf2=(), bins=(), max_wall_s=150, stderr_path=None, extra_args=()):
        cmd = ["node", str(RUNNER), "--wait", "--max-wall-s", str(max_wall_s), *extra_args]
        for addr, path in bins:
            cmd += ["--load-bin", hex(addr), str(path)]
        cmd += [str(p) for p in uf2]
        self.cmd = cmd
        self.max_wall_s = max_wall_s
        self.stderr_path = stderr_path
        self._stderr = open(stderr_path, "w+") if stderr_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        self.events = []
        self.now_ms = 0.0
        self._lines = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    # ------------------------------------------------------------ plumbing

    def _read(self):
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _send(self, obj):
        try:
            self.proc.stdin.write(json.dumps(obj) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as err:
            raise EmuError(f"the runner is gone ({err}){self._stderr_tail()}") from None

    def _next_event(self, deadline):
        left = deadline - time.monotonic()
        try:
            line = self._lines.get(timeout=max(0.0, left))
        except queue.Empty:
            raise EmuError(
                f"no answer from the runner within the wall-time limit "
                f"(simulated time {self.now_ms:.0f} ms){self._stderr_tail()}"
            ) from None
        if line is None:
            self.proc.wait(timeout=5)
            raise EmuError(f"the runner exited with code {self.proc.returncode}{self._stderr_tail()}")
        ev = json.loads(line)
        self.events.append(ev)
        if "t_us" in ev:
            self.now_ms = ev["t_us"] / 1000.0
        if ev.get("ev") == "error":
            raise EmuError(f"runner error: {ev.get('message')}")
        if ev.get("ev") == "exit":
            raise EmuError(f"the runner stopped: {ev}{self._stderr_tail()}")
        return ev

    def _until(self, kind, wall_s=None):
        deadline = time.monotonic() + (wall_s or self.max_wall_s)
        new = []
        while True:
            ev = self._next_event(deadline)
            new.append(ev)
            if ev.get("ev") == kind:
                return new

    def _stderr_tail(self):
        if not self.stderr_path:
            return ""
        try:
            text = Path(self.stderr_path).read_text(errors="replace")
        except OSError:
            return ""
        return "\nrunner stderr (end):\n" + "\n".join(text.splitlines()[-15:]) if text else ""

    # ------------------------------------------------------------ time

    def run_until(self, ms):
        """Runs to simulated time ms; returns the events of that stretch."""
        if ms <= self.now_ms:
            return []
        self._send({"cmd": "run", "until_ms": ms})
        new = self._until("paused")
        self.now_ms = ms
        return new

    def run_for(self, ms):
        return self.run_until(self.now_ms + ms)

    def wait_for(self, pred, timeout_ms, step_ms=50, what="event", since=0):
        """Runs in steps until an event satisfies pred; returns it.

        Events already seen count too, from index since in self.events on."""
        for ev in self.events[since:]:
            if pred(ev):
                return ev
        end = self.now_ms + timeout_ms
        while self.now_ms < end:
            for ev in self.run_until(min(end, self.now_ms + step_ms)):
                if pred(ev):
                    return ev
        raise EmuError(
            f"no {what} within {timeout_ms:.0f} simulated ms (now {self.now_ms:.0f} ms)\n"
            f"log so far:\n{self.log_text()}"
        )

    def wait_for_log(self, regex, timeout_ms, src=None, since=0):
        """Waits (simulated time) for a log line matching regex; returns (event, match)."""
        rx = re.compile(regex)
        found = {}

        def pred(ev):
            if ev.get("ev") != "log" or (src and ev.get("src") != src):
                return False
            m = rx.search(ev["line"])
            if m:
                found["m"] = m
            return bool(m)

        what = f"log line matching {regex!r}" + (f" on {src}" if src else "")
        ev = self.wait_for(pred, timeout_ms, what=what, since=since)
        return ev, found["m"]

    # ------------------------------------------------------------ views

    def logs(self, src=None):
        return [e for e in self.events if e.get("ev") == "log" and (src is None or e["src"] == src)]

    def log_text(self, last=60):
        lines = [f"{e['t_us'] / 1e6:10.6f} s {e['src']:5} {e['line']}" for e in self.logs()]
        return "\n".join(lines[-last:]) or "(no log line)"

    def gpio(self, pin=None):
        """GPIO events (direction or driven level changes), oldest first."""
        return [e for e in self.events if e.get("ev") == "gpio" and (pin is None or e["pin"] == pin)]

    def resets(self):
        return [e for e in self.events if e.get("ev") == "reset"]

    # ------------------------------------------------------------ actions

    def set_input(self, pin, level):
        """Drives a pin from outside (level 0/1) or lets it go (None: its pull decides)."""
        self._send({"cmd": "input", "pin": pin, "level": level})

    def stats(self):
        self._send({"cmd": "stats"})
        return self._until("stats")[-1]

    def stall(self):
        self._send({"cmd": "stall"})
        return self._until("stalled")[-1]

    def instr_rate(self, start_ms, window_ms):
        """Instructions per simulated second between start_ms and start_ms + window_ms."""
        self.run_until(start_ms)
        a = self.stats()
        self.run_until(start_ms + window_ms)
        b = self.stats()
        return (b["instr"] - a["instr"]) / ((b["t_us"] - a["t_us"]) / 1e6)

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._stderr is not subprocess.DEVNULL:
            self._stderr.close()


def node_available():
    from shutil import which

    return which("node") is not None


def env_path(name, default):
    value = os.environ.get(name)
    return Path(value) if value else default
