"""report.html in headless Chromium: every image loads, no console errors, a screenshot is saved.

Chromium is driven from its command line (no WebDriver): ``--dump-dom`` on a copy of the report
with a small checker script injected (it records error events and console.error calls and, on
load, writes the state of every <img> into the DOM), and ``--screenshot`` with
``--enable-logging=stderr`` on the report itself, whose stderr must contain no console message
(the report has no scripts of its own).  Skipped when no Chromium is installed.
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
from reports.synthetic import demo_run

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
  var pre = document.createElement('pre');
  pre.id = 'hb-check';
  pre.textContent = JSON.stringify({images: imgs, errors: window.__hb.errors});
  document.body.appendChild(pre);
});
</script>"""


def find_chromium() -> str | None:
    env = os.environ.get("CHROMIUM_PATH")
    if env and Path(env).exists():
        return env
    return next((p for p in map(shutil.which, NAMES) if p), None)


pytestmark = pytest.mark.skipif(
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


def check_page(page: Path, profile: Path) -> dict:
    """Images and errors of ``page`` as seen by the injected checker."""
    checked = page.with_name(page.stem + "_checked.html")
    checked.write_text(page.read_text().replace("<head>", "<head>" + CHECKER, 1))
    dom, _ = run_chromium(["--virtual-time-budget=15000", "--dump-dom", checked.as_uri()],
                          profile)
    checked.unlink()
    found = re.search(r'<pre id="hb-check">(.*?)</pre>', dom, re.S)
    assert found, "the checker did not run (no load event?)"
    return json.loads(html.unescape(found.group(1)))


def test_checker_detects_broken_images_and_console_errors(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head></head><body>'
                   '<img src="data:image/png;base64,AAAA"><script>console.error("boom")</script>'
                   "</body></html>")
    state = check_page(bad, tmp_path / "profile")
    assert [img["loaded"] for img in state["images"]] == [False]
    assert any("boom" in e for e in state["errors"])


def test_every_image_loads_without_errors(report, tmp_path):
    state = check_page(report / "report.html", tmp_path / "profile")
    n_fig = len(list((report / "figures").glob("*.png")))
    assert len(state["images"]) == n_fig >= 4
    assert all(img["loaded"] and img["width"] > 100 for img in state["images"]), state["images"]
    assert state["errors"] == []


def test_screenshot_and_no_console_messages(report, tmp_path):
    shot = report / "screenshot.png"
    _, err = run_chromium(["--enable-logging=stderr", "--v=0", "--window-size=1280,2400",
                           f"--screenshot={shot}", (report / "report.html").as_uri()],
                          tmp_path / "profile")
    console = [line for line in err.splitlines() if ":CONSOLE" in line]
    assert console == []
    assert shot.read_bytes()[:4] == b"\x89PNG" and shot.stat().st_size > 10_000
