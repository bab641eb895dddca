"""The classroom server against real Docker and real Unix users made by the test.

Students reach the server through its Unix socket as who the kernel says they are,
or over HTTPS with a token; neither has Docker access, and neither can touch the
other's lab by any parameter.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import threading
import time

import pytest

from labctl.classroom.server import instances
from labctl.lab import naming
from tests.conftest import SESSION_PREFIX
from tests.integration import server_harness

pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(os.geteuid() != 0, reason="creates Unix users: needs root")]

LAB = "handshake-lab"
# A one-node lab a student sends: quick to bring up.
SOLO = "name: {name}\ndescription: a lab of one\nnodes:\n  box: {{}}\n"


@pytest.fixture(scope="module")
def server(node_image):
    srv = server_harness.start("--labs-per-student", "2", "--nodes-per-lab", "4",
                               "--concurrent-ups", "2", instructors=f"{SESSION_PREFIX}teach")
    try:
        yield srv
    finally:
        srv.stop()
        assert not srv.socket.exists()


@pytest.fixture(scope="module")
def alice(server):
    return server.add_user(f"{SESSION_PREFIX}a")


@pytest.fixture(scope="module")
def bob(server):
    return server.add_user(f"{SESSION_PREFIX}b")


@pytest.fixture(scope="module")
def alice_lab(server, alice, api):
    """alice's handshake-lab, brought up through the socket by alice (twice at once)."""
    results = {}

    def press_up(client):
        threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, client.up(LAB)))
                   for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return [results[0], results[1]]

    outcome = server.as_user(alice, press_up)
    try:
        yield outcome
    finally:
        api_down(api, LAB, alice)


def api_down(api, lab, instance):
    """Clean-up by labels, whatever the test did."""
    filters = {"label": naming.label_filters(lab, instance)}
    for container in api.containers(all=True, filters=filters):
        api.remove_container(container["Id"], force=True)
    for network in api.networks(filters=filters):
        api.remove_network(network["Id"])


def running(api, lab, instance) -> list[str]:
    filters = {"label": naming.label_filters(lab, instance)}
    return sorted(c["State"] for c in api.containers(all=True, filters=filters))


def test_a_student_without_docker_access_uses_a_lab_through_the_socket(server, alice,
                                                                        alice_lab, api):
    groups = subprocess.run(["id", "-nG", alice], capture_output=True, text=True).stdout
    assert "docker" not in groups.split()
    docker_ps = subprocess.run([shutil.which("runuser"), "-u", alice, "--", "docker", "ps"],
                               capture_output=True, text=True,
                               env={"PATH": "/usr/local/bin:/usr/bin:/bin"})
    assert docker_ps.returncode != 0 and "permission denied" in docker_ps.stderr.lower()

    # Both `up`s pressed at once succeeded, and made one lab, not two halves.
    first, second = (report["labs"][0] for report in alice_lab["value"])
    assert alice_lab["value"][0]["schema"] == "labctl.service.report/1"  # what --json prints
    assert first["instance"] == second["instance"] == alice
    assert {n["node"] for n in first["nodes"]} == {"server", "client"}
    assert running(api, LAB, alice) == ["running", "running"]

    def work(client):
        me = client.whoami()
        step = client.exec(LAB, "client", ["curl", "-s", "--compressed", "http://server/"])
        failing = client.exec(LAB, "client", ["sh", "-c", "echo oops >&2; exit 7"])
        report = client.check(LAB)
        logs = client.logs(LAB, "server")
        status = client.status()
        assert client.up_progress(LAB)["state"] == "none"  # nothing queued or starting
        return me, step, failing, report, logs, status

    me, step, failing, report, logs, status = server.as_user(alice, work)["value"]
    assert me == {"user": alice, "role": "student", "via": "socket", "instance": alice}
    assert step["exit_code"] == 0 and "Hello World!" in step["stdout"]
    assert failing == {"exit_code": 7, "stdout": "", "stderr": "oops\n"}
    failed = [c["title"] for c in report["labs"][0]["checks"] if not c["passed"]]
    assert report["passed"], failed
    assert logs.strip()
    assert {lab["instance"] for lab in status["labs"]} == {alice}

    down = server.as_user(alice, lambda client: client.down(LAB))["value"]
    assert down["containers"] == 2
    assert running(api, LAB, alice) == []
    actions = [(e["user"], e["action"], e["result"].split(":")[0]) for e in server.audit()
               if e["user"] == alice]
    for action in ("up", "exec", "check", "logs", "down"):
        assert (alice, action, "ok") in actions


def test_a_second_student_cannot_touch_the_first_students_lab(server, alice, bob, api):
    up = server.as_user(alice, lambda client: client.up(LAB))
    assert "value" in up, up
    try:
        attempts = {
            "exec": lambda c: c.exec(LAB, "server", ["id"], instance=alice),
            "logs": lambda c: c.logs(LAB, "server", instance=alice),
            "check": lambda c: c.check(LAB, instance=alice),
            "down": lambda c: c.down(LAB, instance=alice),
            "down a copy": lambda c: c.down(LAB, instance=f"{alice}-2"),
            "up over it": lambda c: c.up(LAB, instance=alice),
            "status": lambda c: c.status(instance=alice),
            "up progress": lambda c: c.up_progress(LAB, instance=alice),
            "path trick": lambda c: c.down(LAB, instance="../" + alice),
        }
        for what, attempt in attempts.items():
            outcome = server.as_user(bob, attempt)
            assert outcome.get("status") in (403, 404, 422), (what, outcome)
        mine = server.as_user(bob, lambda c: c.status())["value"]
        assert all(lab["instance"] != alice for lab in mine["labs"])
        assert running(api, LAB, alice) == ["running", "running"]
        refused = [e for e in server.audit() if e["user"] == bob
                   and e["result"].startswith("refused 403")]
        assert {e["action"] for e in refused} >= {"exec", "logs", "check", "down", "up"}
        assert all(e["instance"] == alice or e["instance"].startswith(alice)
                   for e in refused if e["action"] != "status")

        # A member of the instructors' group may look into any student's lab.
        teacher = server.add_user(f"{SESSION_PREFIX}t", f"{SESSION_PREFIX}teach")
        seen = server.as_user(teacher, lambda c: (
            c.whoami()["role"], c.exec(LAB, "server", ["hostname"], instance=alice)["stdout"],
            sorted({lab["instance"] for lab in c.status(lab=LAB)["labs"]})))["value"]
        assert seen[0] == "instructor" and seen[1].strip() == "server"
        assert alice in seen[2]
    finally:
        api_down(api, LAB, alice)


def test_john_doe_and_john_underscore_doe_get_separate_labs(server, api):
    dotted = server.add_user(f"{SESSION_PREFIX}john.doe")
    underscored = server.add_user(f"{SESSION_PREFIX}john_doe")
    lab = f"solo{SESSION_PREFIX.strip('t-')}"
    made = []
    try:
        for user in (dotted, underscored):
            def work(client):
                client.upload(SOLO.format(name=lab))
                return client.up(lab)
            outcome = server.as_user(user, work)
            assert "value" in outcome, outcome
            made.append(outcome["value"]["labs"][0]["instance"])
        assert made[0] != made[1]
        assert made == [instances.base_instance(dotted), instances.base_instance(underscored)]
        for inst in made:
            assert running(api, lab, inst) == ["running"]
    finally:
        for inst in made:
            api_down(api, lab, inst)


def test_a_student_has_at_most_the_labs_the_instructor_allows(server, api):
    user = server.add_user(f"{SESSION_PREFIX}c")
    instance = instances.base_instance(user)
    labs = [f"limit{i}" for i in range(3)]

    def work(client):
        for lab in labs:
            client.upload(SOLO.format(name=lab))
        client.up(labs[0])
        client.up(labs[1], instance=f"{instance}-2")
        again = client.up(labs[0])  # the same lab again is no new lab
        return again["labs"][0]["instance"], client.up(labs[2])

    try:
        outcome = server.as_user(user, work)
        assert outcome["status"] == 429, outcome
        assert "limit 2" in outcome["message"]
        assert running(api, labs[2], instance) == []
        assert running(api, labs[0], instance) == ["running"]
    finally:
        api_down(api, labs[0], instance)
        api_down(api, labs[1], f"{instance}-2")
        api_down(api, labs[2], instance)


def test_a_token_user_over_https_and_a_revoked_token(server, api):
    user = f"{SESSION_PREFIX}remote"
    token = server.token(user)
    assert token.startswith("lct_")
    stored = (server.state / "tokens.json")
    assert oct(stored.stat().st_mode & 0o777) == "0o600" and token not in stored.read_text()
    try:
        with server.remote(token) as client:
            assert client.whoami() == {"user": user, "role": "student", "via": "token",
                                       "instance": user}
            nodes = client.up(LAB)["labs"][0]["nodes"]
            assert {n["node"] for n in nodes} == {"server", "client"}
            step = client.exec(LAB, "client", ["curl", "-s", "--compressed", "http://server/"])
            assert step["exit_code"] == 0 and "Hello World!" in step["stdout"]
            assert client.check(LAB)["passed"]
            with pytest.raises(server_harness.ServerError) as refused:
                client.exec(LAB, "server", ["id"], instance="root")
            assert refused.value.status == 403
            assert client.down(LAB)["containers"] == 2
        revoke = server.labctl("token", "revoke", user, "--state-dir", str(server.state))
        assert revoke.returncode == 0, revoke.stderr
        for bad in (token, "lct_not-a-token", None):
            with server.remote(bad) as client, pytest.raises(
                    server_harness.ServerError) as refused:
                client.whoami()
            assert refused.value.status == 401
    finally:
        api_down(api, LAB, user)


def test_bad_input_gets_one_clear_4xx(server):
    user = f"{SESSION_PREFIX}bad"
    token = server.token(user)
    with server.remote(token) as client:
        http = client._http
        cases = [
            (http.post("/v1/labs/nolab/up"), 404, "no lab named 'nolab'"),
            (http.post("/v1/labs", content=b"{not json",
                       headers={"content-type": "application/json"}), 422, "malformed JSON"),
            (http.post("/v1/labs", json={"yaml": "x" * 2_000_000}), 413, "over"),
            (http.post("/v1/labs", json={"yaml": "name: x\nnodes: 3\n"}), 422,
             "uploaded lab.yaml:2"),
            (http.post("/v1/labs", json={"yaml": SOLO.format(name=LAB)}), 400,
             "is a lab of this server"),
            (http.post("/v1/labs", json={"yaml": "name: big\nnodes:\n" + "".join(
                f"  n{i}: {{}}\n" for i in range(5))}), 422, "up to 4"),
            (http.post("/v1/labs", json={"yaml": "name: img\nnodes:\n  a: {image: alpine}\n"}),
             400, "name an image"),
            (http.post("/v1/labs/handshake-lab/nodes/client/exec", json={"command": []}), 422,
             "body.command"),
            (http.get("/v1/status", params={"instance": "Not Valid"}), 422, "query.instance"),
        ]
        for response, status, message in cases:
            assert response.status_code == status, response.text
            assert message in response.json()["detail"], response.text


def test_a_server_stopped_during_an_up_leaves_a_whole_lab_that_the_next_one_sees(api):
    instance = f"{SESSION_PREFIX}stop"
    first = server_harness.start()
    outcome = {}

    def press_up():
        try:
            with first.local() as client:
                outcome["up"] = client.up(LAB, instance=instance)
        except server_harness.ServerError as exc:
            outcome["error"] = exc

    presser = threading.Thread(target=press_up)
    try:
        presser.start()
        time.sleep(0.5)  # the up is under way
        first.stop()  # SIGTERM
        presser.join(timeout=60)
        states = running(api, LAB, instance)
        assert states == ["running", "running"], (states, outcome)  # finished, not cut
        second = server_harness.start()
        try:
            with second.local() as client:
                seen = client.status(instance=instance)["labs"][0]["nodes"]
            assert len(seen) == len(states)
        finally:
            second.stop()
    finally:
        api_down(api, LAB, instance)


# -- the API fuzzed from its own OpenAPI description ---------------------------------
@pytest.fixture(scope="module")
def fuzz(server):
    """The server's schema, and a student's token to send with every generated request."""
    import schemathesis
    token = server.token(f"{SESSION_PREFIX}fuzz")
    with server.remote(token) as client:
        raw = client._http.get("/openapi.json").json()
    return schemathesis.openapi.from_dict(raw), token


def test_the_api_never_answers_500_nor_breaks_its_schema(server, fuzz):
    """A few hundred generated requests, valid and not, only against this test's server."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis.generation.modes import GenerationMode
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    schema, token = fuzz
    user = f"{SESSION_PREFIX}fuzz"
    before = sum(1 for e in server.audit() if e["user"] == user)
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    for operation, mode in itertools.product(operations, GenerationMode):
        @settings(max_examples=20, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def call(case):
            # Every check but "schema-valid means accepted": a lab file that is a valid
            # string can still be an invalid lab (422), and a valid name an unknown lab.
            case.call_and_validate(base_url=server.https, verify=str(server.cert),
                                   headers={"authorization": f"Bearer {token}"},
                                   excluded_checks=[positive_data_acceptance])

        try:
            call()
        except Unsatisfiable:
            assert mode == GenerationMode.NEGATIVE  # no parameter to get wrong (GET /whoami)
        except Exception as exc:  # noqa: BLE001 - gather every operation's failure
            failures.append(f"{operation.label} ({mode}): {exc}")
    assert not failures, "\n\n".join(failures)
    sent = sum(1 for e in server.audit() if e["user"] == user) - before
    print(f"{sent} generated requests, no failure")
    assert sent >= 200, f"only {sent} requests reached the server"
