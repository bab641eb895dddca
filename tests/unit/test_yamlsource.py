from labctl.lab.yaml_reader import load_text


def test_lines_are_recorded_per_path():
    doc = load_text("a: 1\nb:\n  - x: 2\n", "f.yaml")
    assert doc.data == {"a": 1, "b": [{"x": 2}]}
    assert doc.lines[("b", 0, "x")] == 3
    assert doc.line_of(("b", 0, "x", "missing")) == 3
    assert doc.line_of(("nothing",)) == 1


def test_aliases_within_limits_are_allowed():
    doc = load_text("a: &p {port: 80}\nb: *p\n", "f.yaml")
    assert doc.data["b"] == {"port": 80}


def test_a_control_character_is_a_located_problem_not_a_crash():
    import pytest

    from labctl.lab.yaml_reader import YamlProblem
    with pytest.raises(YamlProblem) as raised:
        load_text("name: x\ndescription: a\x11b\n", "f.yaml")
    assert str(raised.value).startswith("f.yaml:2: ")
    assert "U+0011" in str(raised.value)
