#!/usr/bin/env python3
"""The HTML report in a real browser: records a program with access monitoring, writes
`report --html`, opens it in headless Chromium (Debian's chromium + chromium-driver) through
WebDriver, and checks that it loads with no console errors, that the flamegraph and the site table
are there and respond to clicks. Writes a screenshot next to the report.

usage: html_report_test.py DAMON_PROF PROGRAM OUTPUT_DIR
Exits 77 (skipped) when Chromium or ChromeDriver is not installed.
"""
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


def find(*names):
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


class WebDriver:
    def __init__(self, port):
        self.base = "http://127.0.0.1:%d" % port
        self.session = None

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read().decode())["value"]
        except urllib.error.HTTPError as error:
            raise RuntimeError("%s %s: %s" % (method, path, error.read().decode()[:500]))

    def start(self, chromium):
        capabilities = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--allow-file-access-from-files"]},
            "goog:loggingPrefs": {"browser": "ALL"}}}}
        self.session = self.call("POST", "/session", capabilities)["sessionId"]

    def s(self, path):
        return "/session/%s%s" % (self.session, path)

    def script(self, source, *args):
        return self.call("POST", self.s("/execute/sync"), {"script": source, "args": list(args)})

    def find(self, selector):
        found = self.call("POST", self.s("/elements"), {"using": "css selector", "value": selector})
        return [list(element.values())[0] for element in found]

    def click(self, element):
        self.call("POST", self.s("/element/%s/click" % element), {})


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    damon_prof, program, output = sys.argv[1:]
    chromium = find("chromium", "chromium-browser")
    driver_binary = find("chromedriver")
    if not chromium or not driver_binary:
        print("SKIPPED: chromium and chromium-driver are not installed (scripts/install-deps.sh --test)")
        return 77
    os.makedirs(output, exist_ok=True)
    trace = os.path.join(output, "browser.dprof")
    page = os.path.join(output, "report.html")
    for stale in (trace, page):
        if os.path.exists(stale):
            os.remove(stale)
    subprocess.run([damon_prof, "-q", "-o", trace, "--sampling", "5ms", "--aggregation", "100ms",
                    "--overhead", "100%", program, "2"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([damon_prof, "report", trace, "--html", page], check=True)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([driver_binary, "--port=%d" % port], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    failures = []
    try:
        driver = WebDriver(port)
        for _ in range(100):
            try:
                if driver.call("GET", "/status").get("ready"):
                    break
            except (urllib.error.URLError, ConnectionError, RuntimeError):
                pass
            time.sleep(0.1)
        driver.start(chromium)
        driver.call("POST", driver.s("/url"), {"url": "file://" + os.path.abspath(page)})
        driver.script("return document.readyState")

        # No errors on the console (script errors, blocked resources, bad markup).
        logs = driver.call("POST", driver.s("/se/log"), {"type": "browser"})
        errors = [entry["message"] for entry in logs if entry.get("level") == "SEVERE"]
        if errors:
            failures.append("console errors: %s" % errors)

        # The site table: rows, and a click on a heading sorts by it.
        rows = driver.script("return document.querySelectorAll('#sites tbody tr').length")
        if rows < 3:
            failures.append("site table has %s rows, expected the program's sites" % rows)
        headings = driver.find("#sites th")
        titles = driver.script(
            "return Array.from(document.querySelectorAll('#sites th')).map(t => t.textContent)")
        column = titles.index("allocs")
        driver.click(headings[column])
        values = driver.script(
            "return Array.from(document.querySelectorAll('#sites tbody tr')).map("
            "r => +r.cells[arguments[0]].dataset.value)", column)
        if values != sorted(values, reverse=True):
            failures.append("clicking 'allocs' did not sort the table: %s" % values[:10])
        if "sorted" not in driver.script(
                "return document.querySelectorAll('#sites th')[arguments[0]].className", column):
            failures.append("the sorted heading is not marked")

        # The flamegraph: frames exist, the script initialised it, a click zooms.
        frames = driver.script("return document.querySelectorAll('#flame-hot g.f').length")
        if frames < 3:
            failures.append("hot flamegraph has %s frames" % frames)
        if not driver.script("return !!document.getElementById('flame-hot').dprofZoom"):
            failures.append("the flamegraph script did not initialise")
        target = driver.find("#flame-hot g.f[data-d='3'] rect")
        if not target:
            failures.append("no frame at depth 3 to click")
        else:
            driver.click(target[0])
            state = driver.script(
                "var svg = document.getElementById('flame-hot');"
                "return {reset: svg.querySelector('text.reset').getAttribute('visibility'),"
                " hidden: Array.from(svg.querySelectorAll('g.f')).filter("
                "g => g.style.display === 'none').length,"
                " widest: Math.max.apply(null, Array.from(svg.querySelectorAll('g.f rect')).map("
                "r => +r.getAttribute('width')))}")
            if state["reset"] != "visible":
                failures.append("clicking a frame did not zoom: %s" % state)
        # Search highlights matching frames.
        search = driver.find("#flame-search")
        driver.call("POST", driver.s("/element/%s/value" % search[0]), {"text": "make_hot_table"})
        hits = driver.script("return document.querySelectorAll('#flame-hot g.hit').length")
        if hits < 1:
            failures.append("searching make_hot_table highlighted nothing")
        # The heatmaps and the timeline are drawn.
        for selector in ("svg.dprof-heatmap rect", "svg.dprof-timeline path"):
            if driver.script("return document.querySelectorAll(arguments[0]).length", selector) < 1:
                failures.append("nothing drawn for %s" % selector)

        shot = driver.call("GET", driver.s("/screenshot"))
        with open(os.path.join(output, "report.png"), "wb") as file:
            file.write(base64.b64decode(shot))
        driver.call("DELETE", driver.s(""))
    finally:
        server.terminate()
        server.wait(timeout=10)
    for failure in failures:
        print("FAILED: " + failure)
    print("screenshot: " + os.path.join(output, "report.png"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
