#!/usr/bin/env python3
"""Drives firn-collector's dashboard in a real headless Chromium (selenium + chromedriver).

    browser_check.py URL DATA_DIR SCREENSHOT_DIR

Checks every panel's numbers against the fixture (collector/tests/common/fixture.rs), the
log search (paging, filters, a line's neighbours), and that the page updates when a new
file arrives in DATA_DIR. Prints "dashboard ok"; exits non-zero with the reason otherwise.
"""
import glob
import os
import shutil
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

URL, DATA, SHOTS = sys.argv[1], sys.argv[2], sys.argv[3]


def browser(profile):
    o = Options()
    o.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--window-size=1400,2200",
                 f"--user-data-dir={profile}"):
        o.add_argument(flag)
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return webdriver.Chrome(service=Service(driver), options=o)


def wait(what, check, timeout=30):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            v = check()
            if v:
                return v
        except Exception as e:  # the element may not be there yet
            last = e
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last error: {last})")


def cells(d, selector):
    return [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in d.find_elements(By.CSS_SELECTOR, selector)]


def row_for(d, panel, container):
    return d.find_element(By.CSS_SELECTOR, f"#{panel} tbody tr[data-container='{container}']")


def expect(label, got, want):
    if got != want:
        raise AssertionError(f"{label}: got {got!r}, want {want!r}")


def settle(label, read, want, timeout=15):
    """Reads again until the answer is `want`: the page re-renders its tables each refresh,
    so an element read a moment ago may be gone (stale)."""
    deadline = time.time() + timeout
    got = None
    while time.time() < deadline:
        try:
            got = read()
            if got == want:
                return
        except Exception as e:
            got = e
        time.sleep(0.2)
    raise AssertionError(f"{label}: got {got!r}, want {want!r}")


def text_of(d, panel, container, cls):
    return row_for(d, panel, container).find_element(By.CSS_SELECTOR, cls).text


def click(d, how):
    """Clicks what `how` finds, again if a refresh replaced it meanwhile."""
    for _ in range(20):
        try:
            how().click()
            return
        except Exception:
            time.sleep(0.2)
    how().click()


def messages(d):
    return [tr.find_element(By.CSS_SELECTOR, "td.msg").text
            for tr in d.find_elements(By.CSS_SELECTOR, "#results tbody tr[data-ts]")]


def main():
    profile = tempfile.mkdtemp(prefix="firn-chromium-")
    d = browser(profile)
    try:
        d.get(URL)
        wait("first load", lambda: int(d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") or 0) >= 1)
        expect("errors shown", d.find_element(By.ID, "status").text, "")

        # Services and containers seen.
        settle("services", lambda: [r[:5] for r in cells(d, "#services tbody tr")],
               [["shop", "api", "31", "1", "9"], ["shop", "worker", "4", "2", "7"]])

        # Log volume by severity: 8 (hour, severity) groups, as bars and as the table.
        settle("volume rows", lambda: len(cells(d, "#volume tbody tr")), 8)
        settle("volume 01:00 INFO", lambda: ["2026-12-01T01:00:00", "INFO", "27"] in cells(d, "#volume tbody tr"), True)
        settle("volume bars", lambda: len(d.find_elements(By.CSS_SELECTOR, "#volume svg rect")), 8)

        # Error rate per hour.
        settle("error rates", lambda: [r[3] for r in cells(d, "#errors tbody tr")], ["33.3%", "50.0%", "0.0%"])

        # CPU and memory against the limit (latest values).
        settle("api cpu", lambda: text_of(d, "resources", "api", ".cpu"), "0.75 / 2 (37.5%)")
        settle("api memory", lambda: text_of(d, "resources", "api", ".memory"), "100.0 MiB / 512.0 MiB (19.5%)")
        settle("worker cpu", lambda: text_of(d, "resources", "worker", ".cpu"), "1.50 / 2 (75.0%)")
        settle("worker memory", lambda: text_of(d, "resources", "worker", ".memory"), "500.0 MiB / 512.0 MiB (97.7%)")

        # Restarts and the last exit.
        settle("restarts", lambda: text_of(d, "restarts", "worker", ".restarts"), "3")
        settle("reason", lambda: text_of(d, "restarts", "worker", ".reason"), "FailedWithOOM")
        settle("exit code", lambda: text_of(d, "restarts", "worker", ".exitcode"), "137")

        # Network and storage.
        settle("received", lambda: text_of(d, "network", "api", ".received"), "1000 B")
        settle("transmitted", lambda: text_of(d, "network", "api", ".transmitted"), "2.0 KiB")
        settle("volume used", lambda: text_of(d, "storage", "api", ".used"), "1.0 GiB (10.0%)")
        settle("volume capacity", lambda: text_of(d, "storage", "api", ".capacity"), "10.0 GiB")
        d.save_screenshot(os.path.join(SHOTS, "dashboard.png"))

        # Log search: "tick" pages 20 then 5, newest first.
        box = d.find_element(By.CSS_SELECTOR, "#filters input[name=q]")
        box.clear()
        box.send_keys("tick")
        d.find_element(By.ID, "go").click()
        settle("search page 1", lambda: messages(d), [f"tick {i}" for i in range(25, 5, -1)])
        click(d, lambda: d.find_element(By.ID, "next"))
        settle("search page 2", lambda: messages(d), ["tick 5", "tick 4", "tick 3", "tick 2", "tick 1"])
        settle("no page 3", lambda: d.find_element(By.ID, "next").get_attribute("disabled") is not None, True)
        d.save_screenshot(os.path.join(SHOTS, "search.png"))
        click(d, lambda: d.find_element(By.ID, "prev"))
        wait("back to page 1", lambda: messages(d)[:1] == ["tick 25"])

        # Severity ERROR and above, then the neighbours of one line in time.
        box.clear()
        Select(d.find_element(By.CSS_SELECTOR, "#filters select[name=severity]")).select_by_visible_text("ERROR")
        d.find_element(By.ID, "go").click()
        want = ["out of memory", "job 2 failed: timeout", "payment failed: card declined"]
        settle("errors only", lambda: messages(d), want)
        click(d, lambda: d.find_elements(By.CSS_SELECTOR, "#results a.around")[1])
        settle("neighbours of 'job 2 failed'", lambda: messages(d), ["out of memory", "job 2 failed: timeout", "job 1 done"])
        d.save_screenshot(os.path.join(SHOTS, "around.png"))

        # A new file arrives: the worker's lines double at the next refresh.
        src = glob.glob(os.path.join(DATA, "date=2026-12-01", "hour=00", "*.parquet"))[0]
        dest = os.path.join(DATA, "date=2026-12-02", "hour=00")
        os.makedirs(dest, exist_ok=True)
        shutil.copy(src, os.path.join(dest, ".copy.parquet.tmp"))
        os.rename(os.path.join(dest, ".copy.parquet.tmp"), os.path.join(dest, "copy.parquet"))
        settle("the new file counted", lambda: cells(d, "#services tbody tr")[1][2], "8")
        d.save_screenshot(os.path.join(SHOTS, "updated.png"))
        print("dashboard ok")
    except Exception:
        try:
            d.save_screenshot(os.path.join(SHOTS, "failure.png"))
            with open(os.path.join(SHOTS, "failure.html"), "w") as f:
                f.write(d.page_source)
        finally:
            raise
    finally:
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
