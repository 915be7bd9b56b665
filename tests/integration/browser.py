"""A real browser for the tests: headless Chromium driven by chromedriver (Selenium), run
inside a test's network namespace so that it sees the daemon's loopback as a user's browser
would, with screenshots saved on request."""

import ctypes
import os
import shutil

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


class Browser:
    """Chromium in netns (a Netns). While it is open, the calling thread is in that namespace
    too (chromedriver and Chromium inherit it, and the driver's own connections to chromedriver
    stay in it); close() quits the browser and brings the thread back."""

    def __init__(self, netns, workdir, shots_dir):
        self.shots_dir = str(shots_dir)
        os.makedirs(self.shots_dir, exist_ok=True)
        self._home = os.path.join(str(workdir), "chromium")
        os.makedirs(self._home, exist_ok=True)
        self._host_ns = os.open("/proc/self/ns/net", os.O_RDONLY)
        ns_fd = os.open(f"/run/netns/{netns.name}", os.O_RDONLY)
        try:
            _setns(ns_fd)
        finally:
            os.close(ns_fd)
        self.driver = None
        try:
            opts = webdriver.ChromeOptions()
            opts.binary_location = CHROMIUM
            # Root in a test: no sandbox. Nothing leaves the namespace's loopback anyway.
            for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                        "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
                        "--disable-background-networking", "--window-size=1000,1400",
                        f"--user-data-dir={self._home}/profile"):
                opts.add_argument(arg)
            service = Service(CHROMEDRIVER, log_path=os.path.join(self._home, "driver.log"))
            self.driver = webdriver.Chrome(service=service, options=opts)
        except Exception:
            self.close()
            raise

    def get(self, url):
        self.driver.get(url)

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def finds(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def _fresh(self, css, use):
        """use(element) on the element css finds now, found again if the page rebuilt it
        in between (the page redraws its cards on every event); None when it is not there."""
        for _ in range(20):
            els = self.finds(css)
            if not els:
                return None
            try:
                return use(els[0])
            except StaleElementReferenceException:
                continue
        raise AssertionError(f"{css} kept being replaced")

    def click(self, css):
        if self._fresh(css, lambda e: e.click() or True) is None:
            raise AssertionError(f"nothing to click at {css}")

    def type(self, css, text):
        """Types text into the input at css a key at a time, each key to the element found
        afresh (the page keeps what was typed, and the focus, when it redraws a card)."""
        for key in text:
            if self._fresh(css, lambda e, k=key: e.send_keys(k) or True) is None:
                raise AssertionError(f"nothing to type into at {css}")

    def attr(self, css, name):
        """An attribute of the element at css, None when there is none."""
        return self._fresh(css, lambda e: e.get_attribute(name))

    def text(self, css):
        """The visible text of the element at css, None when there is none."""
        return self._fresh(css, lambda e: e.text)

    def wait(self, what, cond, timeout=30):
        """Waits (bounded) until cond(driver) is true; the failure names what and shows the
        page's text."""
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(cond)
        except Exception as e:
            body = self.driver.find_element(By.TAG_NAME, "body").text
            raise AssertionError(f"page never showed {what}; it shows:\n{body}") from e

    def wait_css(self, css, timeout=30):
        return self.wait(css, lambda d: d.find_elements(By.CSS_SELECTOR, css) or False, timeout)

    def screenshot(self, name):
        path = os.path.join(self.shots_dir, f"{name}.png")
        self.driver.save_screenshot(path)
        return path

    def console_errors(self):
        return [e for e in self.driver.get_log("browser") if e.get("level") == "SEVERE"]

    def close(self):
        if self.driver is not None:
            try:
                self.driver.quit()
            finally:
                self.driver = None
        if self._host_ns is not None:
            _setns(self._host_ns)
            os.close(self._host_ns)
            self._host_ns = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
