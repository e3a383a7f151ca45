"""Tools for the book's notebooks: the Colab cell, slide metadata, slides, the repository URL.

Run with the project's Python (the Makefile does):

    python book/booktools.py prepare chapters/05_topic.ipynb   # add the Colab cell and slide metadata
    python book/booktools.py set-repository https://github.com/<you>/<repo>
    python book/booktools.py slides [--source] [--out DIR]    # reveal.js slides of the toc's chapters

`prepare` is idempotent: it rewrites the Colab cell from book/_config.yml and
recomputes every cell's `slideshow` metadata, and leaves everything else alone
(code, outputs, ids). See book/CONVENTIONS.md.
"""

import argparse
import copy
import re
import shutil
import sys
from pathlib import Path

import nbformat
import yaml

BOOK = Path(__file__).resolve().parent
ROOT = BOOK.parent
CHAPTERS = ROOT / "chapters"
CONFIG = BOOK / "_config.yml"
TOC = BOOK / "_toc.yml"
CACHE = BOOK / "_build" / ".jupyter_cache"  # jupyter-cache of `make book`: the executed chapters
SLIDES = BOOK / "_build" / "slides"
TEMPLATES = BOOK / "_slides"

COLAB_CELL_ID = "colab-install"
COLAB_TAGS = ["remove-cell", "colab-install"]
COLAB_SOURCE = '''\
# On Google Colab, install this book's package, labcode, from the book's repository
# (book/_config.yml: repository.url). Anywhere else (JupyterLab, conda, the book build,
# the tests) this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    REPOSITORY = "{url}"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", f"labcode[tf] @ git+{{REPOSITORY}}"], check=True)
'''

# Slides: a cell starts a new vertical sub-slide when the current one would grow past
# this many lines (a reveal.js slide at 960x700 with the template's fonts holds ~22).
SLIDE_LINES = 22
FIGURE_LINES = 14  # what a figure or a displayed source listing takes, in lines of text


# --------------------------------------------------------------------------- config


def config():
    return yaml.safe_load(CONFIG.read_text(encoding="utf-8"))


def repository_url():
    return config()["repository"]["url"].rstrip("/")


def toc_chapters():
    """The chapter notebooks _toc.yml lists, in order (paths under chapters/)."""
    toc = yaml.safe_load(TOC.read_text(encoding="utf-8"))
    found = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "file" and str(value).startswith("chapters/"):
                    path = BOOK / f"{value}.ipynb"
                    if path.exists():
                        found.append(CHAPTERS / path.name)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return found


# --------------------------------------------------------------------------- notebooks


def read(path):
    return nbformat.read(path, as_version=4)


def write(nb, path):
    """Write like the repository stores notebooks (nbformat's layout, trailing newline)."""
    text = nbformat.writes(nb) + "\n"
    Path(path).write_text(text, encoding="utf-8")


def colab_source(url=None):
    return COLAB_SOURCE.format(url=url or repository_url())


def colab_cell_index(nb):
    for i, cell in enumerate(nb.cells):
        if COLAB_TAGS[1] in cell.get("metadata", {}).get("tags", []):
            return i
    return None


def ensure_colab_cell(nb, url=None):
    """Put the Colab cell first (or refresh it): installs labcode on Colab, does nothing elsewhere."""
    source = colab_source(url)
    i = colab_cell_index(nb)
    if i is None:
        cell = nbformat.v4.new_code_cell(source)
        cell.id = COLAB_CELL_ID
        nb.cells.insert(0, cell)
    else:
        cell = nb.cells.pop(i)
        cell.source = source
        nb.cells.insert(0, cell)
    cell.metadata["tags"] = list(COLAB_TAGS)
    cell.metadata["slideshow"] = {"slide_type": "skip"}
    cell.outputs = []
    cell.execution_count = None
    return nb


def _height(cell):
    """Rough height of a cell on a slide, in lines of text."""
    text = cell.source if isinstance(cell.source, str) else "".join(cell.source)
    lines = text.count("\n") + 1
    if cell.cell_type == "markdown":
        return lines + 2 * text.count("$$")  # display math is taller than a line
    shows = ("plt.show()", "draw_graph(", "show_source(", ".plot(", "imshow(")
    if any(s in text for s in shows):
        lines += FIGURE_LINES
    elif "print(" in text:
        lines += 3
    return lines


def slide_metadata(nb):
    """Set every cell's slideshow metadata: `#`/`##` headings open slides, `###` and long stretches sub-slides."""
    used = None  # lines on the current (sub-)slide; None before the first visible cell
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        text = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        first = text.lstrip().split("\n", 1)[0]
        height = _height(cell)
        if "remove-cell" in tags:
            kind = "skip"
        elif used is None or (cell.cell_type == "markdown" and re.match(r"#{1,2} ", first)):
            kind, used = "slide", height
        elif (cell.cell_type == "markdown" and first.startswith("### ")) or used + height > SLIDE_LINES:
            kind, used = "subslide", height
        else:
            kind, used = "-", used + height
        cell.metadata["slideshow"] = {"slide_type": kind}
    return nb


def prepare(paths):
    """Add (or refresh) the Colab cell and the slide metadata of chapter notebooks."""
    changed = []
    for path in map(Path, paths):
        nb = read(path)
        before = copy.deepcopy(nb)
        slide_metadata(ensure_colab_cell(nb))
        if nb != before:
            write(nb, path)
            changed.append(path)
    return changed


def set_repository(url, config_path=CONFIG, chapters=CHAPTERS):
    """Set repository.url in _config.yml and in the Colab cell of every chapter that has one."""
    url = url.rstrip("/")
    if not re.fullmatch(r"https://[^\s\"'/]+/[^\s\"'/]+/[^\s\"'/]+", url):
        raise SystemExit(f"not a repository URL (https://host/owner/name): {url!r}")
    text = Path(config_path).read_text(encoding="utf-8")
    pattern = r"(?m)^(repository:\n(?:[ \t]*#.*\n)*[ \t]+url:[ \t]*)\S+.*$"
    new, count = re.subn(pattern, rf"\g<1>{url}  # the repository's public URL", text)
    if count != 1:
        raise SystemExit(f"could not find repository.url in {config_path}")
    Path(config_path).write_text(new, encoding="utf-8")
    for path in sorted(Path(chapters).glob("*.ipynb")):
        nb = read(path)
        if colab_cell_index(nb) is not None:
            write(ensure_colab_cell(nb, url), path)
    return url


# --------------------------------------------------------------------------- slides


def _reveal_dir():
    """reveal.js as shipped by the PyPI package sphinx-revealjs (no CDN, no npm)."""
    try:
        import sphinx_revealjs
    except ImportError:
        return None
    path = Path(sphinx_revealjs.__file__).parent / "_static" / "revealjs"
    return path if (path / "dist" / "reveal.js").is_file() else None


def _mathjax_dir():
    """MathJax 3 as shipped by sphinx-mathjax-offline (the book uses the same copy)."""
    import importlib.util

    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "static" / "mathjax"
    return path if (path / "tex-chtml.js").is_file() else None


def copy_assets(out):
    """Copy reveal.js and MathJax next to the slides, so the folder works offline on its own."""
    reveal, mathjax = _reveal_dir(), _mathjax_dir()
    if reveal is None:
        raise SystemExit("reveal.js not found: install the book extra (pip install sphinx-revealjs)")
    if mathjax is None:
        raise SystemExit("MathJax not found: install the book extra (pip install sphinx-mathjax-offline)")
    target = out / "reveal.js"
    if target.exists():
        shutil.rmtree(target)
    for part in ("dist", "plugin/notes", "LICENSE"):
        src = reveal / part
        if src.is_dir():
            shutil.copytree(src, target / part)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target / part)
    target = out / "mathjax"
    if target.exists():
        shutil.rmtree(target)
    # tex-chtml.js and what it may load at run time (TeX extensions, fonts, the menu);
    # not the speech rule engine (sre), which only the accessibility menu loads.
    target.mkdir(parents=True)
    shutil.copyfile(mathjax / "tex-chtml.js", target / "tex-chtml.js")
    for part in ("input", "output", "ui", "a11y", "adaptors"):
        if (mathjax / part).is_dir():
            shutil.copytree(mathjax / part, target / part)


def _without_stderr(nb):
    """The book drops stderr (TensorFlow's C++ log lines); so do the slides."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
    return nb


CITE = re.compile(r"\{cite(?::([a-z]+))?\}`([^`]+)`")


def _authors_year(entry):
    names = [" ".join(p.last_names) for p in entry.persons.get("author", [])]
    if len(names) > 2:
        who = f"{names[0]} et al."
    else:
        who = " and ".join(names)
    return who, entry.fields.get("year", "n.d.")


def plain_citations(text, entries):
    """{cite:t}`a` -> "Author (Year)", {cite:p}`a,b` -> "(Author, Year; ...)": for the slides."""

    def replace(m):
        keys = [k.strip() for k in m.group(2).split(",")]
        refs = [_authors_year(entries[k]) if k in entries else (k, "?") for k in keys]
        if m.group(1) == "t":
            return "; ".join(f"{who} ({year})" for who, year in refs)
        return "(" + "; ".join(f"{who}, {year}" for who, year in refs) + ")"

    return CITE.sub(replace, text)


def _for_slides(nb, html="../html"):
    """Markdown made for the book, made for the slides: plain citations, links into the HTML book."""
    from pybtex.database import parse_file

    entries = parse_file(str(BOOK / "references.bib"), bib_format="bibtex").entries
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        text = plain_citations(cell.source, entries)
        # [term](glossary.md#x) and [chapter](02_backprop.ipynb): to the pages of the book beside the slides
        text = re.sub(r"\]\((?!https?:)([\w.-]+)\.(?:md|ipynb)(#[^)\s]*)?\)", rf"]({html}/chapters/\1.html\2)", text)
        cell.source = text
    return nb


def executed(path, cache=CACHE):
    """The chapter with the outputs of its last execution by `make book` (jupyter-cache), or None."""
    if not Path(cache).is_dir():
        return None
    from jupyter_cache import get_cache

    try:
        _, notebook = get_cache(str(cache)).merge_match_into_notebook(read(path))
    except KeyError:  # the code changed since the book was built
        return None
    return notebook


def build_slides(out=SLIDES, source=False, chapters=None):
    """Write <out>/NN_topic.slides.html for each chapter, plus reveal.js, MathJax and an index."""
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    copy_assets(out)
    c = Config()
    c.SlidesExporter.extra_template_basedirs = [str(TEMPLATES)]
    c.SlidesExporter.template_name = "labcode_reveal"
    c.SlidesExporter.reveal_url_prefix = "reveal.js"
    c.SlidesExporter.reveal_theme = "white"
    c.SlidesExporter.reveal_transition = "none"
    c.SlidesExporter.reveal_number = "c/t"
    c.SlidesExporter.reveal_scroll = True
    c.SlidesExporter.exclude_input_prompt = True
    c.SlidesExporter.exclude_output_prompt = True
    # what the book hides stays hidden (jupyter-book's tags)
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_cell_tags = {"remove-cell"}
    c.TagRemovePreprocessor.remove_input_tags = {"remove-input"}
    c.TagRemovePreprocessor.remove_all_outputs_tags = {"remove-output"}
    exporter = SlidesExporter(config=c)
    written = []
    for path in chapters or toc_chapters():
        nb = read(path) if source else executed(path)
        if nb is None:
            print(f"slides: no execution of {path.name} in {CACHE} (run `make book` first): slides without outputs")
            nb = read(path)
        nb = _for_slides(_without_stderr(nb))
        # the title of the deck: the notebook's first heading
        heading = next((c.source for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("# ")), "")
        nb.metadata["title"] = heading.split("\n", 1)[0].lstrip("# ").strip() or path.stem
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
        target = out / f"{path.stem}.slides.html"
        target.write_text(body, encoding="utf-8")
        written.append(target)
    items = "\n".join(f'<li><a href="{p.name}">{p.stem.removesuffix(".slides")}</a></li>' for p in written)
    (out / "index.html").write_text(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Slides</title>"
        "<link rel=\"icon\" href=\"data:,\"></head>\n"
        "<body><h1>Deep Learning from Scratch and with TensorFlow: slides</h1>\n"
        "<p>One reveal.js deck per chapter. Arrow keys move, <kbd>s</kbd> opens the speaker view, "
        "<kbd>Esc</kbd> the overview. Everything here works offline.</p>\n"
        f"<ul>\n{items}\n</ul></body></html>\n",
        encoding="utf-8",
    )
    return written


# --------------------------------------------------------------------------- command line


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="add the Colab cell and slide metadata to chapter notebooks")
    p.add_argument("notebooks", nargs="+")
    p = sub.add_parser("set-repository", help="set the repository URL (config and Colab cells)")
    p.add_argument("url")
    p = sub.add_parser("slides", help="build reveal.js slides of the chapters in _toc.yml")
    p.add_argument("--out", default=str(SLIDES))
    p.add_argument("--source", action="store_true",
                   help="use the stored notebooks (no outputs), not the book's executions")
    p.add_argument("notebooks", nargs="*", help="default: the chapters in _toc.yml")
    args = parser.parse_args(argv)
    if args.command == "prepare":
        for path in prepare(args.notebooks):
            print(f"prepared {path}")
    elif args.command == "set-repository":
        print(f"repository: {set_repository(args.url)}")
    else:
        chapters = [Path(p).resolve() for p in args.notebooks] or None
        for path in build_slides(args.out, source=args.source, chapters=chapters):
            print(f"slides: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
