"""`ganlens demo` (the quick run, its default): the report is written, every picture it links exists, and a browser shows every section."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from browser import chromium, needs_browser
from ganlens.cli import cli
from ganlens.report.demo import SECTIONS


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    r = CliRunner().invoke(cli, ["demo", "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out / "index.html"


def test_report_links_resolve_and_no_section_failed(report):
    page = report.read_text()
    links = re.findall(r"src='([^']+)'", page)
    assert len(links) >= 15
    for link in links:
        assert (report.parent / link).is_file(), link
        assert (report.parent / link).stat().st_size > 500, link
    assert "This section failed" not in page
    for key, title, _ in SECTIONS:
        assert f"id='{key}'" in page
    # Numbers are measured, so they appear as table cells, e.g. the inversion PSNR.
    assert re.search(r"<td>hybrid \(encoder \+ \d+ W\+ steps\)</td><td>\d+\.\d{3}</td>", page)
    # Edit success is the visible change, read by the main and the guard predictor, not "a score went up".
    assert "visible (synthfaces64-independent)" in page and "visible (both)" in page
    assert "edit success" not in page


def test_existing_report_is_not_overwritten(report):
    r = CliRunner().invoke(cli, ["demo", "--out", str(report.parent)])
    assert r.exit_code != 0 and "--overwrite" in str(r.exception or r.output)


@needs_browser
def test_browser_shows_every_section_with_its_pictures(report):
    with chromium() as driver:
        driver.get(report.as_uri())
        headings = [h.text for h in driver.find_elements("css selector", "section h2")]
        for _, title, _ in SECTIONS:
            assert any(h.startswith(title) for h in headings), (title, headings)
        broken = driver.execute_script(
            "return [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
        assert broken == []
        assert driver.execute_script("return document.images.length") >= 15


def test_a_model_without_a_predictor_is_refused_in_one_line(tmp_path):
    r = CliRunner().invoke(cli, ["demo", "--model", "random-tiny", "--out", str(tmp_path / "d")])
    assert r.exit_code != 0 and "ships none" in str(r.exception) and "\n" not in str(r.exception)
    assert not (tmp_path / "d" / "index.html").exists()
