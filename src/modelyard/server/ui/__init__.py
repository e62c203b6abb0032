"""The web UI: server-rendered Jinja2 pages, every asset served locally (no CDN)."""
