"""Rendering: the region's configuration built from Jinja2 templates into the project's build folder."""
