"""The interface's translation machinery in one place (docs/i18n.md).

`make messages` extracts every marked string of the Python sources and templates into
locale/<language>/LC_MESSAGES/django.po; scripts/bootstrap.sh compiles them (.mo files are
built, not committed). Course content is not in the .po files: it is translated as Wagtail
pages (curriculum.translation).
"""

# What makemessages leaves out: third-party code, built assets, course content (translated
# as pages) and the tests' own strings.
MAKEMESSAGES_IGNORE = [
    "node_modules/*",
    "frontend/*",
    "var/*",
    "static/*",
    "staticfiles/*",
    "content/*",
    "tests/*",
    "bench/*",
    "deploy/*",
    "scripts/*",
]
