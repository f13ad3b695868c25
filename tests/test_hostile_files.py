"""Whatever sits where tritonform expects a user's file (a directory, a pipe, a huge or binary file, JSON nested
past Python's recursion limit) is refused with the file and what was expected, and never read whole."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tritonform.documents import parse_json, read_json, read_text, read_yaml
from tritonform.errors import UserError

pytestmark = pytest.mark.config


def _refusal(call: object) -> str:
    with pytest.raises(UserError) as caught:
        call()  # type: ignore[operator]
    (problem,) = caught.value.problems
    return problem.render()


def test_a_directory_where_a_file_is_expected(tmp_path: Path) -> None:
    assert "is a directory" in _refusal(lambda: read_yaml(tmp_path))


def test_a_pipe_is_refused_without_blocking_on_it(tmp_path: Path) -> None:
    fifo = tmp_path / "env.yaml"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    assert "not a regular file" in _refusal(lambda: read_text(fifo))


def test_a_missing_file(tmp_path: Path) -> None:
    assert "file not found" in _refusal(lambda: read_json(tmp_path / "plan.json", limit=10, what="a plan"))


def test_size_is_bounded_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(b"[" + b"0," * 600 + b"0]")
    message = _refusal(lambda: read_json(path, limit=1000, what="a Terraform plan"))
    assert "larger than 1,000 bytes" in message and "a Terraform plan" in message


def test_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "findings.json"
    path.write_bytes(b'{"a": "\xff\xfe"}')
    assert "not UTF-8 text (byte 7)" in _refusal(lambda: read_json(path, limit=1000, what="findings"))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(depth=st.integers(1, 200_000), opener=st.sampled_from(["[", '{"a":']))
def test_json_nesting_never_escapes_as_a_recursion_error(tmp_path: Path, depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    path = tmp_path / "deep.json"
    path.write_text(opener * depth + "0" + closer * depth)
    try:
        read_json(path, limit=2_000_000, what="a plan")
    except UserError as err:
        assert depth > 500  # Python's parser follows a few hundred levels at least
        assert "nested thousands of levels" in err.render()


def test_a_json_lines_record_names_its_line(tmp_path: Path) -> None:
    message = _refusal(lambda: parse_json('{"action": "attach",}', tmp_path / "dev.jsonl", line=12))
    assert message.startswith(f"{tmp_path / 'dev.jsonl'}:12: not valid JSON")


def test_a_json_document_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{\n  "format_version": "1.2",\n  "oops"\n}')
    assert "plan.json:4:1: not valid JSON: Expecting ':' delimiter" in _refusal(
        lambda: read_json(path, limit=1000, what="a plan")
    )
