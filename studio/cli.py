"""The `studio` command line: a thin face over the core. Each command's work lives in the core module
named beside it; this file only parses arguments and turns errors into one sentence."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable

from studio.errors import StudioError

log = logging.getLogger("studio")

# command -> "module:function"; each function takes the parsed args and returns an exit code.
HANDLERS = {
    "models": "studio.models.models_cli:cli_models",
    "methods": "studio.runs.commands:cli_methods",
    "train": "studio.cluster.commands:cli_train",
    "chat": "studio.chat.terminal:cli_chat",
    "data inspect": "studio.data.inspect:cli_inspect",
    "data cache": "studio.data.prepare.token_cache:cli_cache",
    "runs": "studio.cluster.commands:cli_runs",
    "runs show": "studio.runs.report:cli_show",
    "runs delete": "studio.runs.removal:cli_delete",
    "stop": "studio.cluster.commands:cli_stop",
    "resume": "studio.runs.commands:cli_resume",
    "eval": "studio.evaluation.pairs:cli_eval",
    "predict": "studio.evaluation.classify_eval:cli_predict",
    "prompt": "studio.evaluation.prompting:cli_prompt",
    "export": "studio.publish.export_cli:cli_export",
    "generate": "studio.publish.gguf_generate:cli_generate",
    "score": "studio.evaluation.reward:cli_score",
    "push": "studio.publish.classify_push:cli_push",  # a classify run: the model; else the adapter
    "serve": "studio.publish.serve:cli_serve",
    "merge": "studio.publish.merge:cli_merge",
    "arena leaderboard": "studio.evaluation.arena:cli_leaderboard",
    "bench": "studio.evaluation.bench:cli_bench",
    "judge": "studio.evaluation.judges.commands:cli_judge",
    "app": "studio.ui.app:cli_app",
    "prepare": "studio.models.loading:cli_prepare",
    "status": "studio.models.cache:cli_status",
    "sweep": "studio.cluster.sweep_cli:cli_sweep",
}


def build_parser() -> argparse.ArgumentParser:
    from studio import cli_args
    from studio.methods import method_names

    parser = argparse.ArgumentParser(prog="studio", description="Local fine-tuning studio (LoRA fine-tuning: "
                                     + ", ".join(m.upper() for m in method_names()) + ").")
    parser.add_argument("-v", "--verbose", action="store_true", help="print debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train_parser = cli_args.add_training_commands(sub)
    cli_args.add_chat_command(sub)
    cli_args.add_data_and_run_commands(sub)
    cli_args.add_eval_commands(sub)
    cli_args.add_share_commands(sub)
    cli_args.add_arena_bench_and_judge(sub)
    cli_args.add_app_command(sub)
    cli_args.add_exposure_options(sub)
    cli_args.add_scale_out(sub, train_parser)
    cli_args.add_classify_commands(sub)
    cli_args.add_core_commands(sub)
    return parser


def _handler(args: argparse.Namespace) -> Callable[[argparse.Namespace], int]:
    nested = {"data": "data_command", "arena": "arena_command", "runs": "action"}.get(args.command)
    key = args.command + (f" {getattr(args, nested)}" if nested and getattr(args, nested, None) else "")
    module, _, func = HANDLERS[key].partition(":")
    return getattr(importlib.import_module(module), func)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from studio.logs import setup_logging

    log_file = setup_logging(verbose=args.verbose)
    from studio.i18n import cli_language, speaking, tr, translate

    # The terminal's messages follow its locale ($STUDIO_LANG, else LC_ALL / LANG / LANGUAGE); the app's
    # follow each browser (studio.ui.i18n): the app builds its page in English, the catalogs' keys.
    with speaking(None if args.command == "app" else cli_language()):
        try:
            return int(_handler(args)(args) or 0)
        except StudioError as exc:
            log.debug("user error", exc_info=True)
            print(tr("error: {message}").format(message=translate(str(exc))), file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(tr("Interrupted."), file=sys.stderr)
            return 130
        except BrokenPipeError:
            return _quiet_broken_pipe()
        except Exception as exc:  # the traceback goes to the log, one sentence to the user
            log.exception("unexpected failure")
            print(tr("error: unexpected {kind}: {detail} (details in {log}).").format(
                kind=type(exc).__name__, detail=exc, log=log_file), file=sys.stderr)
            return 1


def _quiet_broken_pipe() -> int:
    """The reader went away (`studio methods | head`): what it wanted was printed; stay quiet, as cat does.
    stdout is pointed at devnull so the interpreter's final flush does not raise again."""
    import os

    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 141


if __name__ == "__main__":
    sys.exit(main())
