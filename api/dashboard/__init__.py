"""Server-rendered dashboard pages (Jinja2, SVG pictures drawn on the server; no JavaScript needed)."""
