"""Exports: Markdown for every result; JSON and CSV for facts, unverified ones kept and marked."""

from __future__ import annotations

import csv
import io
import json

from pyapp.export import extraction_csv, extraction_json, markdown
from pyapp.recipes.ask import Answer, Citation
from pyapp.recipes.extract import Extraction, Item, Status
from pyapp.recipes.summarize import Summary
from pyapp.retrieval.passages import Hit, Passage

ITEMS = [
    Item("Rent is 950 pounds", "950 pounds a month", "amounts", Status.VERIFIED, 12, 30),
    Item("Dogs allowed", "dogs are welcome", None, Status.NOT_FOUND),
    Item("=HYPERLINK(\"x\")", None, None, Status.NO_QUOTE),
]
EXTRACTION = Extraction(ITEMS, ["amounts"], 1)


def test_json_keeps_every_item_with_its_status_and_span() -> None:
    data = json.loads(extraction_json(EXTRACTION))
    assert data["fields"] == ["amounts"]
    assert data["items"][0] == {"fact": "Rent is 950 pounds", "quote": "950 pounds a month", "field": "amounts",
                                "status": "verified", "start": 12, "end": 30}
    assert [i["status"] for i in data["items"]] == ["verified", "not-found", "no-quote"]


def test_csv_has_a_header_every_item_and_defuses_formulas() -> None:
    rows = list(csv.DictReader(io.StringIO(extraction_csv(EXTRACTION))))
    assert [r["status"] for r in rows] == ["verified", "not-found", "no-quote"]
    assert rows[0]["start"] == "12" and rows[1]["start"] == ""
    assert rows[2]["fact"] == "'=HYPERLINK(\"x\")"


def test_markdown_of_facts_marks_the_unverified() -> None:
    text = markdown(EXTRACTION, "Lease")
    assert text.startswith("# Lease\n\n- **amounts:** Rent is 950 pounds — \"950 pounds a month\"\n")
    assert "- Dogs allowed — \"dogs are welcome\" (quote not found in the document)" in text
    assert "(no quote given)" in text


def test_markdown_of_summary_and_custom_text() -> None:
    assert markdown(Summary("A summary. ", 3, False), "Doc") == "# Doc\n\nA summary.\n"
    assert markdown("Free text.") == "Free text.\n"


def test_markdown_of_answer_lists_its_sources() -> None:
    hit = Hit(Passage("l", "Lease", "The rent is\n950 pounds.", 40, 62, 5), 2.0, 1.0)
    answer = Answer("How much is the rent?", "950 pounds [1].", [hit], [Citation(1, 11, 14, hit)])
    assert markdown(answer) == ("# How much is the rent?\n\n950 pounds [1].\n\n## Sources\n\n"
                                '1. *Lease* (characters 40–62): "The rent is 950 pounds."\n')


def test_markdown_of_not_found_answer_has_no_sources() -> None:
    assert "Sources" not in markdown(Answer("Why?", "Not in the documents.", [], []))
