"""The cassettes in cassettes/llamaindex/ are labelled, match their generator, and hold no secrets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from llamaindex_cassette_kit import LABEL_PREFIX
from llamaindex_cassette_specs import ALL, rendered
from llamaindex_support import CASSETTE_DIR

FILES = sorted(CASSETTE_DIR.glob("*.yaml"))
TOKEN_LIKE = re.compile(r"hf_[A-Za-z0-9]{30,}")


def test_every_spec_has_a_cassette_and_back() -> None:
    assert {path.stem for path in FILES} == set(ALL)


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_cassette_is_labelled_and_clean(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    first_line = text.splitlines()[0]
    assert first_line.startswith(("# synthesized by ", "# hand-written", "# recorded live "))
    assert not TOKEN_LIKE.search(text)
    document = yaml.safe_load(text)
    for interaction in document["interactions"]:
        headers = {name.lower() for name in interaction["request"]["headers"]}
        assert "authorization" not in headers
        assert "cookie" not in headers


def test_synthesized_cassettes_match_their_specs() -> None:
    expected = rendered()
    stale = [
        path.name
        for path in FILES
        if path.read_text(encoding="utf-8").startswith(LABEL_PREFIX)
        and path.read_text(encoding="utf-8") != expected[path.name]
    ]
    assert stale == [], "run: python tests/llamaindex/llamaindex_cassette_specs.py"
