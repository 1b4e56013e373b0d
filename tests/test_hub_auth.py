"""The Hub token is found the usual ways (box, HF_TOKEN, the saved `hf auth login`), and only its
source is ever shown."""

import pytest
from test_hub import CANARY

from studio.publish.login import find_token, login_sentence


@pytest.fixture
def saved_login(tmp_path, monkeypatch):
    """Where `hf auth login` keeps the token, pointed at a private file for this test."""
    from huggingface_hub import constants

    path = tmp_path / "hf-home" / "token"
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(path))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    return path


def test_token_sources_in_order(saved_login, monkeypatch):
    assert find_token("") == (None, "none")
    assert "No Hub login found" in login_sentence()
    saved_login.parent.mkdir(parents=True)
    saved_login.write_text(CANARY)
    assert find_token(None) == (CANARY, "saved login")
    assert "logged in" in login_sentence() and CANARY not in login_sentence()
    monkeypatch.setenv("HF_TOKEN", "hf_fromenvironment0123456789")
    assert find_token("  ") == ("hf_fromenvironment0123456789", "HF_TOKEN")
    assert "HF_TOKEN" in login_sentence()
    assert find_token(" hf_box ") == ("hf_box", "box")


def test_push_uses_the_saved_login(saved_login, monkeypatch):
    """The Export tab no longer asks for a token the saved login already gives."""
    import types

    from studio.errors import StudioError
    from studio.ui.share import export_tab

    seen = {}

    def refuse(run_dir, repo_id, token, private, message):
        seen["token"] = token
        raise StudioError(f"The Hub refused token {token}.")

    monkeypatch.setattr("studio.publish.hub.push_adapter", refuse)
    monkeypatch.setattr("studio.runs.get_run", lambda run_id: types.SimpleNamespace(dir="x"))
    assert "No Hugging Face token" in export_tab.push_run("r1", "me/repo", True, "msg", "")
    saved_login.parent.mkdir(parents=True)
    saved_login.write_text(CANARY)
    status = export_tab.push_run("r1", "me/repo", True, "msg", "")
    assert seen["token"] == CANARY and CANARY not in status and "***" in status
