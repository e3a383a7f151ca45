"""The book in a real browser: headless Chromium, driven over the DevTools protocol.

The built book and the slides are served over HTTP on 127.0.0.1, and every page is
opened in Chromium. For each page: it loads; no request fails and none goes to
another host; no script error; MathJax has typeset the math (no raw `$$` or `\\frac`
left in the text); every image has loaded (naturalWidth > 0); every link into the
book leads to a page that exists, and to an anchor that exists on it; the glossary
links land on their entry. Each slide deck loads with the same checks, and reveal.js
starts. A screenshot of every page is saved under <build>/screenshots/.

Which book: by default the one tests/test_book.py builds for this session (the
notebooks not executed, so no figures), with slides made from the stored notebooks.
With BOOK_HTML=<folder> (`make book-check` sets it to book/_build/html after `make
book` and `make slides`) the real book is checked, figures included, with the slides
found in <folder>/../slides, and the screenshots go to <folder>/../screenshots.

It needs Chromium (Debian's `chromium`; or set CHROMIUM to a Chrome/Chromium
binary) and the websocket-client package; without them it skips, saying which is
missing. `.ci/run` installs Chromium where it can.
"""

import base64
import http.server
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from functools import partial
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import pytest
from test_book import BOOK, ROOT, book_html, toc_chapters

sys.path.insert(0, str(BOOK))
import booktools  # noqa: E402

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
PAGE_TIMEOUT = 30  # seconds for one page to load and typeset


def find_browser():
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() or shutil.which(explicit) else None
    return next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)


# --------------------------------------------------------------------------- a small CDP client


class DevTools:
    """Just enough of the Chrome DevTools Protocol: commands, and the events they cause."""

    def __init__(self, ws_url):
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=PAGE_TIMEOUT, suppress_origin=True)
        self.ids = itertools.count(1)
        self.events = []

    def send(self, method, **params):
        call_id = next(self.ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_for(self, method, timeout=PAGE_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(e["method"] == method for e in self.events):
                return True
            self.ws.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                message = json.loads(self.ws.recv())
            except Exception:  # websocket timeout
                break
            if "method" in message:
                self.events.append(message)
        return any(e["method"] == method for e in self.events)

    def evaluate(self, expression, timeout=PAGE_TIMEOUT):
        """Run JavaScript in the page (awaiting a promise) and return its JSON-able value."""
        self.ws.settimeout(timeout)
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def close(self):
        self.ws.close()


class Browser:
    def __init__(self, executable, profile):
        self.process = subprocess.Popen(
            [
                executable,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-extensions",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
                "--hide-scrollbars",
                "--window-size=1280,900",
                f"--user-data-dir={profile}",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"{executable} did not start (exit code {self.process.returncode})")
            time.sleep(0.1)
        self.port = int(port_file.read_text().split()[0])
        pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=10))
        page = next(p for p in pages if p.get("type") == "page")
        self.tab = DevTools(page["webSocketDebuggerUrl"])
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.tab.send(f"{domain}.enable")
        self.tab.send("Network.setCacheDisabled", cacheDisabled=True)

    def open(self, url):
        """Load a page and wait until it, its images and MathJax are done; return what happened."""
        tab = self.tab
        tab.events = []
        tab.send("Page.navigate", url=url)
        loaded = tab.wait_for("Page.loadEventFired")
        # lazy images would not load in a viewport that never scrolls: make them eager
        tab.evaluate(
            """(async () => {
              document.querySelectorAll('img[loading="lazy"]').forEach(i => { i.loading = 'eager'; });
              await Promise.all([...document.images].map(i => i.complete ? 0 :
                  new Promise(r => { i.addEventListener('load', r); i.addEventListener('error', r); })));
              if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
              await new Promise(r => setTimeout(r, 300));
              return true;
            })()"""
        )
        tab.wait_for("Never.happens", timeout=0.2)  # collect the last network events
        requests = {}
        failed, errors = [], []
        for event in tab.events:
            method, params = event["method"], event.get("params", {})
            if method == "Network.requestWillBeSent":
                requests[params["requestId"]] = params["request"]["url"]
            elif method == "Network.loadingFailed" and not params.get("canceled"):
                failed.append(f"{requests.get(params['requestId'], '?')}: {params.get('errorText')}")
            elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
                failed.append(f"{params['response']['url']}: HTTP {params['response']['status']}")
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                errors.append(details.get("exception", {}).get("description") or details.get("text"))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                errors.append(f"{params['entry'].get('url', '')}: {params['entry']['text']}")
        return {"loaded": loaded, "requests": sorted(set(requests.values())), "failed": failed, "errors": errors}

    def screenshot(self, path):
        data = self.tab.send("Page.captureScreenshot", format="png")["data"]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(base64.b64decode(data))

    def close(self):
        try:
            if hasattr(self, "tab"):
                self.tab.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


# --------------------------------------------------------------------------- fixtures


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """(build folder with html/ and slides/, screenshots folder) of the book under test."""
    real = os.environ.get("BOOK_HTML")
    if real:
        html = Path(real).resolve()
        if not (html / "index.html").is_file():
            pytest.fail(f"BOOK_HTML={real} holds no built book (run `make book`)", pytrace=False)
        build = html.parent
        if not (build / "slides" / "index.html").is_file():
            pytest.fail(f"no slides in {build / 'slides'} (run `make slides`)", pytrace=False)
        return build, html, build / "slides", build / "screenshots"
    html = book_html(tmp_path_factory)
    build = html.parent
    slides = build / "slides"
    if not (slides / "index.html").is_file():
        pytest.importorskip("sphinx_revealjs", reason="the slides need sphinx-revealjs (the [book] extra)")
        booktools.build_slides(slides, source=True)
    return build, html, slides, build / "screenshots"


@pytest.fixture(scope="module")
def server(site):
    build = site[0]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(build)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    executable = find_browser()
    if executable is None:
        pytest.skip(
            "no Chromium found (apt-get install chromium, or set CHROMIUM=/path/to/chrome): the browser checks of "
            "the book did not run"
        )
    pytest.importorskip("websocket", reason="the browser test drives Chromium with websocket-client")
    profile = tmp_path_factory.mktemp("chromium-profile")
    chrome = Browser(executable, profile)
    yield chrome
    chrome.close()


def book_pages(html):
    """The pages a reader reaches from the table of contents, front page first."""
    names = ["intro.html", "notation.html"]
    names += [f"chapters/{p.stem}.html" for p in toc_chapters()]
    names += ["chapters/glossary.html", "references.html"]
    return [n for n in names if (html / n).is_file()]


class Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)


def ids_of(path, cache={}):  # noqa: B006 - a per-process cache of parsed pages
    if path not in cache:
        parser = Ids()
        parser.feed(path.read_text(encoding="utf-8", errors="replace"))
        cache[path] = parser.ids
    return cache[path]


# JavaScript run in each book page once it has loaded
PAGE_REPORT = r"""(() => {
  const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const copy = article.cloneNode(true);
  copy.querySelectorAll('pre, code, .highlight, script, style, mjx-container, .MathJax').forEach(e => e.remove());
  const text = copy.innerText;
  const math = [...document.querySelectorAll('.math')];
  return {
    title: document.title,
    rawMath: (text.match(/\$\$|\\frac|\\begin\{|\\mathrm|\\partial/g) || []).slice(0, 5),
    mathElements: math.length,
    untypeset: math.filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60)).slice(0, 5),
    typeset: document.querySelectorAll('mjx-container').length,
    mathjaxErrors: document.querySelectorAll('mjx-merror, [data-mjx-error]').length,
    images: [...document.images].map(i => ({src: i.currentSrc || i.src, width: i.naturalWidth})),
    figures: [...article.querySelectorAll('img')].length,
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    glossaryLinks: [...article.querySelectorAll('a[href*="glossary.html#"]')].map(a => a.href),
    launch: [...document.querySelectorAll('.dropdown-launch-buttons a')].map(a => a.href),
    downloads: [...document.querySelectorAll('.dropdown-download-buttons a')].map(a => a.href),
  };
})()"""


def _check_page(report, result, origin, name):
    problems = []
    if not result["loaded"]:
        problems.append("the page did not finish loading")
    outside = [u for u in result["requests"] if not (u.startswith(origin + "/") or u.startswith(("data:", "blob:")))]
    problems += [f"request to another host: {u}" for u in outside]
    problems += [f"failed request: {f}" for f in result["failed"]]
    problems += [f"script error: {e}" for e in result["errors"]]
    if report["rawMath"]:
        problems.append(f"raw TeX in the text: {report['rawMath']}")
    if report["untypeset"]:
        problems.append(f"math not typeset by MathJax: {report['untypeset']}")
    if report["mathjaxErrors"]:
        problems.append(f"{report['mathjaxErrors']} MathJax errors")
    broken = [i["src"] for i in report["images"] if not i["width"]]
    problems += [f"image did not load: {src}" for src in broken]
    return [f"{name}: {p}" for p in problems]


def _check_links(links, origin, build):
    """Every link into the site points at a file that exists, and at an anchor that exists on it."""
    problems = []
    for link in sorted(set(links)):
        if not link.startswith(origin + "/"):
            continue
        url, fragment = urldefrag(link)
        path = build / unquote(urlsplit(url).path).lstrip("/")
        if path.is_dir():
            path = path / "index.html"
        if not path.exists():
            problems.append(f"broken link: {link}")
        elif fragment.startswith("/"):
            continue  # reveal.js's own routes (#/3/1), not anchors
        elif fragment and path.suffix == ".html" and not {fragment, unquote(fragment)} & ids_of(path):
            problems.append(f"missing anchor: {link}")
    return problems


# --------------------------------------------------------------------------- tests


def test_book_pages_in_a_browser(browser, server, site):
    build, html, _, shots = site
    origin = server
    base = f"{origin}/{html.relative_to(build).as_posix()}"
    problems, links = [], []
    reports = {}
    started = time.monotonic()
    for name in book_pages(html):
        result = browser.open(f"{base}/{name}")
        report = browser.tab.evaluate(PAGE_REPORT)
        reports[name] = report
        problems += _check_page(report, result, origin, name)
        links += report["links"]
        browser.screenshot(shots / (name.replace("/", "_").removesuffix(".html") + ".png"))
        if report["figures"]:  # and one with the first figure of the page in view
            browser.tab.evaluate("document.querySelector('article img').scrollIntoView({block: 'center'}); true")
            browser.screenshot(shots / (name.replace("/", "_").removesuffix(".html") + "-figure.png"))
    problems += _check_links(links, origin, build)
    assert not problems, "\n".join(problems)
    # every page has math typeset, the notation page most of all
    for name, report in reports.items():
        if name.startswith("chapters/0"):
            assert report["typeset"] > 20, f"{name}: only {report['typeset']} formulas typeset"
    assert reports["notation.html"]["typeset"] > 30
    print(f"\n{len(reports)} book pages checked in {time.monotonic() - started:.1f} s; screenshots in {shots}")


def test_chapter_pages_have_launch_download_and_glossary_links(browser, server, site):
    build, html, _, _ = site
    base = f"{server}/{html.relative_to(build).as_posix()}"
    for path in toc_chapters():
        browser.open(f"{base}/chapters/{path.stem}.html")
        report = browser.tab.evaluate(PAGE_REPORT)
        launch = report["launch"]
        assert any(u.startswith("https://colab.research.google.com/github/") for u in launch), path.stem
        assert any(u.startswith("https://mybinder.org/v2/gh/") for u in launch), path.stem
        downloads = report["downloads"]
        assert any(u.endswith(f"_sources/chapters/{path.name}") for u in downloads), path.stem
        assert any(u.endswith(f"exercises/{path.name}") for u in downloads), path.stem
        assert report["glossaryLinks"], f"{path.stem} links no glossary entry"
        # follow the first glossary link: the entry is there and is the :target
        target = report["glossaryLinks"][0]
        result = browser.open(target)
        assert not result["failed"], result["failed"]
        landed = browser.tab.evaluate(
            "(() => { const t = document.querySelector(':target');"
            " return t ? {id: t.id, heading: (t.querySelector('h3') || t).textContent} : null; })()"
        )
        fragment = unquote(urldefrag(target)[1])
        assert landed and landed["id"] == fragment, f"{target} did not land on its entry ({landed})"


def test_downloads_are_the_repository_notebooks(site):
    _, html, _, _ = site
    for path in toc_chapters():
        exercise = html / "exercises" / path.name
        assert exercise.read_bytes() == (ROOT / "exercises" / path.name).read_bytes()
        notebook = html / "_sources" / "chapters" / path.name
        assert json.loads(notebook.read_text(encoding="utf-8"))["cells"], path.name


def test_slides_in_a_browser(browser, server, site):
    build, _, slides, shots = site
    base = f"{server}/{slides.relative_to(build).as_posix()}"
    decks = sorted(slides.glob("*.slides.html"))
    assert {d.name.removesuffix(".slides.html") for d in decks} >= {p.stem for p in toc_chapters()}
    problems, links = [], []
    result = browser.open(f"{base}/index.html")
    problems += [f"index: failed request {f}" for f in result["failed"]]
    for deck in decks:
        result = browser.open(f"{base}/{deck.name}")
        outside = [u for u in result["requests"] if not (u.startswith(server + "/") or u.startswith("data:"))]
        problems += [f"{deck.name}: request to another host: {u}" for u in outside]
        problems += [f"{deck.name}: failed request: {f}" for f in result["failed"]]
        problems += [f"{deck.name}: script error: {e}" for e in result["errors"]]
        state = browser.tab.evaluate(
            "(() => ({ready: !!(window.Reveal && Reveal.isReady()),"
            " slides: window.Reveal ? Reveal.getTotalSlides() : 0,"
            " typeset: document.querySelectorAll('mjx-container').length,"
            " raw: (document.querySelector('.slides').innerText.match(/\\$\\$|\\\\frac|\\{cite/g) || []).length,"
            " links: [...document.querySelectorAll('a[href]')].map(a => a.href),"
            " images: [...document.images].filter(i => !i.naturalWidth).map(i => i.src.slice(0, 80))}))()"
        )
        problems += [f"{deck.name}: image did not load: {src}" for src in state["images"]]
        links += state["links"]
        if not state["ready"]:
            problems.append(f"{deck.name}: reveal.js did not start")
        if state["slides"] < 8:
            problems.append(f"{deck.name}: only {state['slides']} slides")
        if state["typeset"] < 5 or state["raw"]:
            problems.append(f"{deck.name}: math not typeset ({state['typeset']} formulas, {state['raw']} raw)")
        browser.screenshot(shots / f"slides_{deck.stem.removesuffix('.slides')}.png")
        # a slide further in: a section with a figure or code
        browser.tab.evaluate("Reveal.slide(3, 0); new Promise(r => setTimeout(() => r(true), 300))")
        browser.screenshot(shots / f"slides_{deck.stem.removesuffix('.slides')}-4.png")
        # and the first slide with a figure, if the notebooks were executed
        figure = browser.tab.evaluate(
            "(() => { const img = document.querySelector('.slides section img');"
            " if (!img) return false; const i = Reveal.getIndices(img.closest('section'));"
            " Reveal.slide(i.h, i.v); return true; })()"
        )
        if figure:
            browser.tab.evaluate("new Promise(r => setTimeout(() => r(true), 300))")
            browser.screenshot(shots / f"slides_{deck.stem.removesuffix('.slides')}-figure.png")
    # the glossary links of the slides lead into the HTML book beside them
    problems += _check_links(links, server, build)
    assert any("/chapters/glossary.html#" in link for link in links), "the slides link no glossary entry"
    assert not problems, "\n".join(problems)


def test_slides_link_nothing_outside():
    """The slide template loads nothing from a CDN (checked on the template, without a browser)."""
    template = (BOOK / "_slides" / "labcode_reveal" / "index.html.j2").read_text(encoding="utf-8")
    assert not re.search(r"https?://", template)
