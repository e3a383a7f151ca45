"""Sphinx extension for this book: each chapter page links to its graded exercise.

A chapter ``chapters/NN_topic`` has its exercise in ``exercises/NN_topic.ipynb``
(repository root). This extension

* copies the exercise notebook of every built chapter into the HTML output, as
  ``<html>/exercises/NN_topic.ipynb``, so that the links work offline;
* turns the literal ```exercises/NN_topic.ipynb``` in the chapter's text (the
  "Graded exercise" line every chapter ends with) into a link to that copy;
* adds "exercise .ipynb" to the page's download menu, beside the chapter's own
  ``.ipynb``.

The notebooks themselves are unchanged: in JupyterLab the line stays a plain
file name.
"""

import posixpath
import shutil
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform

EXERCISES = "exercises"  # folder in the output, and in the repository beside book/


def _exercise_source(app: Sphinx, docname: str) -> Path | None:
    """The exercise notebook of a chapter page, or None for other pages."""
    folder, _, name = docname.rpartition("/")
    if folder != "chapters":
        return None
    path = Path(app.confdir).parent / EXERCISES / f"{name}.ipynb"
    return path if path.is_file() else None


def _relative(docname: str, target: str) -> str:
    return posixpath.relpath(target, posixpath.dirname(docname) or ".")


class LinkExercise(SphinxPostTransform):
    """Wrap the literal `exercises/NN_topic.ipynb` of a chapter in a link to its copy."""

    default_priority = 900
    formats = ("html",)

    def run(self, **kwargs):
        docname = self.env.docname
        source = _exercise_source(self.app, docname)
        if source is None:
            return
        wanted = f"{EXERCISES}/{source.name}"
        for literal in list(self.document.findall(nodes.literal)):
            if literal.astext() != wanted or isinstance(literal.parent, nodes.reference):
                continue
            link = nodes.reference(
                "", "", refuri=_relative(docname, wanted), classes=["exercise-download"], internal=False
            )
            literal.replace_self(link)
            link += literal


def add_download_entry(app, pagename, templatename, context, doctree):
    """Add the exercise to the page's download menu (sphinx-book-theme's header buttons)."""
    source = _exercise_source(app, pagename)
    if source is None:
        return
    for group in context.get("header_buttons", []):
        if group.get("label") == "download-buttons":
            group["buttons"].insert(
                1,
                {
                    "type": "link",
                    "url": _relative(pagename, f"{EXERCISES}/{source.name}"),
                    "text": "exercise .ipynb",
                    "icon": "fas fa-pencil-alt",
                    "tooltip": "Download this chapter's graded exercise",
                    "label": "download-exercise-button",
                },
            )


def copy_exercises(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / EXERCISES
    for docname in sorted(app.env.found_docs):
        source = _exercise_source(app, docname)
        if source is not None:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target / source.name)


def setup(app: Sphinx):
    app.add_post_transform(LinkExercise)
    # after sphinx-book-theme builds its header buttons (priority 501)
    app.connect("html-page-context", add_download_entry, priority=600)
    app.connect("build-finished", copy_exercises)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
