"""Class lists: plain lines or a CSV column; bad lines named by file:line."""

import pytest

from labctl.classroom.roster import parse_students
from labctl.errors import InvalidInput


def test_one_name_per_line_skips_blanks_comments_and_repeats():
    assert parse_students("# class A\nalice\n\n john.doe \nalice\n", "c.txt") == [
        "alice", "john.doe"]


def test_csv_column_by_header():
    text = "Name,User name,Email\nAlice A,alice,a@x\nBob B,bob,b@x\n"
    assert parse_students(text, "c.csv") == ["alice", "bob"]
    assert parse_students("login;group\ncarol;1\n", "c.csv") == ["carol"]


def test_csv_without_a_user_column():
    with pytest.raises(InvalidInput, match=r"c.csv:1: no column of user names"):
        parse_students("fullname,group\nAnn Smith,1\n", "c.csv")
    with pytest.raises(InvalidInput, match=r"c.csv:1: no column of user names"):
        parse_students("name,group\nAnn Smith,1\n", "c.csv")  # never a full name


def test_bad_name_names_its_line():
    with pytest.raises(InvalidInput, match=r"c.txt:3: 'a/b' is not a user name"):
        parse_students("alice\n\na/b\n", "c.txt")
    with pytest.raises(InvalidInput, match=r"c.csv:3: '' is not a user name"):
        parse_students("user,x\nalice,1\n,2\n", "c.csv")


def test_empty_list():
    with pytest.raises(InvalidInput, match="no user names"):
        parse_students("# nobody\n", "c.txt")
