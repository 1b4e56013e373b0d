"""The app answers only its own origin, seen from the real browser: a name pointed at 127.0.0.1 (DNS
rebinding; chromium resolves every *.localhost name to 127.0.0.1 itself) gets a refusal instead of the
app, and a page served by another server on another port and name cannot call the app's API, whatever
the method or fetch mode; the app's own page still calls it."""

from __future__ import annotations

import http.server
import threading
from functools import partial
from urllib.parse import urlsplit

import pytest

CALLS = """async (app) => {
  const tries = [
    fetch(app + "/gradio_api/info", {mode: "no-cors"}),
    fetch(app + "/config"),
    fetch(app + "/gradio_api/queue/join", {method: "POST", mode: "no-cors", body: "{}",
                                           headers: {"Content-Type": "text/plain"}}),
  ];
  await Promise.allSettled(tries);
}"""


@pytest.fixture
def other_site(tmp_path):
    """A page on another server: 127.0.0.1 on a port of its own, opened as http://localhost:PORT."""
    (tmp_path / "index.html").write_text("<html><body>another site</body></html>")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://localhost:{server.server_address[1]}/index.html"
    server.shutdown()
    server.server_close()


def test_a_rebound_name_gets_a_refusal_not_the_app(browser, app_url):
    port = urlsplit(app_url).port
    context = browser.new_context()
    try:
        page = context.new_page()
        response = page.goto(f"http://attacker.localhost:{port}/")
        assert response.status == 403 and "does not answer to the name 'attacker.localhost'" in page.content()
        api = page.goto(f"http://attacker.localhost:{port}/config")
        assert api.status == 403
        assert page.goto(f"http://localhost:{port}/config").status == 200  # this machine's own names work
    finally:
        context.close()


def test_another_sites_page_cannot_call_the_apps_api(browser, app_url, other_site):
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(other_site)
        statuses = []
        page.on("response",
                lambda r: statuses.append((r.url, r.status)) if r.url.startswith(app_url) else None)
        page.evaluate(CALLS, app_url)
        page.wait_for_timeout(500)
        assert len(statuses) == 3 and {status for _, status in statuses} == {403}, statuses
        # Gradio lets pages on localhost read its answers (CORS): all such a page reads is the refusal
        read = page.evaluate("async (app) => (await fetch(app + '/config')).text()", app_url)
        assert read.startswith("This studio does not answer calls from other sites")

        own = context.new_page()  # the app's own page, same calls: through
        own.goto(app_url)
        assert own.evaluate("async (app) => (await fetch(app + '/gradio_api/info')).status", app_url) == 200
        join = own.evaluate("async (app) => (await fetch(app + '/gradio_api/queue/join', {method: 'POST', "
                            "body: '{}', headers: {'Content-Type': 'application/json'}})).status", app_url)
        assert join != 403
    finally:
        context.close()
