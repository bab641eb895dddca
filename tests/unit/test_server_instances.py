"""Instance names from user names: readable, valid, and never shared by two users."""

import itertools

import pytest

from labctl.classroom.server import instances
from labctl.lab import naming

SPELLINGS = ["john.doe", "john_doe", "John Doe", "JOHN-DOE", "john-doe", "john--doe",
             "johndoe", "john.doe2", "john-doe-2", "jöhn.doe", "", "-", "x" * 40, "x" * 41,
             "bob", "bob-2", "bob-3", "bob-99", "root", "uid1000", "a--b", "a-b"]


def test_distinct_users_get_distinct_valid_instances():
    bases = {user: instances.base_instance(user) for user in SPELLINGS}
    assert len(set(bases.values())) == len(SPELLINGS)
    for base in bases.values():
        assert naming.check_instance(base) == base
        assert instances.is_base(base)


def test_clean_names_stay_readable_and_lossy_ones_carry_a_hash():
    assert instances.base_instance("alice") == "alice"
    assert instances.base_instance("john-doe") == "john-doe"
    assert instances.base_instance("john.doe").startswith("john-doe--")
    assert instances.base_instance("bob-2").startswith("bob-2--")  # else it is bob's copy


def test_no_user_owns_a_copy_of_anyone_else():
    """Every base and every copy of one user belongs to that user only."""
    bases = [instances.base_instance(user) for user in SPELLINGS]
    for mine, theirs in itertools.permutations(bases, 2):
        for number in (1, 2, 9, 10, 99):
            copy = mine if number == 1 else f"{mine}-{number}"
            assert instances.copy_number(mine, copy) == number
            assert instances.copy_number(theirs, copy) is None, (mine, theirs, copy)
            assert instances.owner_base(copy) == mine


@pytest.mark.parametrize("instance", ["bob-1", "bob-0", "bob-02", "bob-100", "bob-x", "bo",
                                      "bob-2-2", "bobby"])
def test_what_is_not_a_copy(instance):
    assert instances.copy_number("bob", instance) is None
