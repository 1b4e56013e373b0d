import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from jsonl_files import write_jsonl
from tiny_model import build_tiny_model


@pytest.fixture(autouse=True)
def studio_home(tmp_path, monkeypatch):
    """Every test gets its own studio home; converted models are shared across tests."""
    home = tmp_path / "studio-home"
    monkeypatch.setenv("STUDIO_HOME", str(home))
    monkeypatch.setenv("STUDIO_MODEL_CACHE", str(Path.home() / ".studio" / "models"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home


@pytest.fixture(autouse=True, scope="module")
def models_let_go_after_each_module():
    """The model cache lives as long as the process; one test module's models leave with it."""
    yield
    from studio.models.cache import model_cache

    model_cache().evict()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))




@pytest.fixture
def pref_file(tmp_path) -> Path:
    rows = [
        {"prompt": f"Is pineapple on pizza a crime? ({i})",
         "chosen": "No, it is a matter of personal preference and taste.",
         "rejected": "Yes, it is a criminal act under the Geneva Convention."}
        for i in range(8)
    ]
    return write_jsonl(tmp_path / "pairs.jsonl", rows)


@pytest.fixture
def sft_file(tmp_path) -> Path:
    rows = [
        {"messages": [{"role": "user", "content": f"What is the capital of France? ({i})"},
                      {"role": "assistant", "content": "The capital of France is Paris."}]}
        for i in range(8)
    ]
    return write_jsonl(tmp_path / "chat.jsonl", rows)
