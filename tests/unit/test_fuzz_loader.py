"""No input crashes the loader: a seeded mutation fuzz over the invalid corpus and the
shipped labs. Every outcome is a valid lab or LabInvalid whose every problem is located
(`file:line: key: message`); anything else (an internal error) fails the test.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from labctl.errors import LabInvalid
from labctl.lab import loader

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [p.read_bytes() for p in sorted(ROOT.glob("labs/*/lab.yaml"))] + [
    p.read_bytes() for p in sorted(ROOT.glob("tests/cases/invalid/*/lab.yaml"))
    if p.stat().st_size < 10_000]
INPUTS = 4000

# Values that crashed the old loader, and their neighbours.
NASTY = [b"!!int \"\"", b"!!float abc", b"!!bool maybe", b"!!null x", b"!!int 0x", b"!!str",
         b"!!timestamp 2024-01-01", b"!!binary AAAA", b"!!map x", b"!!seq 1", b"!!python/none",
         b"!custom 1", b"9" * 5000, b"0x" + b"f" * 5000, b"-0b" + b"1" * 300, b"1e99999",
         b".nan", b"-.inf", b"2024-01-01", b"0o777777777777777777777777777777777777", b"~",
         b"*nowhere", b"&a [*a]", b"<<: {}", b"? [a]", b"[" * 200 + b"]" * 200, b"{a: " * 50,
         b"- " * 60, b"\"unterminated", b"yes", b"0755", b"1_000", b"+.5", b"'", b"|", b">-"]
CONTROL = [bytes([c]) for c in (*range(0, 9), 11, 12, *range(14, 32), 127)] + [
    "\u0085".encode(), "\u2028".encode(), "\ufeff".encode(), b"\xc2\x80", b"\xff"]


def mutate(rng: random.Random, data: bytearray) -> bytes:
    for _ in range(rng.randint(1, 4)):
        pos = rng.randrange(len(data) + 1)
        choice = rng.random()
        if choice < 0.15:
            del data[pos:pos + rng.randint(1, 40)]
        elif choice < 0.35 and data:
            data[min(pos, len(data) - 1)] ^= 1 << rng.randrange(8)
        elif choice < 0.5:
            data[pos:pos] = rng.choice(CONTROL)
        elif choice < 0.75:
            # replace a value after a colon with a nasty one
            colon = data.find(b": ", pos)
            if colon != -1:
                end = data.find(b"\n", colon)
                end = len(data) if end == -1 else end
                data[colon + 2:end] = rng.choice(NASTY)
        elif choice < 0.9:
            data.insert(pos, rng.choice(b" \t:-[]{}&*!|>'\"#%@`\n,?"))
        else:
            data[pos:pos] = rng.choice(NASTY)
    return bytes(data)


def outcome(path: Path) -> str:
    try:
        loader.load(path)
    except LabInvalid as exc:
        assert exc.problems, "LabInvalid without a problem"
        located = re.compile(re.escape(str(path)) + r":[1-9][0-9]*: \S.*", re.S)
        for problem in exc.problems:
            assert located.fullmatch(str(problem)), str(problem)
        return "invalid"
    return "valid"


def test_no_mutation_crashes_the_loader(tmp_path):
    rng = random.Random(20261121)
    path = tmp_path / "lab.yaml"
    seen = {"valid": 0, "invalid": 0}
    for _ in range(INPUTS):
        data = mutate(rng, bytearray(rng.choice(SOURCES)))
        path.write_bytes(data)
        try:
            seen[outcome(path)] += 1
        except AssertionError:
            raise
        except BaseException as exc:  # noqa: BLE001 - this is what the test hunts
            raise AssertionError(f"{type(exc).__name__}: {exc} for input {data[:300]!r}") from exc
    # the mutations reach both sides of the loader
    assert seen["valid"] > 20 and seen["invalid"] > 1000, seen


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.text(max_size=60), st.sampled_from(["description", "name", "exit_code"]))
def test_any_scalar_text_is_refused_or_read_never_crashes(value, key):
    text = f"name: x\nnodes: {{a: {{}}}}\nsteps: [{{on: a, run: ls}}]\n{key}: {value}\n"
    if key == "exit_code":
        text = f"name: x\nnodes: {{a: {{}}}}\nsteps: [{{on: a, run: ls, exit_code: {value}}}]\n"
    try:
        loader.parse(text, "lab.yaml")
    except LabInvalid as exc:
        assert all(re.fullmatch(r"lab\.yaml:[1-9][0-9]*: \S.*", str(p), re.S)
                   for p in exc.problems)
