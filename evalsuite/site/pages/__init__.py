"""Stage 4 of the site, pages: one `Page` per HTML file with the view models its template
shows (`study`, `detail`, `changes`), the links between pages (`links`), the Jinja rendering
(`render`) and the vendored assets (`assets`).
"""
