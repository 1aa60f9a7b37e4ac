"""The web pages: one-stop window, registry, verification queue and dashboards (see docs/web.md)."""
