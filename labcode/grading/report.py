"""What grading writes: grades.csv, review.csv, the summary table, HTML feedback per student."""

from __future__ import annotations

import csv
import html
from pathlib import Path

CSV_FIELDS = ("student", "exercise", "part", "points", "max_points", "status", "reason")
REVIEW_FIELDS = ("student", "exercise", "note")


def rows_of(results) -> list[dict]:
    """One row per (student, exercise, part), points as floats."""
    return [{"student": r.student, "exercise": r.exercise, "part": p.part, "points": p.points,
             "max_points": p.max_points, "status": r.status, "reason": p.reason}
            for r in results for p in r.parts]


def write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "points": f"{row['points']:g}", "max_points": f"{row['max_points']:g}"})


def write_review(path: Path, results) -> int:
    """review.csv: what the instructor may want to look at (what the guard put back, restored tests)."""
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(REVIEW_FIELDS)
        for r in results:
            for note in r.review:
                writer.writerow([r.student, r.exercise, note])
                n += 1
    return n


def summary(rows: list[dict]) -> str:
    """A plain-text table: one line per student, points per exercise and in total."""
    exercises = list(dict.fromkeys(r["exercise"] for r in rows))
    totals = {}  # (student, exercise) -> [points, max_points, "*" if not all graded]
    for r in rows:
        t = totals.setdefault((r["student"], r["exercise"]), [0.0, 0.0, ""])
        t[0], t[1] = t[0] + r["points"], t[1] + r["max_points"]
        t[2] = t[2] if r["status"] == "graded" else "*"
    table = [["student", *exercises, "total"]]
    for student in dict.fromkeys(r["student"] for r in rows):
        mine = [totals.get((student, e), [0.0, 0.0, ""]) for e in exercises]
        table.append([student, *(f"{flag}{got:g}/{top:g}" for got, top, flag in mine),
                      f"{sum(t[0] for t in mine):g}/{sum(t[1] for t in mine):g}"])
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = ["  ".join([row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)])
             for row in table]
    if any(r["status"] != "graded" for r in rows):
        lines.append("* missing or not gradable: see the status and reason columns of grades.csv")
    return "\n".join(lines)


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: .4rem .6rem; text-align: left; vertical-align: top; }
td.points { text-align: right; white-space: nowrap; }
tr.passed td:first-child { border-left: 4px solid #2a7; }
tr.failed td:first-child { border-left: 4px solid #c33; }
code, pre { font-family: ui-monospace, monospace; font-size: .9em; }
pre { white-space: pre-wrap; margin: 0; }
.total { font-size: 1.3rem; }
.status { background: #fee; padding: .6rem; border-left: 4px solid #c33; }
.foot { color: #666; font-size: .85rem; margin-top: 2rem; }
"""


def feedback_html(result, part_titles: dict[str, str], timeout: float) -> str:
    """The feedback page of one student for one exercise (no hidden test appears in it)."""
    e = html.escape
    total = sum(p.max_points for p in result.parts)
    head = f"{result.exercise}: {result.points:g}/{total:g}"
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{e(head)} ({e(result.student)})</title><style>{_CSS}</style></head><body>",
           f"<h1>{e(result.exercise)}: feedback for {e(result.student)}</h1>",
           f'<p class="total">Score: <b>{result.points:g} / {total:g}</b></p>']
    if result.status != "graded":
        out.append(f'<p class="status">Not graded ({e(result.status)}): {e(result.reason)}</p>')
    out.append("<table><tr><th>test</th><th>what it checks</th><th>result</th><th>points</th></tr>")
    for p in result.parts:
        ok = p.points >= p.max_points
        shown = "passed" if ok else (p.detail if result.status == "graded" else "not graded")
        out.append(f'<tr class="{"passed" if ok else "failed"}"><td><code>{e(p.part)}</code></td>'
                   f"<td>{e(part_titles.get(p.part, ''))}</td><td><pre>{e(shown)}</pre></td>"
                   f'<td class="points">{p.points:g} / {p.max_points:g}</td></tr>')
    out.append("</table>")
    if result.notes:
        out.append("<h2>Notes</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in result.notes) + "</ul>")
    out.append(f'<p class="foot">Each test cell was run as in the instructor\'s copy, with its hidden tests; '
               f"your edits to test cells do not count. Each cell could run for {timeout:g} s. "
               "A test earns its points when it runs without an error and writes nothing to stderr.</p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def part_titles(exercise) -> dict[str, str]:
    """grade_id -> what the test checks (its first comment line, without "Test (1 point):")."""
    titles = {}
    for part in exercise.parts:
        title = part.title
        head, sep, rest = title.partition("):")
        titles[part.grade_id] = rest.strip() if sep and head.lower().startswith("test") else title
    return titles
