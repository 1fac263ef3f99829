"""Sphinx fixes for the book's HTML, so that its pages load without console errors.

- sphinx-thebe registers its configuration script once per read of the sources; when Jupyter
  Book reads twice, every page declares ``const THEBE_JS_URL`` twice and the browser reports a
  SyntaxError. Scripts with identical content are kept once.
- pydata-sphinx-theme logs "Got invalid theme mode" on a reader's first visit, when no mode is
  stored yet; the mode starts as "auto" (follow the system), which is what the theme then
  falls back to anyway.
"""

from __future__ import annotations


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        attributes = getattr(script, "attributes", {})
        key = (getattr(script, "filename", None) or "", tuple(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


# Runs before the theme's own script, which rejects the empty mode of a first visit.
_MODE_SCRIPT = (
    "if (!document.documentElement.dataset.mode) "
    "{ document.documentElement.dataset.mode = 'auto'; }"
)


def setup(app):
    app.add_js_file(None, body=_MODE_SCRIPT, priority=100)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
