"""An Ollama Modelfile whose TEMPLATE renders exactly what the model's own chat template renders.

Written by hand: no maintained package translates a Jinja chat template into Ollama's Go template.
Instead of keeping one hand-written template per family, the model's template is rendered with marker
strings in place of the system prompt, the user message and the answer, and the text around the
markers becomes the Go template. That works for ChatML, Llama-2, Llama-3, Zephyr, Gemma and any other
template that places each message verbatim; the result is checked against the original before use.
"""

from __future__ import annotations

import re

from studio.errors import StudioError

SYS, USER, REPLY = "@@STUDIO_SYSTEM@@", "@@STUDIO_PROMPT@@", "@@STUDIO_RESPONSE@@"


class ModelfileError(StudioError):
    """A chat template that cannot be expressed as an Ollama template."""


def _render(tokenizer, messages, generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def _go(text: str) -> str:
    """Literal text in a Go template; only "{{" would be read as an action."""
    return text.replace("{{", '{{ "{{" }}')


def leading_bos(tokenizer) -> str:
    """The BOS text llama.cpp adds by itself (when the tokenizer adds it on encoding, the converter sets
    tokenizer.ggml.add_bos_token); left in the template it would be doubled. SmolLM2's BOS is
    <|im_start|> but it is not added, so there it stays part of the template."""
    bos_id = getattr(tokenizer, "bos_token_id", None)
    ids = tokenizer("a")["input_ids"]
    return tokenizer.bos_token if bos_id is not None and ids and ids[0] == bos_id else ""


def derive(tokenizer) -> dict:
    """{"template", "system", "stop"} for the tokenizer's chat template.

    ``system`` is the default system prompt the template inserts when none is given (SmolLM2's), so
    Ollama's SYSTEM line keeps the behaviour the model was tuned with.
    """
    if not getattr(tokenizer, "chat_template", None):
        raise ModelfileError("The model has no chat template, so Ollama would not know how to format a chat.")
    with_sys = _render(tokenizer, [{"role": "system", "content": SYS}, {"role": "user", "content": USER}],
                       True)
    no_sys = _render(tokenizer, [{"role": "user", "content": USER}], True)
    full = _render(tokenizer, [{"role": "user", "content": USER}, {"role": "assistant", "content": REPLY}],
                   False)
    if (with_sys.count(SYS) != 1 or with_sys.count(USER) != 1 or no_sys.count(USER) != 1
            or full.count(REPLY) != 1):
        raise ModelfileError("The chat template changes the messages' text, so it cannot become an Ollama "
                             "template.")
    head_sys, tail = with_sys.split(USER)
    head_plain, tail_plain = no_sys.split(USER)
    between, answer_end = full.split(USER)[1].split(REPLY)
    if not between.startswith(tail):
        raise ModelfileError("The chat template opens a finished answer differently from a new one; "
                             "Ollama's template cannot express that.")
    # Llama-2 puts a space before a finished answer that the generation prompt leaves to the model.
    extra = between[len(tail):]
    reply = ("{{ if .Response }}" + _go(extra) + "{{ end }}" if extra else "") + "{{ .Response }}"
    if tail != tail_plain or not full.startswith(head_plain):
        raise ModelfileError("The chat template depends on the system prompt after the user turn; "
                             "Ollama's template cannot express that.")
    bos = leading_bos(tokenizer)
    if bos and head_sys.startswith(bos) and head_plain.startswith(bos):
        head_sys, head_plain = head_sys[len(bos):], head_plain[len(bos):]
    before, after = head_sys.split(SYS)
    default = re.fullmatch(re.escape(before) + "(.*)" + re.escape(after), head_plain, flags=re.DOTALL)
    if default:  # the template has a system block even without a system message: a default prompt (or "")
        head = _go(before) + "{{ .System }}" + _go(after)
        system = default.group(1)
    else:
        head = ("{{ if .System }}" + _go(before) + "{{ .System }}" + _go(after) + "{{ else }}"
                + _go(head_plain) + "{{ end }}")
        system = ""
    template = head + "{{ .Prompt }}" + _go(tail) + reply + _go(answer_end)
    stops = [t for t in (answer_end.strip(), getattr(tokenizer, "eos_token", None)) if t]
    return {"template": template, "system": system, "stop": list(dict.fromkeys(stops))}


def render_go(template: str, system: str, prompt: str, response: str | None = None) -> str:
    """Render the subset of Go's text/template that ``derive`` writes ({{ if .X }}, {{ else }},
    {{ end }}, {{ .System }}, {{ .Prompt }}, {{ .Response }}, {{ "{{" }}), as Ollama would: for the
    turn being generated (``response`` None) Ollama cuts the template at {{ .Response }}."""
    values = {".System": system, ".Prompt": prompt, ".Response": response or ""}
    out, stack = [], [True]
    for piece in re.split(r"({{.*?}})", template, flags=re.DOTALL):
        action = piece[2:-2].strip() if piece.startswith("{{") else None
        if action == ".Response" and response is None:
            break
        if action is None:
            if all(stack):
                out.append(piece)
        elif action and action.startswith("if "):
            stack.append(bool(values[action[3:].strip()]))
        elif action == "else":
            stack[-1] = not stack[-1]
        elif action == "end":
            stack.pop()
        elif all(stack):
            out.append("{{" if action == '"{{"' else values[action])
    return "".join(out)


def _quote(text: str) -> str:
    return '"""' + text + '"""'


def modelfile_text(gguf_name: str, tokenizer, *, temperature: float = 0.0, top_p: float = 1.0,
                   num_predict: int = 96) -> str:
    """The Modelfile: FROM the file beside it, TEMPLATE, SYSTEM, stop tokens and the chat defaults'
    sampling (the studio's chat answers greedily by default, hence temperature 0)."""
    info = derive(tokenizer)
    lines = [f"FROM ./{gguf_name}", f"TEMPLATE {_quote(info['template'])}"]
    if info["system"]:
        lines.append(f"SYSTEM {_quote(info['system'])}")
    lines += [f'PARAMETER stop "{stop}"' for stop in info["stop"]]
    lines += [f"PARAMETER temperature {temperature}", f"PARAMETER top_p {top_p}",
              f"PARAMETER num_predict {num_predict}"]
    return "\n".join(lines) + "\n"


def write_modelfile(path, gguf_name: str, tokenizer) -> None:
    from studio.chat.sampling import Sampling

    chat = Sampling()
    text = modelfile_text(gguf_name, tokenizer, temperature=chat.temperature, top_p=chat.top_p,
                          num_predict=chat.max_new_tokens)
    path.write_text(text, encoding="utf-8")


def parse_modelfile(text: str) -> dict:
    """FROM, TEMPLATE, SYSTEM and PARAMETERs back from a Modelfile written by ``modelfile_text``."""
    result: dict = {"parameters": []}
    for match in re.finditer(r'^(FROM|TEMPLATE|SYSTEM|PARAMETER) ("""(.*?)"""|[^\n]*)$', text,
                             flags=re.DOTALL | re.MULTILINE):
        key, value = match.group(1), match.group(3) if match.group(3) is not None else match.group(2)
        if key == "PARAMETER":
            result["parameters"].append(tuple(value.split(" ", 1)))
        else:
            result[key.lower()] = value
    return result
