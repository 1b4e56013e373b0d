"""Each `studio` command's arguments, a function per group of commands (studio.cli builds the parser
from them and runs the handler HANDLERS names). A new command adds its arguments in a function of its own."""

from __future__ import annotations

import argparse

from studio.chat.sampling import Sampling


class _MethodKind(argparse.Action):
    """Keep the method's name and what it asks of the data (studio.data speaks kinds, not methods)."""

    def __call__(self, parser, namespace, value, option_string=None):
        from studio.methods import data_asked

        setattr(namespace, self.dest, value)
        namespace.asked = data_asked(value)


def add_safety_flags(sub) -> None:
    """Issue 31: a recipe alone runs no code; the user says yes here (recorded in the run folder)."""
    for command in ("train", "resume"):
        sub.choices[command].add_argument(
            "--allow-code", action="store_true",
            help="allow this run to execute code its recipe asks for: model.trust_remote_code, "
                 "Python reward functions")


def add_training_commands(sub) -> argparse.ArgumentParser:
    """`studio models`, `prepare`, `methods` and `train`; returns train's parser (scale-out adds to it)."""
    from studio.config import choices_help

    p = sub.add_parser("models", help="list the model catalog with memory estimates for this machine")
    p.add_argument("--category", choices=["small", "medium", "large", "encoders"],
                   help="only this size category, or the encoders (method: classify)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("prepare", help="convert the built-in model now, into this installation (make install "
                                       "does it)")
    p.add_argument("--into", default=None,
                   help="folder for the converted copy (default: inside this environment)")

    p = sub.add_parser("methods", help="the training methods, what data each needs, and their recipes")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("train", help="train from a recipe YAML (Ctrl-C stops and saves)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="options with a set of values:\n" + choices_help())
    p.add_argument("config", help="recipe YAML, e.g. presets/recipes/pineapple-dpo.yaml")
    p.add_argument("overrides", nargs="*", help="key=value overrides, e.g. training.max_steps=10")
    return p


def add_chat_command(sub) -> None:
    p = sub.add_parser("chat", help="talk to a model (or two with --compare); --prompt: one run before and "
                                    "after")
    p.add_argument("run_dir", nargs="?", default=None,
                   help="run id or folder, 'base', a model folder or a .gguf file (default: newest finished "
                        "run)")
    p.add_argument("--prompt", default=None, help="ask once: the base and the run's answer, then exit")
    p.add_argument("--compare", default=None, metavar="MODEL", help="a second model answering every message")
    p.add_argument("--base", default="embedded", help="the model that 'base' means")
    p.add_argument("--system", default="", help="system prompt for the conversation")
    sampling = Sampling()  # the one set of defaults the Chat tab and the demo start from too
    p.add_argument("--max-new-tokens", type=int, default=sampling.max_new_tokens)
    p.add_argument("--temperature", type=float, default=sampling.temperature, help="0 means greedy")
    p.add_argument("--top-p", type=float, default=sampling.top_p)
    p.add_argument("--repetition-penalty", type=float, default=sampling.repetition_penalty)
    p.add_argument("--seed", type=int, default=sampling.seed)
    p.add_argument("--json", action="store_true", help='with --prompt: print {"before": ..., "after": ...}')


def add_data_and_run_commands(sub) -> None:
    """`studio data inspect|cache`, `runs`, `stop` and `resume` (with --allow-code)."""
    from studio.config import choices_of, config_field
    from studio.methods import method_names

    data = sub.add_parser("data", help="dataset tools").add_subparsers(dest="data_command", required=True)
    p = data.add_parser("inspect", help="detect a dataset's format and preview what is trained on")
    p.add_argument("source", help="local file or Hub dataset id")
    p.add_argument("--split", default="train")
    p.add_argument("--subset", default=None,
                   help="Hub dataset configuration name, or a dataset of a LLaMA-Factory dataset_info.json")
    p.add_argument("--template", default="auto", help=", ".join(choices_of(config_field("data.template")[0])))
    p.add_argument("--model", default=None, help="model whose tokenizer and template to use")
    p.add_argument("--method", choices=method_names(), default=None, action=_MethodKind,
                   help="check the data suits this method")
    p.add_argument("--map", default=None, metavar="ROLE=COLUMN,...",
                   help="map columns by hand, e.g. prompt=question,response=answer (as data.column_map)")
    p.add_argument("--rows", type=int, default=None, help="read at most this many rows")
    p.add_argument("--max-length", type=int, default=None, help="count rows longer than this")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p = data.add_parser("cache", help="list the tokenized-data cache (--clear empties it)")
    p.add_argument("--clear", action="store_true", help="remove every cached dataset")
    p.add_argument("--json", action="store_true", help="print the entries as JSON")

    p = sub.add_parser("runs", help="list past and live runs; `studio runs show RUN` shows one")
    p.add_argument("--json", action="store_true")
    add_run_page_arguments(p)
    p = sub.add_parser("stop", help="ask a run to save and stop")
    p.add_argument("run", help="run id or folder")
    p = sub.add_parser("resume", help="continue a stopped, failed or completed run from its last checkpoint")
    p.add_argument("run", help="run id or folder")
    p.add_argument("overrides", nargs="*", help="key=value changes first, e.g. training.batch_size=2 "
                   "training.gradient_accumulation=2, or training.max_steps=32 to train a completed run "
                   "further")
    p.add_argument("--foreground", action="store_true",
                   help="train in this terminal instead of the background")

    add_safety_flags(sub)


def add_eval_commands(sub) -> None:
    """`studio eval` (held-out pairs, a classifier's test set) and `studio score` (a reward run)."""
    p = sub.add_parser("eval", help="score held-out preference pairs with the base and the tuned model")
    p.add_argument("run_dir")
    p.add_argument("--pairs", default=None, help="preference pairs file (any format the data tools read)")
    p.add_argument("--data", default=None,
                   help="a classify run: labelled examples to evaluate on (default: the "
                   "eval set it trained with)")
    p.add_argument("--prompts", default=None, help="text file of prompts to answer before and after")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("score", help="a reward run scores two answers to one prompt: both rewards and P(A "
                                     "preferred)")
    p.add_argument("run_dir", help="a reward model's run folder")
    p.add_argument("--prompt", required=True, help="the question")
    p.add_argument("--a", required=True, help="answer A")
    p.add_argument("--b", required=True, help="answer B")
    p.add_argument("--json", action="store_true")


def add_share_commands(sub) -> None:
    """`studio export`, `generate`, `push`, `serve` and `merge`."""
    p = sub.add_parser("export", help="save a run's adapter (optionally merged), or a GGUF with a Modelfile")
    p.add_argument("run_dir")
    p.add_argument("--to", required=True, dest="to", help="destination folder")
    p.add_argument("--merge", action="store_true", help="also merge into the base and save the full model")
    p.add_argument("--format", choices=["adapter", "gguf", "gguf-lora"], default="adapter",
                   help="adapter folder (default), GGUF files with an Ollama Modelfile, or the adapter alone "
                        "as a llama.cpp LoRA GGUF (for the base's GGUF)")
    p.add_argument("--quant", default="f16", metavar="Q[,Q...]",
                   help="GGUF number formats, one file each, e.g. f16,q8_0: f16, q8_0, bf16, f32, "
                        "q6_k, q5_k_m, q4_k_m (the k-quants need llama-cpp-python)")
    p.add_argument("--check-prompt", default=None, help="prompt for the GGUF round-trip check")
    p.add_argument("--no-check", action="store_true", help="skip the GGUF round-trip check")

    p = sub.add_parser("generate", help="answer a prompt with a GGUF file (greedy)")
    p.add_argument("file", help="a .gguf file, e.g. one written by `studio export --format gguf`")
    p.add_argument("--prompt", required=True, help="the question to ask")
    p.add_argument("--max-new-tokens", type=int, default=96)
    p.add_argument("--engine", choices=["transformers", "llama.cpp"], default="transformers",
                   help="transformers' GGUF loader, or llama.cpp's Python bindings where installed")
    p.add_argument("--json", action="store_true", help='print {"answer": ...}')

    p = sub.add_parser("push", help="push a run's adapter with a model card to the Hugging Face Hub")
    p.add_argument("run_dir")
    p.add_argument("--repo", required=True, help="repo id, e.g. you/my-adapter")
    p.add_argument("--private", action="store_true")
    p.add_argument("--message", default="Upload adapter trained with the studio")

    p = sub.add_parser("serve", help="answer OpenAI clients with a run or model (/v1/chat/completions)")
    p.add_argument("model", help="run id or folder, 'base', an adapter or model folder, or a .gguf file")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--host", default="127.0.0.1", help="another address than 127.0.0.1 needs --api-key-file")
    p.add_argument("--api-key-file", default=None, help="file holding the key clients send as a Bearer token")
    p.add_argument("--base", default="embedded", help="the model that 'base' means")

    p = sub.add_parser("merge", help="combine several runs' adapters into a new run (PEFT's weighted merge)")
    p.add_argument("runs", nargs="+", help="two or more run ids or folders trained on the same base model")
    p.add_argument("--method", choices=["linear", "ties", "dare_ties", "cat"], default="linear")
    p.add_argument("--weights", default=None, metavar="W1,W2,...",
                   help="one weight per run (default: equal shares for linear/cat, 1 each for "
                        "ties/dare_ties)")
    p.add_argument("--density", type=float, default=None, help="ties/dare_ties: share of weights kept (0.5)")
    p.add_argument("--name", required=True, help="name of the new run")
    p.add_argument("--seed", type=int, default=0, help="dare_ties drops weights at random; this fixes which")


def add_arena_bench_and_judge(sub) -> None:
    """`studio arena leaderboard`, `bench` and `judge` (its parser lives with the judges)."""
    from studio.evaluation.judges.commands import add_judge_parser

    arena = sub.add_parser("arena", help="the Chat tab's votes").add_subparsers(dest="arena_command",
                                                                                required=True)
    p = arena.add_parser("leaderboard", help="Bradley-Terry ratings (Elo scale) with 95%% intervals from "
                                             "blind votes")
    p.add_argument("--votes", default=None, help="votes file (default: the Chat tab's feedback.jsonl)")
    p.add_argument("--resamples", type=int, default=200, help="bootstrap resamples for the intervals")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true",
                   help="print [{model, rating, ci_low, ci_high, votes}], best first")

    p = sub.add_parser("bench", help="a benchmark (IFEval) on the base and a run: before and after")
    p.add_argument("run_dir", help="run id or folder")
    p.add_argument("--task", choices=["ifeval"], default="ifeval")
    p.add_argument("--limit", type=int, default=50, help="prompts, drawn with a fixed seed (541 in all)")
    p.add_argument("--max-new-tokens", type=int, default=384, help="length cap of each answer")
    p.add_argument("--json", action="store_true")

    add_judge_parser(sub)


def add_app_command(sub) -> None:
    p = sub.add_parser("app", help="start the browser app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--share", action="store_true", help="public Gradio link (needs --auth)")
    p.add_argument("--auth-file", default=None,
                   help="file holding USER:PASSWORD required to open the app (or set $STUDIO_AUTH)")
    p.add_argument("--auth", default=None,
                   help="USER:PASSWORD on the command line (visible to other users in `ps`: prefer the two "
                        "above)")


def add_core_commands(sub) -> None:
    p = sub.add_parser("status", help="the models each studio process holds in memory, and the memory budget")
    p.add_argument("--json", action="store_true", help="print [{pid, budget_bytes, entries}] per process")


def add_exposure_options(sub) -> None:
    """What `studio serve` takes in and which names `studio app` answers to (issue 31)."""
    serve, app = sub.choices["serve"], sub.choices["app"]
    serve.add_argument("--max-queue", type=int, default=16, metavar="N",
                       help="requests taken in at once (waiting or answered); more get 429 with Retry-After")
    serve.add_argument("--timeout", type=float, default=300.0, metavar="S",
                       help="seconds a request may take from arrival to its last token (504 beyond)")
    app.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                     help="another host name the app answers to (repeatable); others are refused, "
                          "against DNS rebinding")


def add_scale_out(sub, train: argparse.ArgumentParser) -> None:
    """Sweeps (`studio sweep`) and training beyond one machine (`studio train --nodes/--slurm`)."""
    nodes = train.add_argument_group("several nodes (each node runs this with its own --node-rank)")
    nodes.add_argument("--nodes", type=int, default=None,
                       help="machines training together (distributed.nodes)")
    nodes.add_argument("--node-rank", type=int, default=None, help="this machine's rank: 0 on the main node")
    nodes.add_argument("--main", default=None, metavar="HOST:PORT", help="address and port of node 0")
    for p in (train, sub.add_parser("sweep", help="try several settings of a recipe's sweep section; pick "
                                                  "the best")):
        group = p.add_argument_group("Slurm")
        group.add_argument("--slurm", action="store_true",
                           help="write RUN/slurm.sbatch and submit it with sbatch")
        group.add_argument("--gpus-per-node", type=int, default=None)
        group.add_argument("--partition", default=None)
        group.add_argument("--time", default=None, help="Slurm's time limit, e.g. 04:00:00")
        group.add_argument("--account", default=None)
        group.add_argument("--no-submit", action="store_true", help="write the script only")
    p.add_argument("recipe", help="recipe YAML with a sweep section, e.g. "
                                  "presets/recipes/pineapple-dpo-beta-sweep.yaml")
    p.add_argument("overrides", nargs="*", help="key=value changes to the base recipe")
    p.add_argument("--parallel", type=int, default=1,
                   help="trials in flight at once (a Slurm array's throttle)")
    p.add_argument("--plan", action="store_true", help="say what the sweep will cost, then stop")
    p.add_argument("--json", action="store_true", help="print {metric, direction, trials, best} as JSON")


def add_run_page_arguments(p: argparse.ArgumentParser) -> None:
    """`studio runs show RUN [--html [FILE]]`: a run's page (studio.runs.report); `studio runs delete RUN
    [--yes]`: delete it (studio.runs.removal)."""
    p.add_argument("action", nargs="?", choices=["show", "delete"], default=None,
                   help="show: one run's page; delete: remove a finished run (asks first)")
    p.add_argument("run", nargs="?", default=None, help="run id or folder (with show or delete)")
    p.add_argument("--yes", action="store_true", help="with delete: do not ask")
    p.add_argument("--html", nargs="?", const="", default=None, metavar="FILE",
                   help="with show: also write the run's HTML report (default: report.html in its folder)")


def add_classify_commands(sub) -> None:
    """`studio predict`: a classify run labels a text, a pair or a file; `studio prompt`: a chat model
    does."""
    p = sub.add_parser("predict", help="a classify run labels a text (each label's probability) or a whole "
                                       "file")
    p.add_argument("run_dir", help="a classify run's id or folder")
    p.add_argument("--text", default=None, help="the text to label (words split on spaces for a tagger)")
    p.add_argument("--text-b", default=None, help="the second text, for a pair classifier")
    p.add_argument("--file", default=None, help="a file of texts to label (CSV, TSV, JSONL, JSON, parquet)")
    p.add_argument("--out", default=None, help="where --file's labels go (CSV; default: beside it)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("prompt", help="a chat model labels a test set by prompting, zero- or k-shot (the "
                                      "same "
                       "figures as `studio eval`)")
    p.add_argument("model", help="embedded, a Hub id, a model folder, a .gguf, or a run")
    p.add_argument("--data", required=True, help="the labelled test set")
    p.add_argument("--examples", default=None, help="labelled training file the k examples are drawn from")
    p.add_argument("--shots", type=int, default=0,
                   help="examples shown before each test text (balanced by label)")
    p.add_argument("--format", choices=["text", "chat"], default="text",
                   help="'text': the course's \"text // label\" lines; 'chat': user and assistant turns")
    p.add_argument("--calibrate", action="store_true", help="divide out the label bias measured on \"N/A\"")
    p.add_argument("--answer", choices=["likelihood", "generate"], default="likelihood",
                   help="'likelihood': the label whose words are likeliest; 'generate': the model writes "
                        "freely and "
                   "an answer naming no label counts as wrong")
    p.add_argument("--seed", type=int, default=0, help="which examples are drawn")
    p.add_argument("--json", action="store_true")
