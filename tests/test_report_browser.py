"""report.html in headless Chromium at 1280 px and 390 px: every image loads, no console errors,
the first screen holds the verdict and the headline figure, nothing overflows the page sideways,
screenshots are saved; and no two texts of any figure overlap.

Chromium is driven from its command line (no WebDriver): ``--dump-dom`` on a copy of the report
with a small checker script injected (it records error events and console.error calls and, on
load, writes the state of every <img> and the layout facts into the DOM), and ``--screenshot``
with ``--enable-logging=stderr`` on the report itself, whose stderr must contain no console
message (the report has no scripts of its own).  Set ``HIERBENCH_SCREENSHOTS=DIR`` to keep the
screenshots.  Skipped when no Chromium is installed.  The text-overlap test needs no browser:
matplotlib renders SVG text as paths, so the boxes are the extents matplotlib recorded when it
saved each figure (figures/text_boxes.json).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from reports import build_report
from reports.savefig import TEXT_BOXES, figure_formats, overlapping_texts, save_figure
from reports.synthetic import demo_run

WIDTHS = (1280, 390)
SCREEN_HEIGHT = 900  # the first screen at 1280 px

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--disable-quic", "--disable-extensions", "--hide-scrollbars"]
CHECKER = """<script>
window.__hb = {errors: []};
window.addEventListener('error', function (e) {
  var t = e.target;
  window.__hb.errors.push(t && t.tagName ? 'failed: ' + String(t.src || t.href).slice(0, 80)
                                        : 'error: ' + e.message);
}, true);
var __err = console.error;
console.error = function () {
  window.__hb.errors.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
  return __err.apply(console, arguments);
};
window.addEventListener('load', function () {
  var imgs = Array.prototype.map.call(document.images, function (i) {
    return {loaded: i.complete && i.naturalWidth > 0, width: i.naturalWidth, alt: i.alt};
  });
  function top(sel) {
    var el = document.querySelector(sel);
    return el ? el.getBoundingClientRect().top + window.scrollY : null;
  }
  var layout = {width: window.innerWidth, scrollWidth: document.documentElement.scrollWidth,
                verdict: top('div.scroll table'),
                headline: top('figure.headline'), details: document.querySelectorAll(
                  'details').length};
  var pre = document.createElement('pre');
  pre.id = 'hb-check';
  pre.textContent = JSON.stringify({images: imgs, errors: window.__hb.errors, layout: layout});
  document.body.appendChild(pre);
});
</script>"""


def find_chromium() -> str | None:
    env = os.environ.get("CHROMIUM_PATH")
    if env and Path(env).exists():
        return env
    return next((p for p in map(shutil.which, NAMES) if p), None)


needs_chromium = pytest.mark.skipif(
    find_chromium() is None,
    reason="no Chromium found (set CHROMIUM_PATH or install the Debian package chromium; "
           ".ci/run installs it)")


def run_chromium(args: list[str], profile: Path, timeout: float = 90) -> tuple[str, str]:
    """Run headless Chromium with a fresh profile; kill its whole process group on timeout."""
    cmd = [find_chromium(), *FLAGS, f"--user-data-dir={profile}", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"Chromium did not finish within {timeout} s")
    return out, err


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("browser_run")
    demo_run(run, ds=(4, 8, 16), seeds=range(2), indices=(2, 3), n_max=2**13)
    return build_report(run, n_boot=50)


PULL = """<script>
document.getElementById('page').addEventListener('load', function () {
  var c = this.contentDocument.getElementById('hb-check');
  var pre = document.createElement('pre');
  pre.id = 'hb-check';
  pre.textContent = c ? c.textContent : 'null';
  document.body.appendChild(pre);
});
</script>"""


def framed(page: Path, width: int, height: int, inject: str = "") -> Path:
    """A wrapper page showing ``page`` in an iframe ``width`` px wide.

    Headless Chromium's window is at least 500 px wide, so a phone's 390 px viewport is an
    iframe (``srcdoc``: same origin, so the wrapper can read the checker's result back)."""
    doc = page.read_text()
    if inject:
        doc = doc.replace("<head>", "<head>" + inject, 1)
    wrapper = page.with_name(f"{page.stem}_{width}px.html")
    wrapper.write_text(
        "<!DOCTYPE html><html><head><style>body{margin:0}iframe{border:0;display:block}"
        f'</style></head><body><iframe id="page" width="{width}" height="{height}" '
        f'srcdoc="{html.escape(doc, quote=True)}"></iframe>{PULL}</body></html>')
    return wrapper


def check_page(page: Path, profile: Path, width: int = 1280) -> dict:
    """Images, errors and layout of ``page`` (at ``width`` px) as seen by the injected checker."""
    checked = framed(page, width, SCREEN_HEIGHT, CHECKER)
    dom, _ = run_chromium([f"--window-size={max(width, 500)},{SCREEN_HEIGHT}",
                           "--virtual-time-budget=15000", "--dump-dom", checked.as_uri()],
                          profile)
    checked.unlink()
    found = re.search(r'<pre id="hb-check">(.*?)</pre>', dom, re.S)
    assert found, "the checker did not run (no load event?)"
    return json.loads(html.unescape(found.group(1)))


@needs_chromium
def test_checker_detects_broken_images_and_console_errors(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head></head><body>'
                   '<img src="data:image/png;base64,AAAA"><script>console.error("boom")</script>'
                   "</body></html>")
    state = check_page(bad, tmp_path / "profile")
    assert [img["loaded"] for img in state["images"]] == [False]
    assert any("boom" in e for e in state["errors"])


@needs_chromium
@pytest.mark.parametrize("width", WIDTHS)
def test_every_image_loads_and_the_first_screen_answers(report, tmp_path, width):
    state = check_page(report / "report.html", tmp_path / "profile", width)
    n_fig = len(list((report / "figures").glob("*.png")))
    assert len(state["images"]) == n_fig >= 4
    assert all(img["loaded"] and img["width"] > 100 for img in state["images"]), state["images"]
    assert state["errors"] == []
    lay = state["layout"]
    assert lay["width"] == width
    assert lay["scrollWidth"] <= width, lay  # wide tables scroll inside their box, not the page
    assert lay["details"] >= 2  # the long tables are collapsible groups
    assert lay["verdict"] is not None and lay["headline"] is not None
    assert lay["verdict"] < lay["headline"]
    if width == 1280:  # the verdict table and the start of the headline figure: first screen
        assert lay["headline"] < SCREEN_HEIGHT * 0.75, lay


@needs_chromium
def test_first_screen_of_a_quick_shaped_report_holds_the_headline(tmp_path):
    """Eight learners (quick's), so eight verdict rows and a fit-notes line: the headline figure
    must still start on the first screen (it follows the contrast table)."""
    from reports.synthetic import quick_like_run

    out = build_report(quick_like_run(tmp_path / "run"), n_boot=20)
    md = (out / "report.md").read_text()
    assert "Fit notes: ended on their budget" in md and md.count("| multi_index (") >= 8
    lay = check_page(out / "report.html", tmp_path / "profile", 1280)["layout"]
    assert lay["verdict"] is not None and lay["verdict"] < lay["headline"]
    assert lay["headline"] < SCREEN_HEIGHT * 0.75, lay


@needs_chromium
@pytest.mark.parametrize("width", WIDTHS)
def test_screenshot_and_no_console_messages(report, tmp_path, width):
    shot = report / f"screenshot_{width}.png"
    page = framed(report / "report.html", width, 2400)
    _, err = run_chromium(["--enable-logging=stderr", "--v=0", f"--window-size={width},2400",
                           f"--screenshot={shot}", page.as_uri()], tmp_path / "profile")
    page.unlink()
    console = [line for line in err.splitlines() if ":CONSOLE" in line]
    assert console == []
    assert shot.read_bytes()[:4] == b"\x89PNG" and shot.stat().st_size > 10_000
    keep = os.environ.get("HIERBENCH_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)


def test_no_two_texts_overlap_in_any_figure(report):
    boxes = json.loads((report / "figures" / TEXT_BOXES).read_text())
    svgs = sorted(p.stem for p in (report / "figures").glob("*.svg"))
    assert sorted(boxes) == svgs and len(svgs) >= 4
    for name, fig_boxes in boxes.items():
        assert len(fig_boxes) >= 5, name  # titles, labels, ticks, legend were all recorded
        assert overlapping_texts(fig_boxes) == [], name


def test_overlap_check_finds_overlapping_texts(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.set_title("a title")
    ax.text(0.5, 0.5, "one label", transform=ax.transAxes)
    ax.text(0.52, 0.51, "another label", transform=ax.transAxes)
    with figure_formats("png,svg,pdf"):
        save_figure(fig, tmp_path, "clash", "clash", "two texts on top of each other")
    boxes = json.loads((tmp_path / TEXT_BOXES).read_text())["clash"]
    assert ("one label", "another label") in overlapping_texts(boxes)
    assert all(b[4] != "" for b in boxes) and any(b[4] == "a title" for b in boxes)
    assert {p.suffix for p in tmp_path.iterdir()} == {".png", ".svg", ".pdf", ".json"}
