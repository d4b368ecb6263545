"""A browser session for the Airflow UI, made server-side: log in to Airflow's own
Flask-AppBuilder login form as a user and keep the cookies it sets, for the web login endpoint to
hand over (cookies are per host, not per port, so a browser on the API's 127.0.0.1:<port> sends
them to the UI on 127.0.0.1:<WebserverPort>).

What each version's FAB login sets (read from the installed code):
- Airflow 2 (the webserver's FAB, /login/): Flask's `session` cookie, HttpOnly, SameSite=Lax,
  holding the logged-in user.
- Airflow 3 (the FAB auth manager mounted at /auth, /auth/login/): the same `session` cookie
  (path [api] base_url or /) for the FAB pages, and `_token`, the JWT the UI and its REST API
  calls use (providers/fab/www/views.py `redirect`: HttpOnly from Airflow 3.1.1, readable by the
  UI's script before that).
Both forms carry a CSRF token that comes with the login page's session cookie.
"""

import datetime
import email.utils
import html
import http.client
import http.cookies
import re
import urllib.parse
from dataclasses import dataclass

from mwaa_local.api.backend import Cookie, WebLogin
from mwaa_local.errors import MwaaLocalError

TIMEOUT_SECONDS = 30
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="csrf_token"')


@dataclass(frozen=True)
class _Answer:
    status: int
    location: str
    cookies: dict[str, Cookie]
    body: str


def login_paths(major: int) -> tuple[str, str]:
    """The FAB login form's path and where a logged-in browser goes, per Airflow major."""
    return ("/auth/login/", "/") if major >= 3 else ("/login/", "/home")


def log_in(base_url: str, username: str, password: str, major: int) -> WebLogin:
    """Log in to the Airflow UI at `base_url` (http://host:port) and return the session."""
    login_path, landing = login_paths(major)
    split = urllib.parse.urlsplit(base_url)
    page = _request(split, "GET", login_path)
    if page.status != 200:
        raise MwaaLocalError(f"Airflow's login page {login_path} answered {page.status}.")
    found = _CSRF.search(page.body)
    if not found:
        raise MwaaLocalError(f"Airflow's login page {login_path} has no CSRF token.")
    form = urllib.parse.urlencode(
        {
            "username": username,
            "password": password,
            "csrf_token": html.unescape(found.group(1) or found.group(2)),
        }
    )
    answer = _request(split, "POST", login_path, form, page.cookies)
    logged_in = answer.status in (301, 302, 303) and "/login" not in answer.location
    if major >= 3:
        logged_in = logged_in and "_token" in answer.cookies
    if not logged_in:
        raise MwaaLocalError(
            f"Airflow refused the login of {username!r} (HTTP {answer.status}).",
            hint="Check Local.AdminUsername / Local.AdminPassword against the running stack.",
        )
    cookies = {**page.cookies, **answer.cookies}
    return WebLogin(base_url.rstrip("/") + landing, list(cookies.values()))


def _request(
    split: urllib.parse.SplitResult,
    method: str,
    path: str,
    form: str | None = None,
    cookies: dict[str, Cookie] | None = None,
) -> _Answer:
    connection = http.client.HTTPConnection(split.hostname, split.port, timeout=TIMEOUT_SECONDS)
    headers = {"Accept": "text/html"}
    if cookies:
        headers["Cookie"] = "; ".join(f"{c.name}={c.value}" for c in cookies.values())
    if form is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        connection.request(method, path, body=form, headers=headers)
        response = connection.getresponse()
        body = response.read().decode(errors="replace")
        set_cookies = response.msg.get_all("Set-Cookie") or []
        return _Answer(
            response.status,
            response.getheader("Location", ""),
            {c.name: c for c in (_cookie(h) for h in set_cookies) if c is not None},
            body,
        )
    except OSError as exc:
        raise MwaaLocalError(
            f"The Airflow UI at {split.netloc} does not answer: {exc}",
            hint="Is the environment running? mwaa-local status",
        ) from exc
    finally:
        connection.close()


def _cookie(header: str) -> Cookie | None:
    """One Set-Cookie header as a Cookie with the attributes Airflow gave it."""
    jar = http.cookies.SimpleCookie()
    try:
        jar.load(header)
    except http.cookies.CookieError:
        return None
    if not jar:
        return None
    morsel = next(iter(jar.values()))
    attributes = {part.strip().split("=", 1)[0].lower() for part in header.split(";")[1:]}
    return Cookie(
        name=morsel.key,
        value=morsel.value,
        path=morsel["path"] or "/",
        http_only="httponly" in attributes,
        same_site=morsel["samesite"] or "Lax",
        max_age=_max_age(morsel),
    )


def _max_age(morsel: http.cookies.Morsel) -> int | None:
    if morsel["max-age"]:
        try:
            return int(morsel["max-age"])
        except ValueError:
            return None
    if morsel["expires"]:
        try:
            expires = email.utils.parsedate_to_datetime(morsel["expires"])
        except (TypeError, ValueError):
            return None
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=datetime.UTC)
        return max(0, int((expires - datetime.datetime.now(datetime.UTC)).total_seconds()))
    return None
