"""Datasets at their real size (issue 16): the Arrow path, the rows a max_steps run prepares, the
tokenized-data cache, data-preparation progress and sampled previews. Files are small; the size
threshold is lowered so they take the large-file path."""

import json

import pytest
from jsonl_files import write_jsonl

from studio.config import DataConfig, RunConfig
from studio.data import load_training_data
from studio.data.read import arrow as arrow_source


@pytest.fixture
def arrow_path(monkeypatch):
    """Every local file counts as large: it goes through Arrow."""
    monkeypatch.setattr(arrow_source, "LARGE_BYTES", 1)


def chat_rows(n: int, bad_every: int = 0) -> list:
    rows = []
    for i in range(n):
        if bad_every and i % bad_every == bad_every - 1:
            # no assistant turn: a row error
            rows.append({"messages": [{"role": "user", "content": f"q{i}"}]})
        else:
            rows.append({"messages": [{"role": "user", "content": f"What is {i} plus {i}?"},
                                      {"role": "assistant", "content": f"It is {2 * i}."}]})
    return rows


def write_with_broken_lines(path, rows, broken=(3, 11)):
    with path.open("w", encoding="utf-8") as fh:
        for i, row in enumerate(rows):
            fh.write('{"messages": [broken\n' if i in broken else json.dumps(row) + "\n")
    return path


def test_arrow_path_keeps_row_numbers_and_examples_of_the_list_path(tmp_path, monkeypatch):
    path = write_with_broken_lines(tmp_path / "chat.jsonl", chat_rows(40, bad_every=7))
    small = load_training_data(DataConfig(source=str(path)), "sft")
    monkeypatch.setattr(arrow_source, "LARGE_BYTES", 1)
    large = load_training_data(DataConfig(source=str(path)), "sft")
    assert [e["row"] for e in large.errors] == [e["row"] for e in small.errors] == [3, 6, 11, 13, 20, 27, 34]
    assert [e["message"] for e in large.errors] == [e["message"] for e in small.errors]
    assert large.dataset.to_list() == small.dataset.to_list()
    assert (large.rows, large.valid_rows, large.format) == (small.rows, small.valid_rows, small.format)
    assert large.dataset.cache_files  # memory-mapped Arrow, not an in-memory table


def test_parquet_through_arrow_matches_the_list_path(tmp_path, monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "orca.parquet"
    pq.write_table(pa.table({"system_prompt": ["Be brief.", ""] * 30,
                             "question": [f"Question {i}?" for i in range(60)],
                             "response": [f"Answer {i}." if i != 17 else "" for i in range(60)]}), path)
    small = load_training_data(DataConfig(source=str(path)), "sft")
    monkeypatch.setattr(arrow_source, "LARGE_BYTES", 1)
    large = load_training_data(DataConfig(source=str(path)), "sft")
    assert large.format == small.format == "openorca"
    assert large.dataset.to_list() == small.dataset.to_list()
    assert [e["row"] for e in large.errors] == [e["row"] for e in small.errors]


def test_take_reads_only_the_rows_a_run_consumes(tmp_path, arrow_path):
    path = write_with_broken_lines(tmp_path / "chat.jsonl", chat_rows(500))
    data = load_training_data(DataConfig(source=str(path)), "sft", take=24, seed=3)
    assert len(data.dataset) == 24
    assert data.rows == 500  # the file's rows, counted without normalising them
    assert any("Only 24 of the file's 500 rows" in n for n in data.notes)
    again = load_training_data(DataConfig(source=str(path)), "sft", take=24, seed=3)
    assert again.dataset.to_list() == data.dataset.to_list()  # the seed fixes the draw
    other = load_training_data(DataConfig(source=str(path)), "sft", take=24, seed=4)
    assert other.dataset.to_list() != data.dataset.to_list()
    numbers = {int(ex["messages"][0]["content"].split()[2]) for ex in data.dataset}
    assert max(numbers) > 100  # drawn from across the file, not its first rows


def test_rows_needed_follows_steps_batch_accumulation_and_processes(monkeypatch):
    from studio.training.trainer import rows_needed

    cfg = RunConfig.from_dict({"data": {"source": "x.jsonl"},
                               "training": {"max_steps": 5, "batch_size": 4, "gradient_accumulation": 3}})
    assert rows_needed(cfg) == 60
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert rows_needed(cfg) == 120
    cfg.training.max_steps = None
    assert rows_needed(cfg) is None


def tiny_run(model_dir, data_file, run_dir, **training):
    return RunConfig.from_dict({
        "method": "sft", "model": {"name": str(model_dir)},
        "data": {"source": str(data_file), "template": training.pop("template", "chatml")},
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
        "training": {"learning_rate": 1e-2, "max_steps": 2, "batch_size": 2, "max_length": 64,
                     "save_steps": 100,
                     **training},
        "output": {"dir": str(run_dir)},
    })


def test_max_steps_prepares_only_its_rows_and_the_cache_serves_the_next_run(tiny_model_dir, tmp_path):
    from studio.data.prepare.token_cache import entries
    from studio.training.train import train

    data = write_jsonl(tmp_path / "chat.jsonl", chat_rows(300))
    first = train(tiny_run(tiny_model_dir, data, tmp_path / "r1"), tmp_path / "r1")
    assert first["data_valid_rows"] == 2 * 2  # steps x batch, not the file's 300 rows
    assert first["data_cached"] is False and first["global_step"] == 2
    assert len(entries()) == 1
    second = train(tiny_run(tiny_model_dir, data, tmp_path / "r2"), tmp_path / "r2")
    assert second["data_cached"] is True and second["global_step"] == 2
    assert second["data_valid_rows"] == 4 and second["data_format"] == first["data_format"]
    longer = train(tiny_run(tiny_model_dir, data, tmp_path / "r3", max_length=48), tmp_path / "r3")
    assert longer["data_cached"] is False  # max length changed: tokenized again
    other = train(tiny_run(tiny_model_dir, data, tmp_path / "r4", template="zephyr"), tmp_path / "r4")
    assert other["data_cached"] is False  # template changed
    assert len(entries()) == 3
    data.write_text(data.read_text() + json.dumps(chat_rows(1)[0]) + "\n")
    edited = train(tiny_run(tiny_model_dir, data, tmp_path / "r5"), tmp_path / "r5")
    assert edited["data_cached"] is False  # the file changed


def test_cache_cli_lists_and_clears(tiny_model_dir, tmp_path, capsys):
    from studio.cli import main
    from studio.training.train import train

    data = write_jsonl(tmp_path / "chat.jsonl", chat_rows(20))
    train(tiny_run(tiny_model_dir, data, tmp_path / "r1", max_steps=1), tmp_path / "r1")
    capsys.readouterr()
    from studio.ui.make.data_tab import cache_text

    assert "1 entry" in cache_text() and "chat.jsonl" in cache_text()  # the Data tab's panel
    assert main(["data", "cache"]) == 0
    listing = capsys.readouterr().out
    assert "1 entry" in listing and "chat.jsonl" in listing
    assert main(["data", "cache", "--clear"]) == 0
    assert "Removed 1 cached dataset" in capsys.readouterr().out
    assert main(["data", "cache", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    from studio.ui.make.data_tab import clear_cache

    assert "0 entries" in clear_cache()


def test_map_progress_is_reported_not_drawn(capsys):
    import datasets

    from studio.data.prepare.progress import reported_maps

    calls = []
    ds = datasets.Dataset.from_dict({"x": list(range(3000))})
    with reported_maps(lambda what, done, total, eta: calls.append((what, done, total)), every=0.0):
        ds.map(lambda b: {"y": b["x"]}, batched=True, batch_size=500, desc="Tokenizing")
    assert calls and calls[-1] == ("Tokenizing", 3000, 3000)
    assert all(total == 3000 and 0 < done <= 3000 for _, done, total in calls)
    out = capsys.readouterr()
    assert "Tokenizing" not in out.err and "it/s" not in out.err  # no progress bar drawn


def test_inspect_of_a_large_file_reads_a_sample_and_counts_the_rest(tmp_path, arrow_path, monkeypatch,
                                                                  tiny_model_dir):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from transformers import AutoTokenizer

    from studio.data.inspect import inspect_source

    monkeypatch.setattr(arrow_source, "SAMPLE_ROWS", 50)
    path = tmp_path / "orca.parquet"
    pq.write_table(pa.table({"question": [f"Q{i}?" for i in range(400)], "response": ["A."] * 400}), path,
                   row_group_size=100)
    report = inspect_source(str(path), tokenizer=AutoTokenizer.from_pretrained(tiny_model_dir))
    assert (report.rows, report.source_rows, report.format) == (50, 400, "openorca")
    assert any("first 50 of the 400 rows" in n for n in report.notes)
    jsonl = write_jsonl(tmp_path / "chat.jsonl", chat_rows(120))
    report = inspect_source(str(jsonl), tokenizer=AutoTokenizer.from_pretrained(tiny_model_dir))
    assert (report.rows, report.source_rows) == (50, 120)


def test_dataset_folder_preview_streams_its_first_rows(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from studio.data.read.source import read_preview

    folder = tmp_path / "repo"
    (folder / "data").mkdir(parents=True)
    pq.write_table(pa.table({"prompt": [f"p{i}" for i in range(300)], "completion": ["c"] * 300}),
                   folder / "data" / "train-00000-of-00001.parquet")
    raw = read_preview(str(folder), rows=7)
    assert raw.total == 7 and [r["prompt"] for _, r in raw.rows] == [f"p{i}" for i in range(7)]
    assert raw.source_rows == 300 and raw.source_bytes > 0


def test_progress_bar_shows_rows_while_preparing(tmp_path):
    from studio.runs import files
    from studio.runs.registry import RunInfo
    from studio.ui.progress import progress_html

    files.update_status(tmp_path, new=True, state="running", phase="preparing data", rows_done=250,
                        rows_total=1000)
    info = RunInfo(id="r", dir=tmp_path, name="r", method="sft", state="running", eta_s=12,
                   message="Preparing")
    page = progress_html(info)
    assert "250</b> / 1,000 rows" in page and "width:25%" in page
    files.update_status(tmp_path, new=True, state="running", phase="training")
    assert "rows" not in progress_html(info)


def test_epochs_tokenize_in_processes_after_saying_how_long(tiny_model_dir, tmp_path, monkeypatch):
    import os

    from studio.training.train import build_with_data, prepare

    monkeypatch.setattr(arrow_source, "PARALLEL_ROWS", 1000)
    data_file = write_jsonl(tmp_path / "chat.jsonl", chat_rows(2400))
    cfg = tiny_run(tiny_model_dir, data_file, tmp_path / "r", max_steps=None, num_epochs=1)
    said = []
    plan, _, tokenizer, _, data, model = prepare(cfg, said.append)
    assert len(data.dataset) == 2400  # epochs: every example is prepared
    trainer = build_with_data(cfg, tmp_path / "r", model, tokenizer, data, plan, [], said.append)
    assert any(line.startswith("Tokenizing 2,400 examples") and "about" in line for line in said)
    if (os.cpu_count() or 1) > 1:
        assert trainer.args.dataset_num_proc == min(os.cpu_count(), 8)
    assert len(trainer.train_dataset) == 2400 and "input_ids" in trainer.train_dataset.column_names


def test_worker_writes_the_preparing_phase_to_status(tmp_path):
    from studio.runs import files
    from studio.runs.worker import _Worker

    files.update_status(tmp_path, new=True, state="running")
    worker = _Worker(tmp_path)
    worker.data_status("Tokenizing train dataset", 300, 1200, 9.5)
    status = files.read_status(tmp_path)
    assert (status["phase"], status["rows_done"], status["rows_total"], status["eta_s"]) == \
        ("preparing data", 300, 1200, 9.5)
    assert status["message"] == "Preparing data: Tokenizing train dataset 300 of 1,200 rows."


def test_take_from_parquet_reads_the_drawn_rows_from_their_row_groups(tmp_path, arrow_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "orca.parquet"
    pq.write_table(pa.table({"question": [f"Q{i}?" for i in range(1000)],
                             "response": [f"A{i}." for i in range(1000)]}), path, row_group_size=100)
    data = load_training_data(DataConfig(source=str(path)), "sft", take=30, seed=2)
    assert len(data.dataset) == 30 and data.rows == 1000
    drawn = []
    for ex in data.dataset:
        user, assistant = ex["messages"][-2]["content"], ex["messages"][-1]["content"]
        assert assistant == "A" + user[1:-1] + "."  # each row whole, from the right group
        drawn.append(int(user[1:-1]))
    assert len({i // 100 for i in drawn}) >= 5  # spread over the file's row groups
    capped = load_training_data(DataConfig(source=str(path), max_rows=200), "sft", take=30, seed=2)
    assert all(int(ex["messages"][-2]["content"][1:-1]) < 200 for ex in capped.dataset)
