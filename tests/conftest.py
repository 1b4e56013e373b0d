import os
import sys
from pathlib import Path

import pytest

# Threads per test worker, set before torch is imported here or in any process a test starts: with
# pytest-xdist's two workers on two cores, each training process taking both cores (torch's default)
# makes four busy-waiting OpenMP threads share two cores, and every test that trains runs slower.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
os.environ.setdefault("OMP_NUM_THREADS", str(max(1, len(os.sched_getaffinity(0)) // _WORKERS)))

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from jsonl_files import write_jsonl
from tiny_model import build_tiny_model

# The files whose tests take longest, longest first (fresh-clone CI, 2026-12-06: the demo 626 s, then
# SIGKILL/resume and reload/stop/resume 139 s each, the sweep's browser test 91 s, ...). pytest-xdist
# (`--dist loadfile --no-loadscope-reorder`, the Makefile) hands files out in collection order; a long file
# handed out last would be the suite's tail while the other worker sits idle.
LONGEST_FIRST = ("e2e/test_demo_browser.py", "e2e/test_app_browser.py", "test_runs.py",
                 "e2e/test_sweep_browser.py", "e2e/test_layout_browser.py", "test_sweeps.py", "test_slurm.py",
                 "test_nodes.py", "test_scale.py", "test_processes_prep.py", "test_queue.py")


def pytest_collection_modifyitems(items):
    tests = Path(__file__).resolve().parent
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}

    def place(item) -> int:
        try:
            return rank.get(Path(item.path).resolve().relative_to(tests).as_posix(), len(rank))
        except ValueError:
            return len(rank)

    items.sort(key=place)  # stable: the other files keep pytest's order


def pytest_sessionfinish(session):
    """The spare trainers this run's workers started (studio.runs.spare_trainer) end with the suite, not
    ten idle minutes later; in the one process that outlives pytest-xdist's workers, or the only one."""
    if not hasattr(session.config, "workerinput"):
        from studio.runs.spare_trainer import stop_all

        stop_all()


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
