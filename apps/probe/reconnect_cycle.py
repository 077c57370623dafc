#!/usr/bin/python3
"""Reconnect cycles through mqtt-tiny-probe's simulated network switch.

Each cycle sends 'net down' + 'net up' and waits for the next 'connected': the
socket is dropped and a new TCP (+ TLS handshake) connection is made. Prints
the TLS heap and the process RSS along the way; the probe's exit status at
the end (non-zero under LSan if anything leaked).

usage: apps/probe/reconnect_cycle.py PROBE URL CYCLES [probe options...]
  e.g. apps/probe/reconnect_cycle.py build/mqtt-tiny-probe \\
           mqtts://127.0.0.1:8883 2000 --ca ca.crt --tls-hostname localhost
"""
import json
import subprocess
import sys
import threading
import time


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    exe, url, cycles = sys.argv[1], sys.argv[2], int(sys.argv[3])
    args = [exe, "--broker", url, "--backoff-first-ms", "1", "--backoff-base-ms", "5",
            "--backoff-max-ms", "20"] + sys.argv[4:]
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                         bufsize=1)
    cond = threading.Condition()
    state = {"connected": 0, "stats": []}

    def reader():
        for line in p.stdout:
            e = json.loads(line)
            with cond:
                if e["ev"] == "connected":
                    state["connected"] += 1
                elif e["ev"] == "stats":
                    state["stats"].append(e)
                elif e["ev"] == "connect_failed":
                    print("connect_failed:", e.get("reason"), e.get("detail"), flush=True)
                cond.notify_all()

    threading.Thread(target=reader, daemon=True).start()

    def wait(pred, timeout=10):
        with cond:
            if not cond.wait_for(pred, timeout):
                p.kill()
                sys.exit("timed out")

    def send(text):
        p.stdin.write(text)
        p.stdin.flush()

    t0 = time.monotonic()
    wait(lambda: state["connected"] >= 1)
    checkpoints = {0, 99, cycles // 4, cycles // 2, cycles - 1}
    for i in range(cycles):
        send("net down\nnet up\n")
        wait(lambda: state["connected"] >= i + 2)
        if i in checkpoints:
            k = len(state["stats"])
            send("stats\n")
            wait(lambda: len(state["stats"]) > k)
            s = state["stats"][-1]
            with open(f"/proc/{p.pid}/status") as f:
                rss = next(line.split()[1] for line in f if line.startswith("VmRSS"))
            print(f"cycle {i + 1}: tls_heap_in_use {s['tls_heap_in_use']} "
                  f"tls_heap_peak {s['tls_heap_peak']} connects {s['connects']} "
                  f"rss_kB {rss}", flush=True)
    send("quit\n")
    rc = p.wait(30)
    print(f"{cycles} cycles in {time.monotonic() - t0:.1f} s, probe exit status {rc}")
    sys.exit(0 if rc == 0 else 1)


if __name__ == "__main__":
    main()
