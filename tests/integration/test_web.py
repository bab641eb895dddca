"""The web interface and `labctl class` in a real browser, against a real server and Docker.

Headless Chromium (Debian's chromium and chromium-driver) driven by Selenium: a student
logs in, brings handshake-lab up, runs its step and sees the checks turn green; the
instructor's grid shows it live; a second student sees none of it. Screenshots of each
page go to tests/artifacts/web/ (printed at the end) to be looked at.

Also `labctl class check handshake-lab --format csv` with three students: one did the
exercise, one only brought the lab up, one has no lab.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from labctl.classroom.client.class_api import ClassClient
from tests.conftest import ROOT, SESSION_PREFIX
from tests.integration import server_harness
from tests.integration.server_harness import nodes_of

pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(os.geteuid() != 0, reason="creates Unix users: needs root")]

LAB = "handshake-lab"
ARTIFACTS = ROOT / "tests" / "artifacts" / "web"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
LIVE_WITHIN = 2.0  # seconds from a student's check to the instructor's grid


@pytest.fixture(scope="module")
def server(node_image):
    with server_harness.web_server(f"{SESSION_PREFIX}wteach") as srv:
        yield srv


@pytest.fixture(scope="module")
def people(server):
    return server_harness.class_of(server, f"{SESSION_PREFIX}w", f"{SESSION_PREFIX}wteach")


def _browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,800",
                "--disable-dev-shm-usage"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(180)
    return driver


def _shot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}", file=sys.stderr)
    return path


def _login(driver, server, token: str, shot: str | None = None) -> None:
    from selenium.webdriver.common.by import By
    driver.get(server.url + "/web/")
    assert driver.current_url.endswith("/web/login")
    if shot:
        _shot(driver, shot)
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait
    old = driver.find_element(By.TAG_NAME, "html")
    field = driver.find_element(By.ID, "token")
    field.send_keys(token)
    field.submit()
    # submit() may return before the next page replaces the login page.
    WebDriverWait(driver, 60).until(expected_conditions.staleness_of(old))
    WebDriverWait(driver, 60).until(
        lambda d: d.execute_script("return document.readyState") == "complete")


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout}s")


def _submit(driver, by, value, timeout: float = 120) -> None:
    """Click a form's button and wait for the page the server answers with: the click
    itself may return before the old page is replaced."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(by, value).click()
    WebDriverWait(driver, timeout).until(expected_conditions.staleness_of(old))
    WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script("return document.readyState") == "complete")


def _grid_row(driver, student: str) -> list[str]:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    try:
        row = driver.find_element(By.CSS_SELECTOR, f"#grades tr[data-student='{student}']")
        return [c.text for c in row.find_elements(By.CSS_SELECTOR, "td")]
    except (StaleElementReferenceException, Exception):  # redrawn under us: look again
        return []


@pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs chromium and chromium-driver")
def test_student_instructor_and_a_second_student_in_a_browser(server, people):
    from selenium.webdriver.common.by import By
    ann, ann_token = people["ann"]
    ben, ben_token = people["ben"]
    _, teacher_token = people["teacher"]
    student, teacher, other = _browser(), _browser(), _browser()
    try:
        # The instructor's grid is open before the student starts.
        _login(teacher, server, teacher_token)
        teacher.get(f"{server.url}/web/class?lab={LAB}")
        _wait(lambda: teacher.find_element(By.ID, "live").text.startswith("live"), 10,
              "the grid's event stream")

        _login(student, server, ann_token, shot="1-login")
        assert student.current_url.endswith("/web/labs")
        _shot(student, "2-student-labs-down")
        _submit(student, By.ID, f"up-{LAB}")  # the page comes back once the lab listens
        assert "running" in student.find_element(By.ID, f"title-{LAB}").text
        _wait(lambda: _grid_row(teacher, ann)[-1:] == ["running; not checked yet"], 5,
              "the grid showing ann's lab up")
        # steps and checks answer in the page (the lab's page keeps its terminals)
        student.find_element(By.ID, f"step-{LAB}-1").click()
        _wait(lambda: "PASS" in student.find_element(By.ID, "step-result-1").text, 60,
              "step 1")
        assert not student.find_elements(By.CSS_SELECTOR, ".error"), student.page_source
        student.find_element(By.ID, f"check-{LAB}").click()
        _wait(lambda: student.find_elements(By.CSS_SELECTOR, f"#checks-{LAB} td"), 60,
              "the checks")
        checked = time.monotonic()
        cells = student.find_elements(By.CSS_SELECTOR, f"#checks-{LAB} td.pass, "
                                                       f"#checks-{LAB} td.fail")
        assert cells and all(c.text == "PASS" for c in cells), student.page_source
        student.execute_script(f"document.getElementById('checks-{LAB}').scrollIntoView()")
        _shot(student, "3-student-checks-green")
        _submit(student, By.ID, f"trace-{LAB}")
        assert "complete handshake" in student.page_source
        _shot(student, "4-student-trace")

        row = _wait(lambda: (r := _grid_row(teacher, ann)) and r[0].startswith("10/10") and r,
                    LIVE_WITHIN + 3, "the instructor's grid")
        print(f"grid updated {time.monotonic() - checked:.2f}s after the student's check "
              "page came back", file=sys.stderr)
        assert time.monotonic() - checked < LIVE_WITHIN + 3
        assert row.count("PASS") == 10
        _shot(teacher, "5-instructor-grid")

        _submit(teacher, By.LINK_TEXT, ann)
        assert "PASS" in teacher.find_element(By.ID, f"checks-{LAB}").text
        _shot(teacher, "6-instructor-student-view")

        # The second student: none of ann's data, and no way to ask for it.
        _login(other, server, ben_token)
        page = other.page_source
        assert ann not in page and "PASS" not in page and "Bring up" in page
        _shot(other, "7-second-student")
        other.get(f"{server.url}/web/labs?instance={ann}")
        assert "is not yours" in other.page_source and "PASS" not in other.page_source
        other.get(f"{server.url}/web/labs/{LAB}/trace?instance={ann}")
        assert "is not yours" in other.page_source
        other.get(f"{server.url}/web/class?lab={LAB}")
        assert "not an instructor" in other.page_source
        _shot(other, "8-second-student-refused")
    finally:
        for driver in (student, teacher, other):
            driver.quit()


def _check_live_grid_latency(server, people) -> float:
    """Seconds from a check through the API to the grid's event (one SSE read)."""
    import httpx
    _, teacher_token = people["teacher"]
    ann, ann_token = people["ann"]
    with httpx.Client(base_url=server.url, timeout=60) as http:
        # the login page starts a session: its id, not the token, is the cookie
        assert http.post("/web/login", data={"token": teacher_token}).status_code == 303
        cookies = {"labctl_session": http.cookies["labctl_session"]}
    with httpx.Client(base_url=server.url, cookies=cookies, timeout=60) as http, \
            http.stream("GET", f"/web/class/{LAB}/events") as events:
        lines = events.iter_lines()
        assert next(lines).startswith("retry")
        with ClassClient(server.url, token=ann_token) as api:
            began = time.monotonic()
            api.check(LAB)
        for line in lines:
            if line.startswith("event: change"):
                return time.monotonic() - began
    raise AssertionError("no change event")


def test_grid_event_follows_an_api_check(server, people):
    """A check the student runs from the CLI/API reaches the grid's event stream at once."""
    ann, ann_token = people["ann"]
    with ClassClient(server.url, token=ann_token) as api:
        if not nodes_of(api.status(LAB)):
            api.up(LAB)
    seconds = _check_live_grid_latency(server, people)
    print(f"change event {seconds:.2f}s after the API check was sent", file=sys.stderr)
    assert seconds < 30  # includes the check itself; the event follows its reply at once


def test_class_check_csv_one_row_per_student(server, people, tmp_path):
    """did the exercise: passes; only `up`: fails the wire checks; no lab: says so."""
    did, only_up, none = (f"{SESSION_PREFIX}c{n}" for n in ("did", "up", "no"))
    tokens = {user: server.token(user) for user in (did, only_up, none)}
    for user in (did, only_up):
        with ClassClient(server.url, token=tokens[user]) as api:
            api.up(LAB)
    with ClassClient(server.url, token=tokens[did]) as api:
        done = api.exec(LAB, "client", ["curl", "-s", "--compressed", "http://server/"])
        assert "Hello World!" in done["stdout"]
    class_list = tmp_path / "class.csv"
    class_list.write_text(f"Name,User name\nDid,{did}\nUp,{only_up}\nNone,{none}\n")
    _, teacher_token = people["teacher"]
    done = server.labctl("class", "check", LAB, "--students", str(class_list), "--format",
                         "csv", "--server", server.url, "--token", teacher_token)
    assert done.returncode == 0, done.stderr
    print(done.stdout, file=sys.stderr)
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(done.stdout.lstrip("\ufeff")))}
    assert sorted(rows) == sorted((did, only_up, none))
    wire = [k for k in rows[did] if "handshake" in k or "teardown" in k or "MSS" in k]
    assert len(wire) == 3
    assert rows[did]["state"] == "checked" and rows[did]["score"] == "10/10"
    assert rows[only_up]["state"] == "checked"
    assert all(rows[only_up][k] == "FAIL" for k in wire), rows[only_up]
    assert rows[only_up]["1. server listens on tcp 0.0.0.0:80"] == "PASS"
    assert rows[none]["state"] == "no lab"
    assert rows[none]["note"] == f"{LAB} is not running"
    assert "3 students: 1 passed every check, 1 failed some, 1 had no lab running" \
        in done.stderr
    # Checks never count their own traffic: grading again changes no grade.
    again = server.labctl("class", "check", LAB, "--students", str(class_list), "--format",
                          "csv", "--server", server.url, "--token", teacher_token)
    assert again.returncode == 0, again.stderr
    regraded = {r["student"]: r for r in csv.DictReader(io.StringIO(again.stdout.lstrip("\ufeff")))}
    graded = ["state", "score", *wire]
    assert {s: [r[k] for k in graded] for s, r in regraded.items()} == \
        {s: [r[k] for k in graded] for s, r in rows.items()}

    if CHROMIUM and DRIVER:  # the same grades in the instructor's grid
        from selenium.webdriver.common.by import By
        browser = _browser()
        try:
            _login(browser, server, teacher_token)
            browser.get(f"{server.url}/web/class?lab={LAB}")
            row = _wait(lambda: _grid_row(browser, only_up), 10, "the grid")
            assert row[0] == "7/10" and row.count("FAIL") == 3
            assert _grid_row(browser, none)[-1] == f"{LAB} is not running"
            browser.execute_script("arguments[0].scrollIntoView()", browser.find_element(
                By.CSS_SELECTOR, f"tr[data-student='{did}']"))
            _shot(browser, "9-instructor-grid-three-students")
        finally:
            browser.quit()

    # a student may not grade the class
    refused = server.labctl("class", "check", LAB, "--server", server.url,
                            "--token", tokens[did])
    assert refused.returncode == 2 and "not an instructor" in refused.stderr


def test_class_up_status_down_with_progress(server, people, tmp_path):
    """Prepare a lab for a class list, see it in class status, remove it: a line each."""
    first, second = f"{SESSION_PREFIX}u1", f"{SESSION_PREFIX}u2"
    class_list = tmp_path / "class.txt"
    class_list.write_text(f"# two students\n{first}\n{second}\n")
    _, teacher_token = people["teacher"]
    talk = ("--server", server.url, "--token", teacher_token)
    up = server.labctl("class", "up", LAB, "--students", str(class_list), *talk)
    assert up.returncode == 0, up.stderr
    progress = [line for line in up.stderr.splitlines() if line.startswith("[")]
    assert len(progress) == 2 and all(": ok: 2 nodes up" in line for line in progress)
    assert {line.split()[1] for line in progress} == {first, second}

    status = server.labctl("class", "status", "--format", "csv", *talk)
    assert status.returncode == 0, status.stderr
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(status.stdout.lstrip("\ufeff")))}
    for user in (first, second):
        assert rows[user]["lab"] == LAB and rows[user]["state"] == "running"
        assert rows[user]["nodes"] == "client, server" and rows[user]["up_for"] != "-"

    down = server.labctl("class", "down", LAB, "--students", str(class_list), *talk)
    assert down.returncode == 0, down.stderr
    assert down.stderr.count(": ok: removed 2 containers") == 2
    with server.local() as root:
        assert not [n for n in nodes_of(root.status(LAB)) if n["instance"] in (first, second)]
