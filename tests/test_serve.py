"""`studio serve` answers the official openai client: the greedy answer is `studio chat --json`'s
`after`, streaming gives the same text, 8 concurrent clients all get answers, stop strings and seeds
work, bad requests get OpenAI-style JSON errors, and the API key and the loopback rule hold."""

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from test_eval import tiny_dpo_run

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "Is pineapple on pizza a crime?"
KEY = "sk-local-test-key"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_model_dir):
    """The real `studio serve RUN --port P --api-key-file F`, started once in its own process the way the
    Serve panel starts it (studio.publish.serve_process), and stopped the same way at the end."""
    from studio.publish import serve_process

    run = tiny_dpo_run(tmp_path_factory, tiny_model_dir)
    home = tmp_path_factory.mktemp("serve-home")
    key_file = home / "key"
    key_file.write_text(KEY + "\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STUDIO_HOME", str(home))
        mp.setenv("PYTHONPATH", str(ROOT))
        mp.setenv("OMP_NUM_THREADS", "1")  # a 16-wide model gains nothing from threads on a shared CPU
        record = serve_process.start(str(run), port=_free_port(), api_key_file=str(key_file))
        serve_process.wait_ready(timeout=180)
    yield {**record, "run": run, "home": home}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STUDIO_HOME", str(home))
        assert serve_process.stop() and serve_process.status()["state"] == "stopped"
        assert KEY not in serve_process.log_file().read_text()


@pytest.fixture
def client(server):
    from openai import OpenAI

    return OpenAI(base_url=server["url"], api_key=KEY, max_retries=0, timeout=120)


def _ask(client, stream=False, **kwargs):
    args = {"model": "run", "messages": [{"role": "user", "content": PROMPT}], "temperature": 0,
            "max_tokens": 16,
            **kwargs}
    if not stream:
        return client.chat.completions.create(**args).choices[0].message.content
    chunks = client.chat.completions.create(stream=True, **args)
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_greedy_answer_is_the_tuned_answer_and_streaming_says_the_same(server, client, capsys):
    from studio.cli import main

    assert [m.id for m in client.models.list().data] == ["run"]
    assert main(["chat", str(server["run"]), "--prompt", PROMPT, "--json", "--max-new-tokens", "40"]) == 0
    expected = json.loads(capsys.readouterr().out)["after"]
    assert expected.strip(), "the tiny run must say something for the comparison to mean anything"

    reply = client.chat.completions.create(model="run", messages=[{"role": "user", "content": PROMPT}],
                                           temperature=0, max_tokens=40)
    assert reply.choices[0].message.content == expected
    assert reply.usage.prompt_tokens > 0 and 0 < reply.usage.completion_tokens <= 40
    assert _ask(client, stream=True, max_tokens=40) == expected


def test_eight_concurrent_clients_all_get_their_answer(client):
    greedy = _ask(client)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: _ask(client, stream=i % 2 == 0), range(8)))
    assert answers == [greedy] * 8  # queued one at a time, no stream mixes with another


def test_stop_strings_seed_and_length(client):
    greedy = _ask(client)
    cut = greedy[len(greedy) // 2: len(greedy) // 2 + 3]
    assert _ask(client, stop=[cut]) == greedy[: greedy.index(cut)]
    assert _ask(client, stream=True, stop=cut) == greedy[: greedy.index(cut)]
    sampled = [_ask(client, temperature=1.0, seed=7) for _ in range(2)]
    assert sampled[0] == sampled[1]
    short = client.chat.completions.create(model="run", messages=[{"role": "user", "content": PROMPT}],
                                           temperature=0, max_tokens=3)
    assert short.choices[0].finish_reason == "length" and short.usage.completion_tokens <= 3


def test_bad_requests_get_openai_json_errors(server, client):
    import openai

    url, auth = server["url"], {"Authorization": f"Bearer {KEY}"}
    hot = '{"model": "run", "messages": [{"role": "user", "content": "hi"}], "temperature": 7}'
    for body in ['{"model": "run"}', hot, "{not json"]:
        response = httpx.post(f"{url}/chat/completions", content=body, timeout=30,
                              headers={**auth, "Content-Type": "application/json"})
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error" and error["message"].endswith(".")
        assert "Traceback" not in response.text
    with pytest.raises(openai.BadRequestError, match="n must be 1"):
        _ask(client, n=2)
    with pytest.raises(openai.NotFoundError, match="serves 'run'"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match="text only"):
        _ask(client, messages=[{"role": "user",
                                "content": [{"type": "image_url", "image_url": {"url": "x"}}]}])


def test_the_api_key_is_required_when_set(server):
    import openai
    from openai import OpenAI

    wrong = OpenAI(base_url=server["url"], api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError, match="API key"):
        wrong.models.list()


def test_the_serve_panel_shows_the_running_server_and_its_snippet(server, monkeypatch):
    from studio.publish import serve_process
    from studio.ui.share import serve_panel

    monkeypatch.setenv("STUDIO_HOME", str(server["home"]))
    status, snippet = serve_panel.refresh()
    assert status.startswith("✓ Serving") and server["url"] in status
    assert f'base_url="{server["url"]}"' in snippet and 'model="run"' in snippet and KEY not in snippet
    with pytest.raises(Exception, match="already running"):
        serve_process.start(str(server["run"]), port=_free_port())


def test_another_host_without_a_key_is_refused_before_loading(tmp_path, capsys):
    from studio.cli import main
    from studio.publish.serve import is_loopback, read_api_key

    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    assert main(["serve", str(tmp_path / "no-such-run"), "--host", "0.0.0.0"]) == 2
    assert "--api-key-file" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(Exception, match="is empty"):
        read_api_key(str(empty), "0.0.0.0")


def test_a_server_just_started_counts_as_alive_while_the_kernel_execs_it():
    """Right after the fork its /proc cmdline is briefly empty: that once read as "stopped" (the suite's serve
    tests failed at setup with an empty log); a zombie still reads as dead."""
    import subprocess
    import time

    from studio.publish.serve_process import _alive

    for _ in range(150):
        proc = subprocess.Popen(["/bin/sh", "-c", "sleep 5", "studio", "serve"], start_new_session=True)
        try:
            assert _alive(proc.pid)
        finally:
            proc.kill()
            proc.wait()
    done = subprocess.Popen(["/bin/sh", "-c", "exit 0", "studio", "serve"])
    for _ in range(500):  # until it has exited and nobody has reaped it yet
        if Path(f"/proc/{done.pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z":
            break
        time.sleep(0.01)
    assert not _alive(done.pid)
    done.wait()


def test_the_served_run_as_a_judge_is_found_and_its_refusal_said_in_one_sentence(server, tmp_path):
    """`studio serve` is a judge like any OpenAI-compatible server (issue 35): its only model is found
    without --judge-model and the key is sent; the tiny model reads 512 tokens, fewer than FastChat's
    grading prompt takes, and the server's refusal reaches the user as one sentence, nothing cached."""
    from studio.evaluation.judges.client import EndpointJudge, JudgeError, VerdictCache
    from studio.evaluation.judges.grading import grade_single

    judge = EndpointJudge(server["url"], api_key=KEY, retries=0, max_tokens=8)
    assert judge.name == f"run at {server['url'].rstrip('/')}"
    question = {"id": 1, "category": "", "turns": [PROMPT]}
    with pytest.raises(JudgeError, match=r"answered 400 on the first try: .* at most 512[^.]*\.$"):
        grade_single(judge, VerdictCache(tmp_path / "verdicts.jsonl"), [question], {1: ["No."]}, "m")
    assert not (tmp_path / "verdicts.jsonl").exists()


def test_a_served_model_is_judged_like_a_local_one_and_its_key_is_never_written(server, client,
                                                                                tiny_model_dir,
                                                                                  tmp_path, capsys,
                                                                                studio_home):
    """A contestant behind a URL (issue 35): `studio judge URL --against LOCAL` asks the served run each
    question (its only model found, the key from --model-key-file) and the scripted judge compares it with a
    local model in both orders; the answers are the server's greedy ones and the key is written nowhere."""
    from judge_server import JudgeServer

    from studio.cli import main

    judge = JudgeServer().start()
    prompts, key_file = tmp_path / "prompts.txt", tmp_path / "model-key"
    prompts.write_text(f"{PROMPT}\nSay hello to the world.\n")
    key_file.write_text(KEY + "\n")
    args = ["judge", server["url"], "--bench", str(prompts), "--mode", "pairwise", "--against",
            str(tiny_model_dir),
            "--judge", judge.url, "--judge-model", "shorter", "--max-new-tokens", "8", "--retries", "0",
            "--json"]
    try:
        capsys.readouterr()
        assert main([*args, "--model-key-file", str(key_file)]) == 0
        result = json.loads(capsys.readouterr().out)
        records = [json.loads(line) for line in Path(result["records"]).read_text().splitlines()]
        served = {q: _ask(client, max_tokens=8, messages=[{"role": "user", "content": q}]).strip()
                  for q in prompts.read_text().splitlines()}
        first_answers = {r["answer_a" if r["order"] == "as given" else "answer_b"] for r in records}
        assert first_answers == set(served.values())
        shorter = sum(len(a) < len(b) for a, b in ((r["answer_a"], r["answer_b"]) for r in records
                                                   if r["order"] == "as given"))
        assert (result["wins"], result["n"], judge.count("shorter")) == (shorter, 2, 4)
        assert not [p for p in studio_home.rglob("*") if p.is_file() and KEY in p.read_text(errors="ignore")]
        key_file.write_text("sk-wrong\n")
        assert main([*args, "--model-key-file", str(key_file)]) == 2
        assert capsys.readouterr().err.strip().endswith(
            f"The model at {server['url'].rstrip('/')} refused the key (401); give the right one with "
            "--model-key-file or OPENAI_API_KEY.")
    finally:
        judge.shutdown()
