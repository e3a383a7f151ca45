"""The HTML book: it builds with warnings as errors, and it is complete offline.

The book is built once for this module, into a temporary directory, from
book/_config.yml with one change: the notebooks are not executed (the
notebook tests execute them, and `make book` executes them for the real
book). Everything else, --nitpick and --warningiserror included, is as in
`make book`.
"""

import os
import re
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


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    """Build the book (without executing the notebooks) and return its HTML folder."""
    pytest.importorskip("jupyter_book", reason="the book needs the [book] extra")
    if not CHAPTER_1.exists():
        pytest.fail(f"{CHAPTER_1.relative_to(ROOT)} is missing, but book/_toc.yml lists it")
    tmp = tmp_path_factory.mktemp("book")
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
        pytest.fail(
            f"the book build failed (rc={done.returncode}):\n" + "\n".join(warnings or output.splitlines()[-40:]),
            pytrace=False,
        )
    return tmp / "_build" / "html"


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


def test_intro_has_the_notation_table(html):
    text = (html / "intro.html").read_text(encoding="utf-8")
    tables = [t for t in re.findall(r"<table.*?</table>", text, re.DOTALL) if "Symbol" in t]
    assert len(tables) == 1, "the intro should have one notation table (a 'Symbol' column)"
    table = tables[0]
    # the math is left for MathJax (in class="math" spans), not shown as raw $...$
    assert 'class="math' in table and "$" not in table
    symbols = (
        r"\(m\) \(n_x\) \(X \(Y\) \(L\) n^{[l]} a^{[l]} W^{[l]} b^{[l]} dZ^{[l]} \alpha \beta \lambda \hat{y} \sigma"
    )
    for symbol in symbols.split():
        assert symbol in table, f"notation table lacks {symbol}"
