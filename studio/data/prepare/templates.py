"""Chat templates the studio offers, as Jinja strings a tokenizer can carry.

Each marks assistant text with ``{% generation %}`` so TRL can train on assistant turns only
(``assistant_only_loss``) and the preview can show exactly which tokens are learned.
"""

from __future__ import annotations

from studio.errors import StudioError

# ChatML; with tools it writes them, the calls and the results the way Hermes and Qwen2.5 do
# (<tools>, <tool_call>, <tool_response>), so tool-calling data trains without a turn dropped.
# Without tools the text is plain ChatML, byte for byte.
CHATML = (
    "{% if tools %}{{ '<|im_start|>system\n' }}"
    "{% if messages[0]['role'] == 'system' %}{{ messages[0]['content'] + '\n\n' }}{% endif %}"
    "{{ '# Tools\n\nYou may call one or more functions to assist with the user query.\n\n'"
    " + 'You are provided with function signatures within <tools></tools> XML tags:\n<tools>' }}"
    "{% for tool in tools %}{{ '\n' + (tool | tojson) }}{% endfor %}"
    "{{ '\n</tools>\n\nFor each function call, return a json object with function name and arguments '"
    " + 'within <tool_call></tool_call> XML tags.<|im_end|>\n' }}{% endif %}"
    "{% for message in messages %}"
    "{% if tools and loop.first and message['role'] == 'system' %}"
    "{% elif message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\n' }}{% generation %}{{ message['content'] }}"
    "{% if message['tool_calls'] %}{% for call in message['tool_calls'] %}"
    "{% if message['content'] or not loop.first %}{{ '\n' }}{% endif %}"
    "{{ '<tool_call>\n{\"name\": \"' + call['function']['name'] + '\", \"arguments\": '"
    " + (call['function']['arguments'] | tojson) + '}\n</tool_call>' }}"
    "{% endfor %}{% endif %}{{ '<|im_end|>' }}{% endgeneration %}"
    "{{ '\n' }}"
    "{% elif message['role'] == 'tool' %}"
    "{{ '<|im_start|>user\n<tool_response>\n' + message['content'] + '\n</tool_response><|im_end|>\n' }}"
    "{% else %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Llama-2 folds the system prompt into the first [INST]; an empty <<SYS>> block is kept when none is given.
LLAMA2 = (
    "{% if messages[0]['role'] == 'system' %}"
    "{% set system = messages[0]['content'] %}{% set loop_messages = messages[1:] %}"
    "{% else %}{% set system = '' %}{% set loop_messages = messages %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% if message['role'] == 'user' %}"
    "{{ (bos_token or '') + '[INST] ' }}"
    "{% if loop.first %}{{ '<<SYS>>\n' + system + '\n<</SYS>>\n\n' }}{% endif %}"
    "{{ message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}"
    "{% generation %}{{ ' ' + message['content'] + ' ' + (eos_token or '') }}{% endgeneration %}"
    "{% endif %}"
    "{% endfor %}"
)

# Zephyr always opens with a system turn; an empty one is added when the conversation has none.
ZEPHYR = (
    "{% if messages[0]['role'] != 'system' %}{{ '<|system|>\n' + (eos_token or '') + '\n' }}{% endif %}"
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|assistant|>\n' }}{% generation %}{{ message['content'] + (eos_token or '') }}{% endgeneration "
    "%}{{ '\n' }}"
    "{% else %}{{ '<|' + message['role'] + '|>\n' + message['content'] + (eos_token or '') + '\n' }}{% endif "
    "%}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)

TEMPLATES = {"chatml": CHATML, "llama2": LLAMA2, "zephyr": ZEPHYR}
TEMPLATE_CHOICES = ("auto", "model", "chatml", "llama2", "zephyr")


class TemplateError(StudioError, ValueError):
    """An unusable chat template choice."""


def resolve_template(name: str, tokenizer) -> tuple[str, str]:
    """Return (label, jinja) for a template choice; 'auto' is the model's own, else ChatML."""
    own = getattr(tokenizer, "chat_template", None) if tokenizer is not None else None
    if name == "auto":
        name = "model" if own else "chatml"
    if name == "model":
        if not own:
            raise TemplateError(
                "This model has no chat template of its own; choose chatml, llama2 or zephyr instead."
            )
        return "model", own
    if name not in TEMPLATES:
        raise TemplateError(f"Unknown chat template '{name}'; choose one of {', '.join(TEMPLATE_CHOICES)}.")
    return name, TEMPLATES[name]


def apply_template(tokenizer, name: str) -> str:
    """Set the chosen template on the tokenizer (what the trainer will use); return its label."""
    label, jinja = resolve_template(name, tokenizer)
    tokenizer.chat_template = jinja
    return label
