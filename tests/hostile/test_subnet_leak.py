"""Issue 18, item 4: a subnet clash told a student whose lab held the subnet.

eve's lab asks for the subnet bob's lab already has: the answer used to be
"... held by Docker network 'labctl.<bob>.<bob's lab>.lan'". A student now learns only
that the subnet is taken; an instructor (root on the socket) still sees who holds it.
"""

from __future__ import annotations

import contextlib
import os

import pytest

from labctl.classroom.client.api import ServerError
from labctl.classroom.server import instances
from tests.conftest import SESSION_PREFIX
from tests.integration import server_harness

pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(os.geteuid() != 0, reason="creates Unix users: needs root")]

# Inside the server's pool, where a student's fixed subnets must be.
FIXED = ("name: {name}\ndescription: a fixed subnet\n"
         "networks:\n  lan: {{subnet: 10.213.254.0/24}}\nnodes:\n  box: {{networks: [lan]}}\n")


@pytest.fixture
def server(node_image):
    srv = server_harness.start(instructors=f"{SESSION_PREFIX}h4t")
    try:
        yield srv
    finally:
        with srv.local() as root:
            for user in srv.users:
                for lab in ("hidden-lab", "eve-lab"):
                    with contextlib.suppress(ServerError):
                        root.down(lab, instances.base_instance(user))
        srv.stop()


def test_a_student_does_not_learn_who_holds_a_subnet(server):
    bob = server.add_user(f"{SESSION_PREFIX}h4b")
    eve = server.add_user(f"{SESSION_PREFIX}h4e")
    held = server.as_user(bob, lambda c: (c.upload(FIXED.format(name="hidden-lab")),
                                          c.up("hidden-lab"))[1])
    assert "value" in held, held

    refused = server.as_user(eve, lambda c: (c.upload(FIXED.format(name="eve-lab")),
                                             c.up("eve-lab"))[1])
    assert refused.get("status") in (400, 422, 503), refused
    message = refused["message"]
    assert "10.213.254.0/24" in message and "taken" in message
    assert bob not in message and instances.base_instance(bob) not in message
    assert "hidden-lab" not in message and "labctl." not in message

    # The instructor (root on the socket) is told who holds it.
    with server.local() as root, pytest.raises(ServerError) as told:
        root.up("eve-lab", instances.base_instance(eve))
    assert "hidden-lab" in str(told.value) and instances.base_instance(bob) in str(told.value)
    # The audit log keeps the student's answer as the student got it.
    assert not [e for e in server.audit() if e["user"] == eve and "hidden-lab" in e["result"]]
