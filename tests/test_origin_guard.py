"""Which requests the app refuses (studio.ui.origin_guard), rule by rule; the browser test
(tests/e2e/test_origin_browser.py) shows the same rules holding against a real page."""

import pytest

from studio.errors import StudioError
from studio.ui.origin_guard import host_policy, refusal

LOCAL = host_policy("127.0.0.1")


def _refused(policy, host, method="GET", **headers) -> bool:
    sent = {"host": host, **{k.replace("_", "-"): v for k, v in headers.items()}}
    return refusal(sent, method, policy) is not None


def test_only_the_bound_names_and_the_listed_ones_are_answered():
    assert not _refused(LOCAL, "127.0.0.1:7860") and not _refused(LOCAL, "localhost:7860")
    assert not _refused(LOCAL, "[::1]:7860")
    rebound_names = ("attacker.example:7860", "attacker.localhost:7860", "127.0.0.1.nip.io:7860", "",
                     "10.0.0.5:7860")
    for rebound in rebound_names:
        assert _refused(LOCAL, rebound), rebound
    listed = host_policy("127.0.0.1", ["Studio.LAN"])
    assert not _refused(listed, "studio.lan:7860") and _refused(listed, "other.lan:7860")
    assert "--allowed-host" in refusal({"host": "attacker.example"}, "GET", LOCAL)


def test_an_any_address_server_answers_ip_addresses_but_not_foreign_names():
    everywhere = host_policy("0.0.0.0")
    assert not _refused(everywhere, "192.168.1.4:7860") and not _refused(everywhere, "localhost:7860")
    assert _refused(everywhere, "attacker.example:7860")
    assert not _refused(host_policy("127.0.0.1", share=True), "abc123.gradio.live")


def test_calls_from_another_origin_are_refused_whatever_the_method():
    own = "127.0.0.1:7860"
    assert not _refused(LOCAL, own, "POST", origin="http://127.0.0.1:7860", sec_fetch_site="same-origin")
    assert _refused(LOCAL, own, "POST", origin="http://localhost:9000")
    assert _refused(LOCAL, own, "POST", origin="null")
    assert _refused(LOCAL, own, "GET", sec_fetch_site="cross-site", sec_fetch_mode="no-cors")
    assert _refused(LOCAL, own, "GET", sec_fetch_site="same-site", sec_fetch_mode="cors")
    assert _refused(LOCAL, own, "GET", sec_fetch_site="cross-site", sec_fetch_mode="navigate",
                    sec_fetch_dest="iframe")  # framed by another site
    # a link followed from elsewhere still opens the page, and a typed address has no Sec-Fetch-Site at all
    assert not _refused(LOCAL, own, "GET", sec_fetch_site="cross-site", sec_fetch_mode="navigate",
                        sec_fetch_dest="document")
    assert not _refused(LOCAL, own, "GET", sec_fetch_site="none")


def test_a_listed_name_must_be_a_bare_host_name(tmp_path):
    from studio.cli import build_parser
    from studio.ui.app import launch_kwargs

    for bad in ("http://studio.lan", "studio.lan:7860", "a b"):
        with pytest.raises(StudioError, match="not a host name"):
            host_policy("127.0.0.1", [bad])
    kwargs = launch_kwargs(build_parser().parse_args(["app", "--allowed-host", "studio.lan"]))
    (guard,) = kwargs["app_kwargs"]["middleware"]
    assert "studio.lan" in guard.kwargs["policy"].names
