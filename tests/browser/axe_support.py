"""axe-core (frontend/node_modules/axe-core, a devDependency) run inside a Playwright page:
the accessibility checks of the browser tests (issue 17 item 9)."""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).resolve().parents[2] / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")  # the impacts a test fails on

# Playwright's evaluate runs outside the page's Content-Security-Policy, so axe loads on
# every page, the viewer's strict policy included; all of axe's rules run (none disabled).
AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
  }));
}"""


def axe_violations(page) -> list[dict]:
    """axe-core's violations on the page as it is now, every rule enabled."""
    assert AXE.exists(), "axe-core is missing: `npm ci` in frontend/ installs it"
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    return page.evaluate(AXE_RUN)


def blocking_violations(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v["impact"] in BLOCKING]


def violations_describe(violations: list[dict]) -> str:
    return "; ".join(
        f"{v['id']} ({v['impact']}, {len(v['nodes'])}x: {v['nodes'][0]['target']})"
        for v in violations
    )
