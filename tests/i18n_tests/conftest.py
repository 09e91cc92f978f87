import pytest
from django.core.management import call_command


@pytest.fixture(scope="session", autouse=True)
def _translations_compiled():
    """The .mo files are built (scripts/bootstrap.sh does it too; cheap when current)."""
    call_command("compilemessages", ignore_patterns=[".venv/*", "node_modules/*"], verbosity=0)
