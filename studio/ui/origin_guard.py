"""The app answers only its own origin: ASGI middleware in front of Gradio's FastAPI app.

A web page the user visits can reach 127.0.0.1 in two ways. Through DNS rebinding it points a name of
its own (attacker.example) at 127.0.0.1, so its requests arrive with that name in ``Host``: refused
unless the name is one the app was bound to or the user listed with --allowed-host. Or it calls the app
from its own origin (a form post, a no-cors fetch): its request carries an ``Origin`` other than the
app's, or ``Sec-Fetch-Site: cross-site``/``same-site``: refused, whatever the method. A link followed to
the app's page (a top-level navigation) still opens it; nothing else from another origin gets through.
Installed through ``launch(app_kwargs={"middleware": [...]})``, so Gradio itself is not changed.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from dataclasses import dataclass

from studio.errors import StudioError

log = logging.getLogger("studio.ui")
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
ANY_ADDRESS = frozenset({"0.0.0.0", "::", ""})
SHARE_SUFFIX = ".gradio.live"  # Gradio's share links arrive through its tunnel under this domain
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")


@dataclass(frozen=True)
class HostPolicy:
    """The names the app answers to."""

    names: frozenset[str]
    any_ip: bool = False  # bound to every address: a request addressed by IP cannot be a rebinding
    share: bool = False

    def allows(self, name: str) -> bool:
        if name in self.names or (self.share and name.endswith(SHARE_SUFFIX)):
            return True
        return self.any_ip and _is_ip(name)


def host_policy(bound: str, allowed: list[str] | tuple[str, ...] = (), share: bool = False) -> HostPolicy:
    """What a server bound to ``bound`` answers to, plus the names the user listed (checked here)."""
    extra = set()
    for name in allowed:
        cleaned = name.strip().lower().rstrip(".")
        if not (_HOST_NAME.match(cleaned) or _is_ip(cleaned)):
            raise StudioError(f"--allowed-host {name!r} is not a host name; give a bare name such as "
                              "studio.lan (no http:// and no port).")
        extra.add(cleaned)
    bound = bound.strip("[]").lower()
    names = {bound} | extra
    if bound in LOOPBACK_NAMES or bound in ANY_ADDRESS:
        names |= LOOPBACK_NAMES  # every name for this machine itself; no other site can take these
    if bound in ANY_ADDRESS:
        names.add(socket.gethostname().lower())
    return HostPolicy(frozenset(names - {""}), any_ip=bound in ANY_ADDRESS, share=share)


def refusal(headers: dict[str, str], method: str, policy: HostPolicy) -> str | None:
    """Why a request with these (lower-cased) headers is refused, or None to let it through."""
    host = headers.get("host", "")
    name = _host_name(host)
    if not policy.allows(name):
        return (f"This studio does not answer to the name '{name}'; open it at the address it printed, "
                "or start it with --allowed-host NAME to allow that name.")
    origin = headers.get("origin")
    if origin is not None and origin.lower().rstrip("/") not in _own_origins(host):
        return f"This studio does not answer calls from other sites ({origin}); open it at its own address."
    site = headers.get("sec-fetch-site", "same-origin")
    page_opened = headers.get("sec-fetch-mode") == "navigate" and headers.get("sec-fetch-dest") == "document"
    if site in ("cross-site", "same-site") and not (method == "GET" and page_opened):
        return "This studio does not answer calls from other sites; open it at its own address."
    return None


class OriginGuard:
    """Refuses (403, one sentence) every request ``refusal`` names a reason for."""

    def __init__(self, app, policy: HostPolicy):
        self.app, self.policy = app, policy

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        reason = refusal(headers, scope.get("method", "GET"), self.policy)
        if reason is None:
            await self.app(scope, receive, send)
            return
        log.warning("refused %s %s: %s", scope.get("method", "WEBSOCKET"), scope.get("path"), reason)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = reason.encode()
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _host_name(host: str) -> str:
    """The name in a Host header, without its port ("[::1]:7860" -> "::1")."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _own_origins(host: str) -> set[str]:
    """The origins of a page this app served under the Host it was asked for."""
    host = host.strip().lower()
    own = {f"http://{host}", f"https://{host}"}
    for scheme, port in (("http", ":80"), ("https", ":443")):
        if host.endswith(port):  # an origin leaves the scheme's default port out
            own.add(f"{scheme}://{host[: -len(port)]}")
    return own


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False
