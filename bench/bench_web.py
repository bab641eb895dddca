#!/usr/bin/env python3
"""The student's lab page in a real browser: page weight and time to interactive.

Usage (as root, Docker running, chromium and chromium-driver installed):
    python bench/bench_web.py [--lab handshake-lab] [--loads 5]
Starts its own `labctl serve` on loopback (plain HTTP), brings the lab up for a
student, logs the student in with headless Chromium and loads the lab's page (the
sheet, topology, steps, checks, live packets and log) --loads times: the first with an
empty cache, then warm. Page weight is what crossed the wire (the page and every file
it loaded, as the browser's Resource Timing counts it); time to interactive is when
the page's scripts have run and its buttons answer (DOMContentLoaded end: lab.js is
deferred). Then the first terminal is opened: xterm.js is fetched only then, and its
weight is printed apart. Goal: under 300 KB and under 1 s on loopback.
Everything is removed afterwards (the lab, the server, its state).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from labctl.classroom.client.api import Client, ServerError

ROOT = Path(__file__).resolve().parent.parent
STUDENT = "benchweb"
WEIGHT = """
var all = performance.getEntriesByType('navigation').concat(
  performance.getEntriesByType('resource'));
var wire = 0, body = 0, names = [];
all.forEach(function (e) { wire += e.transferSize || 0; body += e.decodedBodySize || 0;
  names.push(e.name.replace(location.origin, '') + ' ' + (e.transferSize || 0)); });
var nav = performance.getEntriesByType('navigation')[0];
return {wire: wire, body: body, tti: nav.domContentLoadedEventEnd, names: names,
        load: nav.loadEventEnd};
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                "--disable-dev-shm-usage"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default="handshake-lab")
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="labctl-bench-web-"))
    sock, state, port = work / "labctl.sock", work / "state", _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "labctl.cli", "serve", "--socket", str(sock), "--state-dir",
         str(state), "--listen", f"127.0.0.1:{port}"], cwd=ROOT, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    driver = None
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with Client(f"unix://{sock}") as root:
                    root.whoami()
                break
            except ServerError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        token = subprocess.run([sys.executable, "-m", "labctl.cli", "token", "add", STUDENT,
                                "--state-dir", str(state)], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.strip()
        with Client(f"unix://{sock}") as root:
            root.up(args.lab, STUDENT)
        driver = _browser()
        from selenium.webdriver.common.by import By
        driver.get(url + "/web/login")
        field = driver.find_element(By.ID, "token")
        field.send_keys(token)
        field.submit()
        time.sleep(1)
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.clearBrowserCache", {})
        page = f"{url}/web/labs/{args.lab}"
        loads = []
        for _ in range(args.loads):
            driver.get(page)
            time.sleep(0.5)  # let loadEventEnd settle
            loads.append(driver.execute_script(WEIGHT))
        cold, warm = loads[0], loads[1:] or loads
        print(f"lab page of {args.lab} (running), {args.loads} loads on loopback:")
        print(f"  cold cache: {cold['wire'] / 1024:.1f} KB over the wire "
              f"({cold['body'] / 1024:.1f} KB decoded), interactive after "
              f"{cold['tti']:.0f} ms")
        for line in cold["names"]:
            print(f"    {line} B")
        print(f"  warm: {statistics.median(x['wire'] for x in warm) / 1024:.1f} KB, "
              f"interactive after {statistics.median(x['tti'] for x in warm):.0f} ms "
              f"(median of {len(warm)})")
        driver.execute_script("performance.clearResourceTimings()")
        began = time.monotonic()
        driver.find_element(By.CSS_SELECTOR, "#terminals [data-node]").click()
        while not driver.execute_script(
                "return Object.keys(window.labctlTerminals || {}).length"):
            time.sleep(0.02)
        opened = time.monotonic() - began
        terminal = driver.execute_script(WEIGHT)
        extra = sum(
            int(n.rsplit(" ", 1)[1]) for n in terminal["names"] if "/xterm/" in n)
        print(f"  first terminal: {opened * 1000:.0f} ms to a terminal, xterm.js "
              f"{extra / 1024:.1f} KB over the wire (loaded only then)")
        goal = cold["wire"] < 300 * 1024 and cold["tti"] < 1000
        print(f"goal (under 300 KB, under 1 s): {'met' if goal else 'NOT met'}")
    finally:
        if driver is not None:
            driver.quit()
        try:
            with Client(f"unix://{sock}") as root:
                root.down(args.lab, STUDENT)
        except Exception as exc:  # noqa: BLE001 - reported, the server still stops
            print(f"down: {exc}", file=sys.stderr)
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
