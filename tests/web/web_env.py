"""Where the built page lives and how to reach the tools the web tests use.

The page is built by scripts/web.sh (`make web`) into $MTC_WEB_DIR
(default build/web); its parser module is build/web/.obj/config.wasm.
Screenshots and downloads go to $MTC_WEB_TEST_DIR (default build/web-test)."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "system"))

ISRG_ROOT_X1 = "/etc/ssl/certs/ISRG_Root_X1.pem"


def web_dir():
    return Path(os.environ.get("MTC_WEB_DIR", REPO / "build" / "web"))


def test_out_dir():
    d = Path(os.environ.get("MTC_WEB_TEST_DIR", REPO / "build" / "web-test"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def build_dir():
    return Path(os.environ.get("MTC_BUILD_DIR", REPO / "build"))


def wasm_path():
    p = web_dir() / ".obj" / "config.wasm"
    assert p.is_file(), f"{p} not built (run make web or scripts/web.sh)"
    return p


def config_tool(*args):
    tool = build_dir() / "mqtt-tiny-config"
    assert tool.is_file(), f"{tool} not built (set MTC_BUILD_DIR)"
    return subprocess.run([str(tool), *map(str, args)], capture_output=True, text=True,
                          timeout=60)


def page_parser(*args):
    """web/test/parser_cli.mjs: the page's own parser module under node."""
    return subprocess.run(["node", str(REPO / "web" / "test" / "parser_cli.mjs"),
                           str(wasm_path()), *map(str, args)],
                          capture_output=True, text=True, timeout=60)


def tool_errors(stderr):
    """The parser's lines from mqtt-tiny-config's stderr ("  path: message";
    an error of the whole document has an empty path: "  : message")."""
    lines = [line[2:] for line in stderr.splitlines() if line.startswith("  ")]
    return [line[2:] if line.startswith(": ") else line for line in lines]
