import pytest

# Test modules import helpers from this fixture module before pytest loads it as a
# plugin; registering it first keeps its asserts rewritten (detailed failures).
pytest.register_assert_rewrite("tests.search.sqlite_fixtures")
