"""Headless Chromium for the e2e tests: Debian's `chromium` and `chromium-driver` (.ci/run installs
them) driven by selenium. A step that fails keeps a screenshot and the page source in the folder
MWAA_LOCAL_TEST_ARTEFACTS names (a temporary folder when unset), and the failure names that folder.
"""

import contextlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ARTEFACTS_VARIABLE = "MWAA_LOCAL_TEST_ARTEFACTS"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)

SHOWN_TEXT = """
const shadows = Array.from(document.querySelectorAll('*')).filter(e => e.shadowRoot);
const inner = shadows.flatMap(e => Array.from(e.shadowRoot.children).map(c => c.innerText || ''));
return [document.body.innerText, ...inner].join('\\n');
"""
SHADOW_MARKUP = """
return Array.from(document.querySelectorAll('*')).filter(e => e.shadowRoot)
    .map(e => e.shadowRoot.innerHTML);
"""


def artefacts_folder() -> Path:
    folder = os.environ.get(ARTEFACTS_VARIABLE)
    path = Path(folder) if folder else Path(tempfile.gettempdir()) / "mwaa-local-test-artefacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert binary and driver, "install Debian's chromium and chromium-driver (.ci/run does)"
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='mwaa-local-chromium-')}")
    return webdriver.Chrome(service=Service(driver), options=options)


class Browser:
    """A headless Chromium and the step it is at, for the failure message."""

    def __init__(self, driver) -> None:
        self.driver = driver
        self.step = "opening the browser"
        self.took: list[tuple[str, float]] = []  # each awaited step and its seconds

    def get(self, url: str) -> None:
        self.step = f"opening {url}"
        self.driver.get(url)

    def text(self) -> str:
        """What the page shows: the rendered text, shadow roots included (Airflow 2's React
        views draw inside one)."""
        from selenium.common.exceptions import WebDriverException

        try:
            return self.driver.execute_script(SHOWN_TEXT)
        except WebDriverException:  # the page is being replaced
            return ""

    def source(self) -> str:
        """The page's markup, each shadow root's appended."""
        return self.driver.page_source + "\n".join(self.driver.execute_script(SHADOW_MARKUP))

    def wait(self, step: str, until: Callable[[], object], timeout: float = 60) -> object:
        """Wait for `until()` to return something true; `step` names what is awaited."""
        from selenium.common.exceptions import WebDriverException

        self.step = step
        started = time.monotonic()
        deadline = started + timeout
        while True:
            with contextlib.suppress(WebDriverException):
                found = until()
                if found:
                    self.took.append((step, time.monotonic() - started))
                    return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{step}: not after {timeout:.0f} s")
            time.sleep(0.5)

    def wait_reloading(
        self, step: str, until: Callable[[], object], timeout: float = 60, every: float = 10
    ) -> object:
        """wait(), reloading the page every `every` seconds, as a user would when a page does
        not refresh itself."""
        reloaded = time.monotonic()

        def found_or_reload() -> object:
            nonlocal reloaded
            found = until()
            if not found and time.monotonic() - reloaded > every:
                self.driver.refresh()
                reloaded = time.monotonic()
            return found

        return self.wait(step, found_or_reload, timeout)

    def wait_for_text(self, step: str, text: str, timeout: float = 60) -> None:
        self.wait(step, lambda: text in self.text(), timeout)

    def visible(self, xpath: str) -> list:
        from selenium.webdriver.common.by import By

        return [e for e in self.driver.find_elements(By.XPATH, xpath) if e.is_displayed()]

    def visible_in_shadow(self, css: str) -> list:
        """Elements `css` finds inside the page's shadow roots (XPath does not enter them)."""
        from selenium.webdriver.common.by import By

        hosts = self.driver.execute_script(
            "return Array.from(document.querySelectorAll('*')).filter(e => e.shadowRoot);"
        )
        found = [e for h in hosts for e in h.shadow_root.find_elements(By.CSS_SELECTOR, css)]
        return [e for e in found if e.is_displayed()]

    def click(self, step: str, xpath: str, timeout: float = 60) -> None:
        """Click the first visible, enabled element `xpath` finds; a React page re-renders
        while it loads, so a click on a replaced or covered element is tried again."""

        def clicked() -> bool:
            element = next((e for e in self.visible(xpath) if e.is_enabled()), None)
            if element is None:
                return False
            element.click()
            return True

        self.wait(step, clicked, timeout)


@contextlib.contextmanager
def browser(label: str) -> Iterator[Browser]:
    """A fresh headless Chromium; when the block fails, its screenshot and page source are kept
    as `label`-<time>.png/.html in the artefacts folder, which the failure names."""
    session = Browser(chromium())
    try:
        yield session
    except Exception as exc:
        safe = re.sub(r"[^\w.-]", "_", label)
        stem = artefacts_folder() / f"{safe}-{time.strftime('%H%M%S')}"
        with contextlib.suppress(Exception):
            session.driver.save_screenshot(f"{stem}.png")
            Path(f"{stem}.html").write_text(session.source())
        raise AssertionError(
            f"{label}: failed while {session.step} (at {session.driver.current_url}); "
            f"screenshot and page source: {stem}.png, {stem}.html"
        ) from exc
    finally:
        session.driver.quit()
