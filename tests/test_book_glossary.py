"""The glossary (chapters/glossary.md) and the chapters' links to it.

The convention (book/CONVENTIONS.md): a chapter gives a term's Chinese name at its
first mention, as a link to the glossary entry,

    [backpropagation (反向传播)](glossary.md#backpropagation)

where the fragment is the GitHub-style slug of the entry's heading `### backpropagation`.
Later mentions may repeat "term (中文)" without the link. So, for every chapter in
book/_toc.yml:

* every glossary link names an entry that exists, with one of its Chinese names;
* every Chinese name given in parentheses belongs to a glossary entry that the
  chapter has already linked (its first mention is the link);

and every glossary entry is linked from at least one chapter. The book build checks
the same links again (a missing anchor is a build error), and the browser test
follows them.
"""

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "chapters" / "glossary.md"
sys.path.insert(0, str(ROOT / "book"))
import booktools  # noqa: E402

CJK = re.compile(r"[\u3400-\u9fff]")
# [text](glossary.md#slug): text may span lines, and may hold *emphasis* but no brackets
LINK = re.compile(r"\[([^\[\]]+)\]\(glossary\.md#([^)\s]+)\)")
ENTRY = re.compile(r"^### (.+)\n\n((?:\*\*[^*]+\*\*(?: / )?)+) — ", re.MULTILINE)


def slugify(title):
    """MyST's (and GitHub's) heading anchor, as the book build makes it."""
    from myst_parser.mdit_to_docutils.base import default_slugify

    return default_slugify(title)


def glossary():
    """{slug: (term, [Chinese names])} from chapters/glossary.md."""
    text = GLOSSARY.read_text(encoding="utf-8")
    entries = {}
    for m in ENTRY.finditer(text):
        names = re.findall(r"\*\*([^*]+)\*\*", m.group(2))
        entries[slugify(m.group(1))] = (m.group(1), names)
    return entries


def chapter_markdown(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def chinese_in(text):
    """The Chinese names in a parenthesis or a link text: the comma-separated parts with CJK in them."""
    parts = re.split(r"[,，;；]", text)
    return [p.strip().strip("*").strip() for p in parts if CJK.search(p)]


def parentheses(text):
    """Every innermost (...) of the text, with its position."""
    return [(m.start(), m.group(1)) for m in re.finditer(r"\(([^()]*)\)", text)]


CHAPTERS = booktools.toc_chapters()


def test_glossary_entries_are_well_formed():
    text = GLOSSARY.read_text(encoding="utf-8")
    headings = re.findall(r"^### (.+)$", text, re.MULTILINE)
    entries = glossary()
    assert len(entries) == len(headings), (
        "every `### term` needs a first paragraph `**中文** — definition`: "
        f"{sorted(set(map(slugify, headings)) - set(entries))}"
    )
    assert len(entries) >= 80
    for slug, (term, names) in entries.items():
        assert names and all(CJK.search(n) or n.isascii() for n in names), f"{term}: no Chinese name"
        assert any(CJK.search(n) for n in names), f"{term}: no Chinese name"
        assert slug and slug == slug.lower(), term
    # alphabetical, under a `## X` heading of its first letter
    letter, previous = None, ""
    for line in text.splitlines():
        if line.startswith("## "):
            letter = line[3:].strip()
        elif line.startswith("### "):
            term = line[4:].strip()
            assert letter and term[0].upper() == letter, f"{term!r} is under ## {letter}"
            assert term.lower() >= previous, f"{term!r} is out of alphabetical order (after {previous!r})"
            previous = term.lower()


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_links_its_terms_to_the_glossary(path):
    entries = glossary()
    text = chapter_markdown(path)
    linked_at = {}  # slug -> position of the first link
    for m in LINK.finditer(text):
        label, slug = m.group(1), m.group(2)
        assert slug in entries, f"{path.stem}: [{label}](glossary.md#{slug}) names no glossary entry"
        names = [n for _, inside in parentheses(label) for n in chinese_in(inside)] or chinese_in(label)
        for name in names:
            assert name in entries[slug][1], (
                f"{path.stem}: the link to {slug!r} says {name!r}; the glossary says {entries[slug][1]}"
            )
        linked_at.setdefault(slug, m.start())
    # with the links taken out, each "(…中文…)" left is a later mention of a term linked earlier
    bare = LINK.sub(lambda m: " " * len(m.group(0)), text)
    by_name = {}
    for slug, (_, names) in entries.items():
        for name in names:
            by_name.setdefault(name, []).append(slug)
    problems = []
    for start, inside in parentheses(bare):
        for name in chinese_in(inside):
            slugs = by_name.get(name)
            context = text[max(0, start - 40) : start + len(inside) + 2].replace("\n", " ")
            if not slugs:
                problems.append(f"{name!r} is not in the glossary: …{context}")
            elif not any(linked_at.get(s, len(text)) < start for s in slugs):
                problems.append(f"first mention of {name!r} is not a glossary link: …{context}")
    assert not problems, f"{path.stem}:\n" + "\n".join(problems)


def test_every_glossary_entry_is_linked_from_a_chapter():
    linked = set()
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        linked.update(slug for _, slug in LINK.findall(chapter_markdown(path)))
    unused = sorted(set(glossary()) - linked)
    assert not unused, f"glossary entries no chapter links to: {unused}"


def test_glossary_is_in_the_toc():
    toc = (ROOT / "book" / "_toc.yml").read_text(encoding="utf-8")
    assert "file: chapters/glossary" in toc
