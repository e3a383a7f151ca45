"""The HTML book: it builds with warnings as errors, and it is complete offline.

The book is built once per test session (shared by this module and
tests/test_book_browser.py, across pytest-xdist workers), into a temporary
directory, from book/_config.yml with one change: the notebooks are not executed
(the notebook tests execute them, and `make book` executes them for the real
book). Everything else, --nitpick and --warningiserror included, is as in
`make book`.

Besides the files, this module checks what the book promises its readers: the
notation page, launch links (Colab, Binder) built from the one repository URL,
the Colab cell at the top of every chapter, downloads of each chapter and its
exercise, references, and the slide metadata. The glossary has its own module
(tests/test_book_glossary.py), and a real browser checks the pages
(tests/test_book_browser.py).
"""

import copy
import fcntl
import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTER_1 = ROOT / "chapters" / "01_autodiff.ipynb"
sys.path.insert(0, str(BOOK))
import booktools  # noqa: E402  (book/booktools.py: the Colab cell, slide metadata, slides)

# <link rel=...> values that make the browser fetch the target.
RESOURCE_RELS = set(
    "stylesheet preload modulepreload prefetch preconnect dns-prefetch icon shortcut"
    " apple-touch-icon manifest mask-icon".split()
)
# Attributes that make the browser fetch something, on any tag but <a> and <link>.
FETCH_ATTRS = {"src", "href", "data", "poster", "srcset", "background"}
# Hosts of the CDNs and trackers a jupyter-book build can pull in.
CDN = re.compile(
    r"cdn\.jsdelivr\.net|unpkg\.com|cdnjs\.cloudflare\.com|fonts\.googleapis\.com|fonts\.gstatic\.com"
    r"|googletagmanager\.com|google-analytics\.com|plausible\.io|hypothes\.is|utteranc\.es"
    r"|require(?:\.min)?\.js|mathjax@|/thebe@",
    re.IGNORECASE,
)
CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)|@import\s+(['"])(.*?)\3""", re.IGNORECASE)
JS_TYPES = {"", "text/javascript", "application/javascript", "module"}


def is_local(url):
    """True for a URL that stays inside the book: relative, fragment-only, or data:."""
    url = url.strip()
    parts = urlsplit(url)
    return not parts.netloc and parts.scheme in ("", "data", "blob")


class PageScanner(HTMLParser):
    """Collects what a page loads: script sources, stylesheets, inline scripts and styles."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.loads = []  # (tag, attribute, url)
        self.scripts = []  # src of every <script src>
        self.inline = []  # (tag, text) of inline <script> (JS only) and <style>
        self._open = None

    def handle_starttag(self, tag, attrs):
        attrs = {k: (v or "") for k, v in attrs}
        if tag == "a":
            return  # plain links (launch links, references) load nothing
        if tag == "link":
            rels = set(attrs.get("rel", "").lower().split())
            if rels & RESOURCE_RELS and "href" in attrs:
                self.loads.append((tag, "href", attrs["href"]))
            return
        for name in FETCH_ATTRS & attrs.keys():
            value = attrs[name]
            urls = [u.strip().split()[0] for u in value.split(",") if u.strip()] if name == "srcset" else [value]
            self.loads.extend((tag, name, u) for u in urls)
        if tag == "script":
            if "src" in attrs:
                self.scripts.append(attrs["src"])
            elif attrs.get("type", "").lower() in JS_TYPES:
                self._open = ["script", []]
        elif tag == "style":
            self._open = ["style", []]

    def handle_data(self, data):
        if self._open is not None:
            self._open[1].append(data)

    def handle_endtag(self, tag):
        if self._open is not None and tag == self._open[0]:
            self.inline.append((tag, "".join(self._open[1])))
            self._open = None


def scan(path):
    scanner = PageScanner()
    scanner.feed(path.read_text(encoding="utf-8"))
    scanner.close()
    return scanner


def toc_files(toc):
    """Every `file:` entry of a sphinx-external-toc structure, root included."""
    found = []
    if isinstance(toc, dict):
        for key, value in toc.items():
            if key in ("file", "root"):
                found.append(value)
            else:
                found.extend(toc_files(value))
    elif isinstance(toc, list):
        for item in toc:
            found.extend(toc_files(item))
    return found


def _build_book(tmp):
    """Build the book into tmp (execution off); return (ok, message)."""
    config = yaml.safe_load((BOOK / "_config.yml").read_text(encoding="utf-8"))
    config.setdefault("execute", {})["execute_notebooks"] = "off"
    for name, path in ((config.get("sphinx") or {}).get("local_extensions") or {}).items():
        config["sphinx"]["local_extensions"][name] = str((BOOK / path).resolve())
    (tmp / "_config.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    jupyter_book = "import sys; from jupyter_book.cli.main import main; sys.exit(main())"
    options = ["--all", "--warningiserror", "--nitpick", "--keep-going"]
    output_options = ["--path-output", str(tmp), "--config", str(tmp / "_config.yml")]
    command = [sys.executable, "-c", jupyter_book, "build", str(BOOK), *output_options, *options]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    output = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
    if done.returncode != 0 or "build succeeded" not in output:
        warnings = [line for line in output.splitlines() if re.search(r"\b(WARNING|ERROR|CRITICAL)\b", line)]
        return False, f"the book build failed (rc={done.returncode}):\n" + "\n".join(
            warnings or output.splitlines()[-40:]
        )
    return True, ""


def book_html(tmp_path_factory):
    """The HTML folder of a book built once per test session, shared by the xdist workers.

    The first worker to ask builds it under a lock in the session's shared temporary
    folder; the others wait and reuse it (or report the same failure).
    """
    pytest.importorskip("jupyter_book", reason="the book needs the [book] extra")
    if not CHAPTER_1.exists():
        pytest.fail(f"{CHAPTER_1.relative_to(ROOT)} is missing, but book/_toc.yml lists it")
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by the workers of this session only
    tmp = base / "book"
    tmp.mkdir(exist_ok=True)
    with open(base / "book.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done, failed = tmp / "build.ok", tmp / "build.failed"
        if not done.exists() and not failed.exists():
            ok, message = _build_book(tmp)
            (done if ok else failed).write_text(message, encoding="utf-8")
        fcntl.flock(lock, fcntl.LOCK_UN)
    if failed.exists():
        pytest.fail(failed.read_text(encoding="utf-8"), pytrace=False)
    return tmp / "_build" / "html"


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    """Build the book (without executing the notebooks) and return its HTML folder."""
    return book_html(tmp_path_factory)


def toc_chapters():
    """The chapter notebooks _toc.yml lists (chapters/NN_topic.ipynb)."""
    return booktools.toc_chapters()


def read_notebook(path):
    return json.loads(path.read_text(encoding="utf-8"))


def cell_source(cell):
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def markdown(path):
    """The markdown cells of a notebook, joined."""
    return "\n\n".join(cell_source(c) for c in read_notebook(path)["cells"] if c["cell_type"] == "markdown")


def pages(html):
    return sorted(html.rglob("*.html"))


def test_config_executes_the_chapters_with_a_cache_under_build():
    config = yaml.safe_load((BOOK / "_config.yml").read_text(encoding="utf-8"))
    execute = config["execute"]
    assert execute["execute_notebooks"] == "cache"
    assert execute["timeout"] >= 300
    # empty = myst-nb's default, <build dir>/_build/.jupyter_cache, which `make clean` removes
    assert not execute.get("cache") or Path(execute["cache"]).parts[:1] == ("_build",)
    assert config["only_build_toc_files"] is True
    assert config["launch_buttons"].get("thebe") is False
    sphinx = config["sphinx"]["config"]
    assert "sphinx_thebe" not in sphinx["extensions"]
    # the pages this build makes have no widget outputs (nothing is executed), so check
    # the setting that keeps myst-nb's CDN require.js off pages that do
    assert sphinx["nb_ipywidgets_js"] == {}


def test_chapters_are_the_repository_chapters():
    link = BOOK / "chapters"
    assert link.is_symlink(), "book/chapters should be a relative symlink to ../chapters"
    assert os.readlink(link) == "../chapters"
    assert link.resolve() == (ROOT / "chapters").resolve()


def test_intro_and_chapter_pages_exist(html):
    assert (html / "intro.html").is_file()
    assert (html / "index.html").is_file()
    assert (html / "chapters" / "01_autodiff.html").is_file()


def test_only_the_toc_is_built(html):
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text(encoding="utf-8"))
    wanted = {Path(f).with_suffix("").as_posix() for f in toc_files(toc)}
    built = {
        p.relative_to(html).with_suffix("").as_posix()
        for p in pages(html)
        if not p.relative_to(html).parts[0].startswith("_")
    }
    assert wanted <= built, f"pages missing from the build: {sorted(wanted - built)}"
    extra = built - wanted - {"index", "genindex", "search"}
    assert not extra, f"pages built that _toc.yml does not list: {sorted(extra)}"


def test_no_page_loads_anything_from_another_site(html):
    problems = []
    for page in pages(html):
        name = page.relative_to(html).as_posix()
        scanner = scan(page)
        for tag, attr, url in scanner.loads:
            if not is_local(url) or CDN.search(url):
                problems.append(f"{name}: <{tag} {attr}={url!r}>")
        for tag, text in scanner.inline:
            if tag == "script" and (re.search(r"https?://", text) or CDN.search(text)):
                problems.append(f"{name}: inline <script> names a URL: {text.strip()[:120]!r}")
            if tag == "style":
                problems.extend(
                    f"{name}: <style> loads {m.group(2) or m.group(4)!r}"
                    for m in CSS_URL.finditer(text)
                    if not is_local(m.group(2) or m.group(4))
                )
    assert not problems, "\n".join(problems)


def test_no_stylesheet_loads_anything_from_another_site(html):
    problems = []
    sheets = sorted(html.rglob("*.css"))
    assert sheets
    for sheet in sheets:
        text = sheet.read_text(encoding="utf-8", errors="replace")
        for m in CSS_URL.finditer(text):
            url = m.group(2) or m.group(4)
            if not is_local(url):
                problems.append(f"{sheet.relative_to(html)}: {url}")
                continue
            target = urlsplit(url).path
            if not url.startswith("data:") and target and not (sheet.parent / unquote(target)).exists():
                problems.append(f"{sheet.relative_to(html)}: {url} (missing)")
    assert not problems, "\n".join(problems)


def test_mathjax_is_served_from_the_book_with_its_fonts(html):
    intro = html / "intro.html"
    mathjax = [src for src in scan(intro).scripts if "mathjax" in src.lower()]
    assert len(mathjax) == 1, f"the intro page should load MathJax exactly once, it loads {mathjax}"
    for page in pages(html):
        for src in scan(page).scripts:
            if "mathjax" in src.lower():
                assert is_local(src), f"{page.relative_to(html)} loads MathJax from {src}"
                script = (page.parent / unquote(urlsplit(src).path)).resolve()
                assert script.is_file(), f"{page.relative_to(html)} points to a missing {src}"
                assert script.stat().st_size > 100_000
                fonts = script.parent / "output" / "chtml" / "fonts" / "woff-v2"
                for font in ("MathJax_Main-Regular.woff", "MathJax_Math-Italic.woff", "MathJax_Size1-Regular.woff"):
                    assert (fonts / font).is_file(), f"MathJax font {font} missing from {fonts}"


def test_notation_page_has_the_symbols(html):
    text = (html / "notation.html").read_text(encoding="utf-8")
    tables = [t for t in re.findall(r"<table.*?</table>", text, re.DOTALL) if "Symbol" in t]
    assert len(tables) == 1, "the notation page should have one table of symbols (a 'Symbol' column)"
    table = tables[0]
    # the math is left for MathJax (in class="math" spans), not shown as raw $...$
    assert 'class="math' in table and "$" not in table
    symbols = (
        r"\(m\) \(n_x\) \(X\) \(Y\) \(L\) n^{[l]} a^{[l]} W^{[l]} b^{[l]} dZ^{[l]} \eta \beta \alpha \lambda"
        r" \sigma \odot \theta"
    )
    for symbol in symbols.split():
        assert symbol in table, f"the notation table lacks {symbol}"
    # both layouts of the data are explained, in a table of their own
    assert "course notation" in text and "rows are examples" in text


def test_intro_links_the_other_pages(html):
    text = (html / "intro.html").read_text(encoding="utf-8")
    for page in ("notation.html", "chapters/glossary.html", "references.html"):
        assert f'href="{page}' in text, f"the front page should link {page}"
    for path in toc_chapters():
        assert f'href="chapters/{path.stem}.html' in text, f"the front page should link chapter {path.stem}"
    for topic in ("Prerequisites", "Who it is for", "conda", "pip", "Colab", "Binder", "labcode", "exercises"):
        assert topic.lower() in text.lower(), f"the front page should say something about {topic!r}"


# ---------------------------------------------------------------- chapters: launch, download, Colab


def _config():
    return yaml.safe_load((BOOK / "_config.yml").read_text(encoding="utf-8"))


def _links(page):
    return re.findall(r'<a\b[^>]*\bhref="([^"]*)"', page.read_text(encoding="utf-8"))


def test_repository_url_is_one_setting():
    config = _config()
    url = config["repository"]["url"]
    assert re.fullmatch(r"https://github\.com/[^/\s]+/[^/\s]+", url), "Colab needs a GitHub repository URL"
    assert config["repository"].get("path_to_book", "") == "", "launch paths must start at the repository root"
    launch = config["launch_buttons"]
    assert launch["colab_url"] == "https://colab.research.google.com"
    assert launch["binderhub_url"] == "https://mybinder.org"
    assert launch["thebe"] is False


@pytest.mark.parametrize("path", toc_chapters(), ids=lambda p: p.stem)
def test_chapter_starts_with_the_colab_cell(path):
    cells = read_notebook(path)["cells"]
    first = cells[0]
    assert first["cell_type"] == "code", f"{path.name}: the first cell should be the Colab install cell"
    assert cell_source(first) == booktools.colab_source(_config()["repository"]["url"]), (
        f"{path.name}: the Colab cell differs from book/booktools.py's (run `make notebook-setup NB={path}`)"
    )
    assert "remove-cell" in first["metadata"].get("tags", [])
    assert first["outputs"] == [] and first["execution_count"] is None
    # it must do nothing outside Colab: run it here
    namespace = {}
    exec(compile(cell_source(first), path.name, "exec"), namespace)
    assert "REPOSITORY" not in namespace, "outside Colab the cell must not get past its `if`"


def test_launch_links_are_plain_links_to_the_notebooks(html):
    url = _config()["repository"]["url"]
    org_repo = "/".join(url.rstrip("/").split("/")[-2:])
    for path in toc_chapters():
        links = _links(html / "chapters" / f"{path.stem}.html")
        colab = f"https://colab.research.google.com/github/{org_repo}/blob/main/chapters/{path.name}"
        binder = f"https://mybinder.org/v2/gh/{org_repo}/main?urlpath=lab/tree/chapters/{path.name}"
        assert colab in links, f"{path.stem}: no Colab link {colab}"
        assert binder in links, f"{path.stem}: no Binder link {binder}"
        assert (ROOT / "chapters" / path.name).is_file()  # what the links open exists in the repository


def test_chapters_link_their_notebook_and_exercise_for_download(html):
    for path in toc_chapters():
        page = html / "chapters" / f"{path.stem}.html"
        links = _links(page)
        notebook = f"../_sources/chapters/{path.name}"
        assert notebook in links, f"{path.stem}: no download link to its notebook"
        assert (page.parent / notebook).resolve().is_file()
        exercise = ROOT / "exercises" / path.name
        assert exercise.is_file(), f"{path.stem} has no exercise in exercises/"
        target = f"../exercises/{path.name}"
        # in the "Graded exercise" line and in the download menu
        assert links.count(target) >= 2, f"{path.stem}: the exercise should be linked in the text and the menu"
        copied = (page.parent / target).resolve()
        assert copied.is_file() and filecmp.cmp(copied, exercise, shallow=False)


def test_set_repository_changes_the_config_and_the_colab_cells(tmp_path):
    config, chapters = tmp_path / "_config.yml", tmp_path / "chapters"
    shutil.copyfile(BOOK / "_config.yml", config)
    chapters.mkdir()
    shutil.copyfile(CHAPTER_1, chapters / CHAPTER_1.name)
    booktools.set_repository("https://github.com/someone/dl-course/", config, chapters)
    assert yaml.safe_load(config.read_text(encoding="utf-8"))["repository"]["url"] == (
        "https://github.com/someone/dl-course"
    )
    first = read_notebook(chapters / CHAPTER_1.name)["cells"][0]
    assert cell_source(first) == booktools.colab_source("https://github.com/someone/dl-course")
    with pytest.raises(SystemExit, match="not a repository URL"):
        booktools.set_repository("github.com/someone", config, chapters)


# ---------------------------------------------------------------- slides


@pytest.mark.parametrize("path", toc_chapters(), ids=lambda p: p.stem)
def test_chapter_has_slide_metadata(path):
    nb = booktools.read(path)
    kinds = [c.metadata.get("slideshow", {}).get("slide_type") for c in nb.cells]
    assert None not in kinds, f"{path.name}: cells without slideshow metadata (run `make notebook-setup NB={path}`)"
    expected = booktools.slide_metadata(copy.deepcopy(nb))
    assert [c.metadata["slideshow"] for c in nb.cells] == [c.metadata["slideshow"] for c in expected.cells], (
        f"{path.name}: slide metadata out of date (run `make notebook-setup NB={path}`)"
    )
    for cell in nb.cells:
        if cell.cell_type == "markdown" and re.match(r"#{1,2} ", cell.source):
            assert cell.metadata["slideshow"]["slide_type"] == "slide"
    assert kinds[0] == "skip", "the Colab cell is not a slide"


# ---------------------------------------------------------------- references

REQUIRED_REFERENCES = (
    "lecun1998 krizhevsky2012 simonyan2015 szegedy2015 he2016 chollet2017 hu2018 ioffe2015 srivastava2014"
    " kingma2015 glorot2010 he2015 hubel1959 hubel1962 baydin2018 geron2022 duchi2011 tieleman2012"
    " polyak1964 nesterov1983"
).split()
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")


def _bibliography():
    from pybtex.database import parse_file

    return parse_file(str(BOOK / "references.bib"), bib_format="bibtex")


def test_references_are_complete():
    entries = _bibliography().entries
    missing = [key for key in REQUIRED_REFERENCES if key not in entries]
    assert not missing, f"references.bib lacks {missing}"
    for key, entry in entries.items():
        assert entry.persons.get("author"), f"{key} has no author"
        for field in ("title", "year"):
            assert entry.fields.get(field), f"{key} has no {field}"
        assert re.fullmatch(r"1[89]\d\d|20\d\d", entry.fields["year"]), f"{key}: year {entry.fields['year']}"
        venue = ("journal", "booktitle", "publisher", "howpublished")
        assert any(entry.fields.get(f) for f in venue), f"{key} says nowhere where it appeared"


def test_chapters_cite_what_the_bibliography_has():
    entries = _bibliography().entries
    cited = set()
    for path in toc_chapters():
        for group in CITE.findall(markdown(path)):
            keys = [k.strip() for k in group.split(",")]
            unknown = [k for k in keys if k not in entries]
            assert not unknown, f"{path.name} cites unknown keys {unknown}"
            cited.update(keys)
    # chapters 1 to 4 cite the papers they discuss
    for key in ("baydin2018", "rumelhart1986", "glorot2010", "he2015", "kingma2015", "duchi2011", "tieleman2012"):
        if any(p.stem.startswith(("01", "02", "03", "04")) for p in toc_chapters()):
            assert key in cited, f"no chapter cites {key}"


def test_references_page_lists_every_entry(html):
    text = (html / "references.html").read_text(encoding="utf-8")
    entries = _bibliography().entries
    items = re.findall(r'<div class="citation" id="(id\d+)"', text)
    assert len(items) == len(entries), f"the references page lists {len(items)} of {len(entries)} entries"
    for key, entry in entries.items():
        assert entry.persons["author"][0].last_names[0] in text, f"the references page lacks {key}"
    # a chapter's citation links to its entry
    for path in toc_chapters():
        if "{cite" in markdown(path):
            page = (html / "chapters" / f"{path.stem}.html").read_text(encoding="utf-8")
            targets = set(re.findall(r'href="\.\./references\.html#(id\d+)"', page))
            assert targets and targets <= set(items), f"{path.stem}: citations do not link to the references"
