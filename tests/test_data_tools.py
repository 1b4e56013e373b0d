"""Function-calling layouts that are not chat messages yet (glaive v2, xLAM) become tool conversations."""

import json

from jsonl_files import write_jsonl

from studio.data.layouts.normalise import normalise
from studio.data.read.source import read_source

SPEC = {"name": "get_weather", "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
# Layout as glaiveai/glaive-function-calling-v2 shows it (arguments quoted as a string).
GLAIVE = [{
    "system": "SYSTEM: You are a helpful assistant with access to the following functions. Use them if "
              "required -\n"
              + json.dumps(SPEC, indent=4) + "\n",
    "chat": "USER: Weather in Paris?\n\n\nASSISTANT: <functioncall> {\"name\": \"get_weather\", "
            "\"arguments\": "
            "'{\"city\": \"Paris\"}'} <|endoftext|>\n\n\nFUNCTION RESPONSE: {\"sky\": \"sunny\"}\n\n\n"
            "ASSISTANT: It is sunny in Paris.<|endoftext|>\n\n\n",
}]
XLAM = [{"id": 1, "query": "Weather in Paris?", "tools": json.dumps([SPEC]),
         "answers": json.dumps([{"name": "get_weather", "arguments": {"city": "Paris"}}])}]


def test_glaive_chat_becomes_turns_with_a_tool_call_and_its_result(tmp_path):
    norm = normalise(read_source(str(write_jsonl(tmp_path / "g.jsonl", GLAIVE))))
    assert (norm.kind, norm.format.name, norm.errors) == ("tool", "glaive", [])
    ex = norm.examples[0]
    assert [m["role"] for m in ex["messages"]] == ["system", "user", "assistant", "tool", "assistant"]
    assert ex["messages"][0]["content"] == ("You are a helpful assistant with access to the following "
                                            "functions. Use them if required")
    call = ex["messages"][2]["tool_calls"][0]["function"]
    assert call["name"] == "get_weather" and json.loads(call["arguments"]) == {"city": "Paris"}
    assert json.loads(ex["tools"]) == [{"type": "function", "function": SPEC}]


def test_xlam_query_and_answers_become_a_call(tmp_path):
    norm = normalise(read_source(str(write_jsonl(tmp_path / "x.jsonl", XLAM))))
    assert (norm.kind, norm.format.name, norm.errors) == ("tool", "xlam", [])
    assert norm.examples[0]["messages"][1]["tool_calls"][0]["function"]["name"] == "get_weather"


def test_a_broken_function_call_is_a_row_error_with_its_turn(tmp_path):
    broken = [{**GLAIVE[0], "chat": "USER: Hi\n\n\nASSISTANT: <functioncall> {not json} <|endoftext|>"},
              GLAIVE[0]]
    norm = normalise(read_source(str(write_jsonl(tmp_path / "b.jsonl", broken))))
    assert len(norm.examples) == 1
    assert norm.errors[0]["row"] == 0 and "turn 2 of 'chat' has a function call that is not JSON" in \
        norm.errors[0]["message"]


def test_openai_functions_and_function_call_are_tool_calls(tmp_path):
    rows = [{"functions": [SPEC], "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None,
         "function_call": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
        {"role": "function", "name": "get_weather", "content": "{\"sky\": \"sunny\"}"},
        {"role": "assistant", "content": "Sunny.", "weight": 1}]}]
    norm = normalise(read_source(str(write_jsonl(tmp_path / "f.jsonl", rows))))
    assert (norm.kind, norm.format.name, norm.errors) == ("tool", "messages-functions", [])
    msgs = norm.examples[0]["messages"]
    assert msgs[1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert msgs[2] == {"role": "tool", "content": "{\"sky\": \"sunny\"}", "name": "get_weather"}


def test_ms_swift_agent_roles_are_calls_and_results(tmp_path):
    rows = [{"tools": json.dumps([SPEC]), "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "tool_call", "content": json.dumps({"name": "get_weather", "arguments": {"city": "Paris"}})},
        {"role": "tool_response", "content": "{\"sky\": \"sunny\"}"},
        {"role": "assistant", "content": "Sunny."}]}]
    norm = normalise(read_source(str(write_jsonl(tmp_path / "s.jsonl", rows))))
    assert (norm.kind, norm.errors) == ("tool", [])
    assert [m["role"] for m in norm.examples[0]["messages"]] == ["user", "assistant", "tool", "assistant"]
