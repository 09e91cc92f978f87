"""The API tests share one world per module: people and the demo course (see module_world)."""

from tests.api_tests.world import module_world, world  # noqa: F401  fixtures
