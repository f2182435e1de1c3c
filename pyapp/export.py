"""Results as text to copy or download: Markdown for any result, JSON and CSV for extracted facts.

Unverified facts are exported with their status, never filtered out: whoever reads the export
must be able to tell a checked quote from one the model may have made up. CSV cells that a
spreadsheet would run as a formula get a leading apostrophe (the usual CSV-injection defence): the
text comes from untrusted documents through the model.
"""

from __future__ import annotations

import csv
import io
import json

from pyapp.recipes.ask import Answer
from pyapp.recipes.extract import Extraction, Status
from pyapp.recipes.summarize import Summary

CSV_COLUMNS = ["field", "fact", "quote", "status", "start", "end"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
STATUS_NOTES = {Status.VERIFIED: "", Status.NOT_FOUND: " (quote not found in the document)",
                Status.NO_QUOTE: " (no quote given)"}


def markdown(result: Summary | Extraction | Answer | str, title: str = "") -> str:
    """`result` as Markdown, under a heading naming the document (or the question, for answers)."""
    match result:
        case Summary():
            body = result.text.strip()
        case Extraction():
            body = "\n".join(_fact_line(item) for item in result.items) or "_No facts found._"
        case Answer():
            return _answer_markdown(result)
        case str():
            body = result.strip()
    return f"# {title}\n\n{body}\n" if title else f"{body}\n"


def _fact_line(item) -> str:
    label = f"**{item.field}:** " if item.field else ""
    quote = f' — "{item.quote}"' if item.quote else ""
    return f"- {label}{item.fact}{quote}{STATUS_NOTES[item.status]}"


def _answer_markdown(answer: Answer) -> str:
    lines = [f"# {answer.question}", "", answer.text.strip(), ""]
    if answer.hits:
        lines += ["## Sources", ""]
        for n, hit in enumerate(answer.hits, 1):
            excerpt = " ".join(hit.passage.text.split())
            where = f"characters {hit.passage.start}–{hit.passage.end}"
            lines.append(f'{n}. *{hit.passage.title}* ({where}): "{excerpt}"')
        lines.append("")
    return "\n".join(lines)


def extraction_json(extraction: Extraction) -> str:
    data = {"fields": extraction.fields, "items": [item.to_dict() for item in extraction.items]}
    return json.dumps(data, ensure_ascii=False, indent=2)


def extraction_csv(extraction: Extraction) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for item in extraction.items:
        row = item.to_dict()
        writer.writerow({column: _cell(row[column]) for column in CSV_COLUMNS})
    return out.getvalue()


def _cell(value: str | int | None) -> str | int:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
