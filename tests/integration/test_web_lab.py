"""The whole lab in a browser (issue 20), against a real server, real Docker and Chromium.

A student does handshake-lab without any terminal of their own: the sheet, a terminal
per node (curl the server, `ss -tlnp`), step 1 and its output, the checks turning
green, packets appearing as they are captured, the server's log. An instructor imports
the class list (a GitHub Classroom roster), brings the lab up for the class, watches the
grid, checks everyone and downloads the grades (the CSV is read back here).

axe-core (selenium-axe-python's axe.min.js) runs on every page: no serious or critical
violation. Every page is also drawn at 390 px (a phone): nothing wider than the screen.
Screenshots at 1280 and 390 px go to tests/artifacts/web/.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
from pathlib import Path

import pytest

from labctl.classroom.client.class_api import ClassClient as Client
from tests.conftest import SESSION_PREFIX
from tests.integration import server_harness
from tests.integration.server_harness import nodes_of
from tests.integration.test_web import (
    CHROMIUM,
    DRIVER,
    LAB,
    _browser,
    _grid_row,
    _login,
    _shot,
    _submit,
    _wait,
)

pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(os.geteuid() != 0, reason="creates Unix users: needs root"),
              pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                 reason="needs chromium and chromium-driver")]
PHONE, DESKTOP = (390, 844), (1280, 900)
SERIOUS = ("serious", "critical")


@pytest.fixture(scope="module")
def server(node_image):
    with server_harness.web_server(f"{SESSION_PREFIX}lteach") as srv:
        yield srv


@pytest.fixture(scope="module")
def people(server):
    return server_harness.class_of(server, f"{SESSION_PREFIX}l", f"{SESSION_PREFIX}lteach")


def axe(driver, page: str) -> list[dict]:
    """axe-core on the page as it is now; fails on any serious or critical violation."""
    import selenium_axe_python
    script = Path(selenium_axe_python.__file__).parent / "axe-core" / "axe.min.js"
    driver.execute_script(script.read_text())
    driver.set_script_timeout(60)
    found = driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(function (r) {"
        "  done(r.violations.map(function (v) { return {id: v.id, impact: v.impact,"
        "    help: v.help, nodes: v.nodes.slice(0, 3).map(function (n) {"
        "      return n.target.join(' ') + ': ' + n.failureSummary; })}; })); });")
    bad = [v for v in found if v["impact"] in SERIOUS]
    for v in found:
        print(f"axe {page}: {v['impact']} {v['id']}: {v['help']}", file=sys.stderr)
    assert not bad, f"{page}: " + json.dumps(bad, indent=1)
    return found


def both_sizes(driver, name: str, check_width: bool = True) -> None:
    """Screenshots at 1280 and 390 px, axe at both; at 390 nothing is wider than the screen."""
    axe(driver, name)
    _shot(driver, f"{name}-1280")
    phone(driver, True)
    try:
        if check_width:
            wide = driver.execute_script(
                "return document.documentElement.scrollWidth")
            inner = driver.execute_script("return window.innerWidth")
            assert wide <= inner + 1, f"{name}: {wide} px wide in a {inner} px screen"
        axe(driver, f"{name} at 390 px")
        _shot(driver, f"{name}-390")
    finally:
        phone(driver, False)


def phone(driver, on: bool) -> None:
    """A phone's screen (390 x 844 CSS px, a mobile viewport), or back to the desktop."""
    if on:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True})
    else:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    time.sleep(0.3)


def terminal_text(driver, key: str) -> str:
    return driver.execute_script(
        "var t = window.labctlTerminals[arguments[0]]; if (!t) return '';"
        "var b = t.buffer.active || t.buffer, out = [];"
        "for (var i = 0; i < b.length; i++) out.push(b.getLine(i).translateToString(true));"
        "return out.join('\\n');", key)


def type_into(driver, text: str) -> None:
    driver.switch_to.active_element.send_keys(text)


def test_a_student_does_the_whole_lab_in_the_browser(server, people):
    from selenium.webdriver.common.by import By
    ann, ann_token = people["ann"]
    driver = _browser()
    driver.set_window_size(*DESKTOP)
    try:
        driver.get(server.url + "/web/login")
        both_sizes(driver, "10-login")
        _login(driver, server, ann_token)
        both_sizes(driver, "11-student-labs")
        _submit(driver, By.ID, f"open-{LAB}")
        assert "three-way handshake" in driver.find_element(By.ID, "sheet").text
        assert not driver.find_elements(By.CSS_SELECTOR, "#sheet script")
        both_sizes(driver, "12-lab-down")

        began = time.monotonic()
        _submit(driver, By.ID, f"up-{LAB}")
        print(f"up from the page: {time.monotonic() - began:.1f} s", file=sys.stderr)
        assert "running" in driver.find_element(By.ID, f"title-{LAB}").text

        # a terminal on the client: curl the course's server
        driver.find_element(By.ID, "open-terminal-client").click()
        _wait(lambda: "$" in terminal_text(driver, "client") or
              "#" in terminal_text(driver, "client"), 20, "the client's prompt")
        type_into(driver, "curl -s --compressed http://server/\n")
        _wait(lambda: "Hello World!" in terminal_text(driver, "client"), 20,
              "curl's answer in the terminal")
        # packets appear as they are captured, the ladder drawn
        _wait(lambda: driver.find_elements(By.CSS_SELECTOR, "#ladders figure svg"), 20,
              "a live ladder")
        ladder = driver.find_element(By.CSS_SELECTOR, "#ladders figure").text
        assert "SYN" in ladder and "complete handshake" in ladder, ladder
        assert int(driver.find_element(By.ID, "packet-count").get_attribute(
            "textContent")) >= 3

        # a second tab: the server's listening sockets
        driver.find_element(By.ID, "open-terminal-server").click()
        _wait(lambda: "#" in terminal_text(driver, "server"), 20, "the server's prompt")
        type_into(driver, "ss -tlnp\n")
        _wait(lambda: "LISTEN" in terminal_text(driver, "server"), 20, "ss in the terminal")
        assert ":80" in terminal_text(driver, "server")
        type_into(driver, "sleep 4242 &\n")
        driver.execute_script("document.getElementById('terminals').scrollIntoView()")
        _shot(driver, "13-lab-terminals-1280")
        tabs = driver.find_elements(By.CSS_SELECTOR, "#terminal-tabs [role=tab]")
        assert [t.text for t in tabs] == ["client", "server"]

        # the step's output and status, without leaving the page (the terminals stay)
        driver.find_element(By.ID, f"step-{LAB}-1").click()
        _wait(lambda: "PASS" in driver.find_element(By.ID, "step-result-1").text, 60,
              "step 1's status")
        assert "Hello World!" in driver.find_element(By.ID, "step-result-1").text
        assert "Hello World!" in terminal_text(driver, "client")  # same page, same terminal

        driver.find_element(By.ID, f"check-{LAB}").click()
        _wait(lambda: driver.find_elements(By.CSS_SELECTOR, f"#checks-{LAB} td.pass"), 60,
              "the checks")
        cells = driver.find_elements(By.CSS_SELECTOR, f"#checks-{LAB} td.pass, "
                                                      f"#checks-{LAB} td.fail")
        assert len(cells) == 10 and all(c.text == "PASS" for c in cells)
        assert "10 of 10 passed" in driver.find_element(By.ID, "checks-result").text

        # the server's log, followed
        _wait(lambda: "GET / HTTP/1.1" in driver.find_element(By.ID, "log-text").text, 20,
              "the server's log line")

        # closing a tab ends its shell and what it started
        sleeping = ["pgrep", "-f", "slee[p] 4242"]  # the pattern never matches itself
        with Client(server.url, token=ann_token) as api:
            assert api.exec(LAB, "server", sleeping)["exit_code"] == 0
            driver.find_element(By.ID, "close-terminal-2").click()
            _wait(lambda: api.exec(LAB, "server", sleeping)["exit_code"] == 1, 10,
                  "the closed terminal's sleep ending")
        assert driver.switch_to.active_element.get_attribute("id") == "terminal-1-tab"

        driver.execute_script("document.getElementById('steps-h').scrollIntoView()")
        _shot(driver, "14-lab-steps-checks-1280")
        driver.execute_script("document.getElementById('packets').scrollIntoView()")
        _shot(driver, "15-lab-packets-1280")
        driver.execute_script("window.scrollTo(0, 0)")
        both_sizes(driver, "16-lab-running")

        # a refusal is a page too
        driver.get(f"{server.url}/web/class")
        assert "not an instructor" in driver.page_source
        both_sizes(driver, "18-refused")

        # the whole trace, on a phone too
        driver.get(f"{server.url}/web/labs/{LAB}/trace")
        both_sizes(driver, "17-trace")
        height = driver.execute_script("return document.documentElement.scrollHeight")
        assert height < 20000, f"the trace page is {height} px tall"
    finally:
        driver.quit()


def test_an_instructor_runs_the_class_in_the_browser(server, people, tmp_path):
    import httpx
    from selenium.webdriver.common.by import By
    ann, _ = people["ann"]
    ben, _ = people["ben"]
    _, teacher_token = people["teacher"]
    roster = tmp_path / "classroom_roster.csv"  # GitHub Classroom's "Download roster"
    roster.write_text("identifier,github_username,github_id,name\n"
                      f"{ann},{ann}-gh,101,Ann A\n{ben},{ben}-gh,102,Ben B\n")
    driver = _browser()
    driver.set_window_size(*DESKTOP)
    try:
        _login(driver, server, teacher_token)
        driver.get(f"{server.url}/web/class?lab={LAB}")
        driver.find_element(By.ID, "roster-file").send_keys(str(roster))
        _wait(lambda: ann in driver.find_element(By.ID, "roster-names").get_attribute(
            "value"), 5, "the file read into the form")
        driver.find_element(By.CSS_SELECTOR, "input[name=mode][value=replace]").click()
        _submit(driver, By.ID, "roster-save")
        assert "2 students make the class" in driver.find_element(By.CSS_SELECTOR,
                                                                  ".notice").text
        listed = [r.get_attribute("data-student") for r in
                  driver.find_elements(By.CSS_SELECTOR, "#class-status tbody tr")]
        assert sorted(listed) == sorted([ann, ben]), listed  # the class, nothing else

        _submit(driver, By.ID, "class-up", timeout=180)
        assert "2 of 2 up" in driver.find_element(By.CSS_SELECTOR, ".notice").text
        _wait(lambda: driver.find_element(By.ID, "live").text == "live", 10, "the live grid")
        _wait(lambda: _grid_row(driver, ben)[-1:] == ["running; not checked yet"], 10,
              "ben's lab up in the grid")
        # a student's own check reaches the open grid at once, and keyboard focus on
        # the grid stays where it was through the redraw
        driver.execute_script("document.getElementById(arguments[0]).focus()", f"student-{ben}")
        with Client(server.url, token=people["ann"][1]) as api:
            api.check(LAB)
        _wait(lambda: (_grid_row(driver, ann) or ["-"])[0] == "10/10", 10,
              "ann's check in the grid")
        assert driver.switch_to.active_element.get_attribute("id") == f"student-{ben}"
        assert driver.find_element(By.ID, "live").get_attribute("aria-live") is None

        _submit(driver, By.ID, "check-all", timeout=180)
        notice = driver.find_element(By.CSS_SELECTOR, ".notice").text
        assert "Checked every student." in notice and "2 students" in notice, notice
        _wait(lambda: _grid_row(driver, ben), 10, "the grid after the check")
        row = _grid_row(driver, ben)
        assert row[0] == "7/10" and row.count("FAIL") == 3, row  # up, but no traffic
        assert all(":" in _grid_row(driver, s)[-2] for s in (ann, ben))  # checked at
        both_sizes(driver, "20-class")

        cookie = driver.get_cookie("labctl_session")["value"]
        with httpx.Client(base_url=server.url, cookies={"labctl_session": cookie}) as http:
            href = driver.find_element(By.ID, "export-moodle").get_attribute("href")
            moodle = http.get(href)
            plain = http.get(driver.find_element(By.ID, "export-csv").get_attribute("href"))
        assert moodle.status_code == 200 and "attachment" in moodle.headers[
            "content-disposition"]
        rows = {r["Username"]: r for r in csv.DictReader(io.StringIO(
            moodle.content.decode("utf-8-sig")))}
        assert rows[ann][LAB] == "10" and rows[ben][LAB] == "7", rows
        grid = {r["student"]: r for r in csv.DictReader(io.StringIO(
            plain.content.decode("utf-8-sig")))}
        assert grid[ann]["score"] == "10/10" and set(grid) == {ann, ben}

        driver.find_element(By.ID, "class-down").click()
        driver.switch_to.alert.accept()
        _wait(lambda: driver.find_elements(By.CSS_SELECTOR, ".notice"), 120, "class down")
        assert "2 of 2 removed" in driver.find_element(By.CSS_SELECTOR, ".notice").text
        _shot(driver, "21-class-down-1280")
        with server.local() as root:
            left = [n for n in nodes_of(root.status(LAB)) if n["instance"] in (ann, ben)]
        assert not left
    finally:
        driver.quit()
