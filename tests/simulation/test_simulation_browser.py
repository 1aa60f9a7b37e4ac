"""The analyst compares in Chromium: the "what if" charts render (SVG), the page logs no error,
and in Arabic on a phone (390 px) the page is right to left without sideways scroll.

Reuses the seeded site and the browser of ``tests/web/test_browser.py`` (the demo's stored year)."""

from __future__ import annotations

import pytest

from tests.web.test_browser import Site, Tab, browser, site  # noqa: F401 (the fixtures)

# The demo records every household's consumption of the year: catastrophic spending is charted too.
CHARTS = ("chart-sim-payers", "chart-sim-oop", "chart-sim-catastrophic")


def _watch_errors(tab: Tab) -> list[str]:
    errors: list[str] = []
    tab.page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    tab.page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def _compare(tab: Tab) -> None:
    assert tab.page.url.endswith("/simulation")
    with tab.page.expect_navigation():
        tab.page.click("[data-testid=simulation-form] button[type=submit]:not([name])")
    tab.page.wait_for_selector(f"html[data-charts='{len(CHARTS)}']")


@pytest.mark.parametrize(("language", "width"), [("en", 1366), ("ar", 390)])
def test_the_analyst_sees_the_charts_beside_the_tables(browser: object, site: Site, language: str, width: int) -> None:  # noqa: F811
    tab = Tab(browser, site, width=width, height=844)
    errors = _watch_errors(tab)
    try:
        tab.sign_in("analyst")
        tab.context.add_cookies([{"name": "equicover_lang", "value": language, "url": site.base_url}])
        tab.go("/simulation")
        _compare(tab)
        for chart_id in CHARTS:
            chart = tab.page.locator(f"#{chart_id}")
            assert chart.get_attribute("data-rendered") == "true", chart_id
            assert chart.get_attribute("aria-label"), chart_id
            assert chart.locator("svg path").count() > 3, chart_id  # bars and axes
        # The payers' names are on the chart as on the table next to it.
        first_payer = tab.page.get_by_test_id("simulation-payers").locator("tbody tr td").first.inner_text()
        assert first_payer.split(" ")[0] in " ".join(tab.page.locator("#chart-sim-payers svg text").all_text_contents())
        assert tab.page.get_by_test_id("simulation-categories").locator("tbody tr").count() > 0
        assert tab.page.locator("[data-chart]").count() == len(CHARTS)
        assert tab.page.get_by_test_id("simulation-districts").locator("tbody tr").count() > 0
        assert tab.page.get_by_test_id("no-consumption").count() == 0
        assert tab.page.evaluate("document.documentElement.dir") == ("rtl" if language == "ar" else "ltr")
        overflow = tab.page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, (language, width, overflow)
        assert errors == []
    finally:
        tab.close()


def test_the_analyst_is_refused_the_registry_in_the_browser(browser: object, site: Site) -> None:  # noqa: F811
    tab = Tab(browser, site)
    try:
        tab.sign_in("analyst")
        assert [link.get_attribute("href") for link in tab.page.locator("nav a").all()][:2] == [
            "/simulation",
            "/dashboard",
        ]
        tab.go(f"/window/persons/{site.poor_person_id}")
        assert "You cannot open this page" in tab.page.content()
    finally:
        tab.close()
