"""Web login: https://{WebServerHostname}/aws_mwaa/aws-console-sso?login=true#{WebToken}
(aws-clients-and-serverless.md B.3). MWAA's page reads the token from the URL fragment with
JavaScript and POSTs it; the exact POST target and field are undocumented, so this page posts a
form field `token` back to the same path. The POST redeems the token (60 s, single use) and asks
the backend to log the browser in: it answers with cookies to set and where to send the browser.
"""

import base64
import hashlib
import html
import http.cookies
import logging
import urllib.parse

from mwaa_local.api import errors
from mwaa_local.api.backend import Backend, Cookie
from mwaa_local.api.response import Response, html_response
from mwaa_local.api.tokens import Kind, TokenStore

PATHS = ("/aws_mwaa/aws-console-sso", "/aws_mwaa/aws-console-sso/")
FORM_FIELD = "token"

log = logging.getLogger(__name__)

# The token stays out of the history (replaceState) and travels only in the POST body.
_SCRIPT = """
const token = decodeURIComponent(window.location.hash.slice(1));
if (token) {
  history.replaceState(null, "", window.location.pathname + window.location.search);
  const form = document.getElementById("login");
  form.elements["token"].value = token;
  form.submit();
} else {
  document.getElementById("status").textContent =
    "This address carries no web login token: create one with " +
    "`aws mwaa create-web-login-token --name NAME` and open " +
    "/aws_mwaa/aws-console-sso?login=true#<WebToken>.";
}
"""
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
# No form-action: Chromium applies it to the redirects that follow the form's POST too, and the
# POST redirects to the Airflow UI, another origin (another port). The form's action is fixed in
# this page, which shows nothing a caller controls.
_CSP = f"default-src 'none'; script-src 'sha256-{_SCRIPT_HASH}'; frame-ancestors 'none'"


def _page(title: str, status_text: str, script: bool) -> str:
    parts = [
        '<!doctype html><html><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title></head><body>",
        f'<p id="status">{html.escape(status_text)}</p>',
    ]
    if script:
        parts += [
            f'<form id="login" method="post" action="{PATHS[0]}">',
            f'<input type="hidden" name="{FORM_FIELD}"></form>',
            "<noscript>This page needs JavaScript to read the web login token.</noscript>",
            f"<script>{_SCRIPT}</script>",
        ]
    return "".join(parts) + "</body></html>"


def _set_cookie(cookie: Cookie) -> str:
    jar = http.cookies.SimpleCookie()
    jar[cookie.name] = cookie.value
    morsel = jar[cookie.name]
    morsel["path"] = cookie.path
    morsel["samesite"] = cookie.same_site
    if cookie.http_only:
        morsel["httponly"] = True
    if cookie.max_age is not None:
        morsel["max-age"] = str(cookie.max_age)
    return morsel.OutputString()


class WebLoginEndpoint:
    def __init__(self, backend: Backend, tokens: TokenStore) -> None:
        self._backend = backend
        self._tokens = tokens

    def handle(self, method: str, body: bytes) -> Response:
        if method == "GET":
            page = _page("Signing in to Airflow", "Signing in to Airflow...", script=True)
            return html_response(200, page, [("Content-Security-Policy", _CSP)])
        if method != "POST":
            return html_response(405, _page("Not allowed", f"{method} is not allowed.", False))
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        token = form.get(FORM_FIELD, [""])[-1]
        grant = self._tokens.redeem(Kind.WEB, token) if token else None
        if grant is None:
            return html_response(
                403,
                _page(
                    "Web login token refused",
                    "The web login token is missing, expired (tokens last 60 seconds) or used "
                    "already: create a new one with `aws mwaa create-web-login-token`.",
                    False,
                ),
            )
        try:
            login = self._backend.web_login(grant.environment, grant.airflow_identity or "")
        except errors.ApiError as exc:
            return html_response(502, _page("Sign-in failed", exc.message, False))
        except Exception as exc:
            log.exception("web login to %s failed", grant.environment)
            return html_response(502, _page("Sign-in failed", str(exc), False))
        headers = [("Location", login.redirect_url)]
        headers += [("Set-Cookie", _set_cookie(c)) for c in login.cookies]
        return html_response(
            303, _page("Signed in", "Signed in; opening Airflow...", False), headers
        )
