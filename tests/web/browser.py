"""A headless Debian Chromium page for the tests, driven by puppeteer-core
through web/test/browser.mjs (one JSON command a line)."""
import json
import os
import struct
import subprocess
import threading

from web_env import REPO

CHROMIUM = os.environ.get("MTC_CHROMIUM", "/usr/bin/chromium")


class Browser:
    def __init__(self, downloads):
        assert os.path.exists(CHROMIUM), f"{CHROMIUM} not installed (scripts/deps.sh)"
        self.proc = subprocess.Popen(
            ["node", str(REPO / "web" / "test" / "browser.mjs"), "--chromium", CHROMIUM,
             "--downloads", str(downloads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stderr = []
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()
        assert self._answer() == "ready"

    def _answer(self):
        line = self.proc.stdout.readline()
        assert line, f"browser driver ended: {''.join(self.stderr)[-2000:]}"
        reply = json.loads(line)
        if not reply["ok"]:
            raise AssertionError(f"browser: {reply['error']}")
        return reply.get("value")

    def do(self, op, **kw):
        self.proc.stdin.write(json.dumps(dict(op=op, **kw)) + "\n")
        self.proc.stdin.flush()
        return self._answer()

    def eval(self, js):
        return self.do("eval", js=js)

    def wait(self, js, timeout_ms=10000):
        return self.do("wait", js=js, timeout_ms=timeout_ms)

    def text(self, sel):
        return self.eval(f"document.querySelector({json.dumps(sel)}).textContent")

    def type(self, sel, text, clear=True):
        if clear:
            self.do("clear", sel=sel)
        self.do("type", sel=sel, text=text)

    def errors(self):
        return self.eval("[...document.querySelectorAll('#errors li')].map(e => e.textContent)")

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=10)
            except Exception:
                self.proc.kill()
                self.proc.wait()

    def failure_log(self):
        try:
            console = self.do("console") if self.proc.poll() is None else []
        except Exception as e:
            console = [repr(e)]
        return [("browser console", "\n".join(console)), ("browser driver stderr", "".join(self.stderr)[-4000:])]


def png_size(path):
    """(width, height) of a PNG file, from its IHDR chunk."""
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])
