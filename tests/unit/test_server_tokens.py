"""Tokens: shown once, stored hashed and private, revoked at once."""

from labctl.classroom.server import identity
from labctl.classroom.server.tokens import TokenStore


def test_a_token_is_stored_hashed_in_a_private_file(tmp_path):
    store = TokenStore(tmp_path / "state" / "tokens.json")
    token = store.add("alice")
    text = store.path.read_text()
    assert token.startswith("lct_") and token not in text and "alice" in text
    assert oct(store.path.stat().st_mode & 0o777) == "0o600"
    assert store.user_for(token) == "alice"
    assert store.user_for(token + "x") is None
    assert store.user_for("") is None


def test_a_new_token_replaces_the_old_and_revocation_is_seen_by_a_running_server(tmp_path):
    path = tmp_path / "tokens.json"
    server_side, instructor_side = TokenStore(path), TokenStore(path)
    first = instructor_side.add("bob")
    assert server_side.user_for(first) == "bob"
    second = instructor_side.add("bob")
    assert server_side.user_for(first) is None
    assert server_side.user_for(second) == "bob"
    assert instructor_side.revoke("bob") and not instructor_side.revoke("bob")
    assert server_side.user_for(second) is None
    assert instructor_side.users() == {}


def test_roles_come_from_the_system():
    assert identity.role_of("root", 0, "no-such-group") == identity.INSTRUCTOR
    assert identity.role_of("nobody-here-xyz", None, "root") == identity.STUDENT
    assert identity.from_token("nobody-here-xyz", "root").instructor is False
