"""Airflow's web UI as a user clicks through it, in a headless Chromium (tests/e2e/browser.py):
Airflow 2's Flask pages (with React panels in a shadow root) and Airflow 3's React UI differ, so
each step has one way per major version. The selectors were read off the real pages (2.10.3,
3.3.1)."""

import re
from urllib.parse import quote, unquote, urlparse

from tests.e2e.browser import Browser

# What a task log panel shows when the web server cannot read the worker's log.
LOG_ERRORS = (
    "Could not read served logs",
    "Log file does not exist",
    "Failed to fetch log file",
    "*** Could not",
)


def start_output_login(stdout: str) -> tuple[str, str, str]:
    """The UI's address, the user and the password `mwaa-local start` prints."""
    ui = re.search(r"Airflow UI: (\S+)", stdout)
    login = re.search(r"Login:\s+(\S+) / (\S+)", stdout)
    assert ui and login, f"`start` printed no UI address or login:\n{stdout}"
    return ui.group(1), login.group(1), login.group(2)


def dag_list_path(major: int) -> str:
    return "/dags" if major >= 3 else "/home"


def log_in(b: Browser, ui: str, user: str, password: str, major: int) -> None:
    """Open the DAG list, be sent to the login form, log in and land on the DAG list."""
    from selenium.webdriver.common.by import By

    landing = dag_list_path(major)
    b.get(ui + landing)
    b.wait("the login form", lambda: b.visible("//form//input[@name='username']"))
    b.driver.find_element(By.NAME, "username").send_keys(user)
    b.driver.find_element(By.NAME, "password").send_keys(password)
    b.click("submitting the login form", "//form//*[@type='submit']")
    b.wait(
        f"the DAG list at {landing} after logging in",
        lambda: urlparse(b.driver.current_url).path.rstrip("/") == landing,
    )


def open_dag(b: Browser, dag_id: str) -> None:
    """Find the DAG in the list and open it by its link."""
    b.wait_reloading(f"{dag_id} in the DAG list", lambda: dag_id in b.text(), timeout=120)
    b.click(
        f"the link to {dag_id}",
        f"//a[contains(@href, '/dags/{dag_id}') and normalize-space(.)='{dag_id}']",
    )
    b.wait(f"{dag_id}'s page", lambda: f"/dags/{dag_id}" in b.driver.current_url)


def trigger(b: Browser, dag_id: str, major: int) -> str:
    """Trigger the open DAG with its trigger button; the new run's id."""
    if major >= 3:
        # A dialog: single run (the default), "Unpause <dag> on trigger" ticked when the DAG
        # is paused, then its own Trigger button.
        b.click("the Trigger button", "//button[@data-testid='trigger-dag-button']")
        b.click(
            "the dialog's Trigger button",
            "//*[@role='dialog']//button[@data-testid='trigger-dag-submit']",
        )
        # The UI then shows the new run at /dags/<dag>/runs/<run id>
        path = b.wait(
            "the new run's page",
            lambda: re.search(r"/runs/([^/?#]+)$", urlparse(b.driver.current_url).path),
        )
        return unquote(path.group(1))
    # Airflow 2: a DAG without params is triggered at once; a flash message names the run.
    b.click("the Trigger DAG button", "//a[@aria-label='Trigger DAG']")
    flashed = b.wait(
        "the 'Triggered ... with new Run ID' message",
        lambda: re.search(rf"Triggered {dag_id} with new Run ID (\S+),", b.text()),
    )
    return flashed.group(1)


def wait_for_success(b: Browser, ui: str, dag_id: str, run_id: str, task_id: str, major: int):
    """Watch the run's page until the run and its task show success (reloading it, as a user
    would, in case auto-refresh is off)."""
    if major >= 3:
        page = f"{ui}/dags/{dag_id}/runs/{quote(run_id)}"
        shown = [rf"{re.escape(run_id)}\s+Success", rf"{task_id}\s+Success"]
    else:
        page = f"{ui}/dags/{dag_id}/grid?dag_run_id={quote(run_id)}&task_id={task_id}"
        shown = [r"Status\s*:?\s*success"]
    if b.driver.current_url != page:
        b.get(page)
    b.wait_reloading(
        f"run {run_id} and task {task_id} shown as succeeded",
        lambda: all(re.search(pattern, b.text()) for pattern in shown),
        timeout=180,
    )


def open_task_log(b: Browser, run_id: str, task_id: str, major: int) -> None:
    """Open the task's log from the run's page (wait_for_success leaves it there)."""
    if major >= 3:
        # The task instance's link in the run's table; its page opens on the Logs tab.
        instance = f"/runs/{run_id}/tasks/{task_id}"
        b.click(f"the link to {task_id} in the run", f"//a[contains(@href, '{instance}')]")
        b.wait(f"{task_id}'s page", lambda: instance in unquote(b.driver.current_url))
    else:
        tabs = b.wait(
            "the Logs tab",
            lambda: [e for e in b.visible_in_shadow("button") if e.text.strip() == "Logs"],
        )
        tabs[0].click()
