"""Every test names exactly one tier (config, constructs, synth, e2e), so `pytest -m <tier>` misses none.

The check is tests/conftest.py's collection hook; these run it on small throw-away test modules.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import TIERS

pytestmark = pytest.mark.config

CONFTEST = Path(__file__).with_name("conftest.py")
MARKERS = "[pytest]\naddopts = --strict-markers\nmarkers =\n    other: not a tier\n" + "".join(
    f"    {tier}: a tier\n" for tier in TIERS
)


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makeini(MARKERS)
    return pytester


def test_a_module_without_a_tier_is_refused_by_name(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_tiered="import pytest\npytestmark = pytest.mark.config\ndef test_a(): pass\n",
        test_untiered="def test_b(): pass\n",
    )

    result = suite.runpytest("-m", "config")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*pytestmark = pytest.mark.config*", "*test_untiered.py: no tier"])
    assert "test_tiered.py" not in result.stderr.str()


def test_a_test_in_two_tiers_is_refused(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_both="import pytest\npytestmark = pytest.mark.config\n@pytest.mark.e2e\ndef test_a(): pass\n")

    result = suite.runpytest()

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_both.py: config, e2e"])


def test_one_tier_each_runs_and_selects(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_fast="import pytest\npytestmark = pytest.mark.config\ndef test_a(): pass\n",
        test_slow="import pytest\npytestmark = [pytest.mark.e2e, pytest.mark.other]\ndef test_b(): pass\n",
    )

    result = suite.runpytest("-m", "config")

    result.assert_outcomes(passed=1, deselected=1)
