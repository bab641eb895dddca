from labctl.yamlsource import load_text


def test_lines_are_recorded_per_path():
    doc = load_text("a: 1\nb:\n  - x: 2\n", "f.yaml")
    assert doc.data == {"a": 1, "b": [{"x": 2}]}
    assert doc.lines[("b", 0, "x")] == 3
    assert doc.line_of(("b", 0, "x", "missing")) == 3
    assert doc.line_of(("nothing",)) == 1


def test_aliases_within_limits_are_allowed():
    doc = load_text("a: &p {port: 80}\nb: *p\n", "f.yaml")
    assert doc.data["b"] == {"port": 80}
