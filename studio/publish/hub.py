"""Export a run's adapter to a folder (optionally merged into the base) and push it to the Hub.

The push is one commit of allow-listed files (adapter weights and config, tokenizer files, README
model card, loss curve) through huggingface_hub's own client. The token comes from the caller (a
password field), ``HF_TOKEN`` or the saved Hub login; it stays in memory: it is handed to ``HfApi``
and never logged, written to disk or put in an error message.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import tempfile
from pathlib import Path

from studio.errors import StudioError
from studio.i18n import tr
from studio.runs.folder import is_run_folder, record_share

log = logging.getLogger(__name__)

ADAPTER_FILES = ("adapter_model.safetensors", "adapter_config.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "chat_template.jinja",
                   "tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json")
CARD_FILES = ("README.md", "loss_curve.png")
ADAPTER_EXPORT = "adapter export"  # the owner marker's kind (studio.safety.owned)
# Exact names, not globs: fnmatch's "*" crosses "/", so "*.json" would also pick up ref/ and checkpoints.
ALLOWED_FILES = ADAPTER_FILES + TOKENIZER_FILES + CARD_FILES
DEFAULT_MESSAGE = "Upload adapter trained with the studio"


class HubError(StudioError):
    """An export or push that cannot go ahead, phrased as one sentence the user can act on."""


def check_adapter(adapter_dir: Path) -> None:
    """Refuse adapters whose weights are missing or hold NaN/inf (a diverged run)."""
    import torch
    from safetensors.torch import load_file

    weights = adapter_dir / "adapter_model.safetensors"
    if not weights.is_file():
        raise HubError(f"{adapter_dir} has no adapter_model.safetensors; train or resume the run to save "
                       "one.")
    for name, tensor in load_file(str(weights)).items():
        if not torch.isfinite(tensor).all():
            raise HubError(
                f"The adapter has NaN or infinite weights ({name}), so training diverged; "
                "lower the learning rate and train again."
            )


def stage(run_dir: str | Path, dest: Path, *, repo_id: str | None = None, for_hub: bool = False,
          eval_result: dict | None = None) -> list[str]:
    """Copy the allow-listed adapter and tokenizer files into ``dest`` and write the card and curve.

    ``for_hub`` points adapter_config.json at the base model's public name instead of the local
    folder it was trained from, so others can load it and no local path is published.
    Returns the names written.
    """
    from studio.evaluation.pairs import run_dir_of
    from studio.publish.card import CURVE_FILE, base_model_of, build_model_card, plot_loss_curve
    from studio.runs.adapters import adapter_dir_of

    run = run_dir_of(run_dir)
    adapter = adapter_dir_of(run)
    check_adapter(adapter)
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name in ADAPTER_FILES + TOKENIZER_FILES:
        if (adapter / name).is_file():
            shutil.copy2(adapter / name, dest / name)
            written.append(name)
    if for_hub:
        config_path = dest / "adapter_config.json"
        config = json.loads(config_path.read_text(encoding="utf-8"))
        config["base_model_name_or_path"] = base_model_of(run)[0]
        config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if is_run_folder(run):  # a run folder: card and curve; a bare adapter folder has no history
        curve = plot_loss_curve(run, dest / CURVE_FILE)
        if curve is not None:
            written.append(CURVE_FILE)
        card = build_model_card(run, repo_id, eval_result, curve=CURVE_FILE if curve else None)
        (dest / "README.md").write_text(card, encoding="utf-8")
        written.append("README.md")
    return sorted(written)


def export_adapter(run_dir: str | Path, to: str | Path, merge: bool = False) -> Path:
    """Save the adapter (safetensors, adapter config, tokenizer, card, curve) to ``to``.

    With ``merge`` the adapter is also merged into the base and the full model saved to ``to/merged``.
    The folder is written under a temporary name and renamed, so a failed export leaves nothing behind; an
    existing ``to`` is replaced only when it is the studio's earlier adapter export (studio.safety.owned).
    """
    from studio.safety.owned import replacing

    with replacing(to, ADAPTER_EXPORT, "adapter export") as tmp:
        stage(run_dir, tmp)
        if merge:
            merge_into_base(run_dir, tmp / "merged")
    target = Path(to).expanduser().absolute()
    record_share(run_dir, "merged export" if merge else "adapter export", target)
    return target


def merge_into_base(run_dir: str | Path, dest: Path) -> Path:
    """Merge the run's adapter into its base model and save the full model with the tokenizer."""
    from studio.chat.before_after import BeforeAfter
    from studio.runs.adapters import is_reward_run

    if is_reward_run(run_dir):  # the base with its score head: merged, it is a standalone reward model
        from studio.evaluation.reward import RewardModel

        pair = RewardModel(run_dir)
    else:
        pair = BeforeAfter(run_dir)
    tokenizer = pair.tokenizer
    merged = pair.take().merge_and_unload()  # taken out of the model cache: the merge writes into its weights
    merged.save_pretrained(str(dest))
    tokenizer.save_pretrained(str(dest))
    return dest


# ---- Hub ------------------------------------------------------------------------------------------

def resolve_token(token: str | None) -> str:
    """The token from the caller, else HF_TOKEN, else the saved Hub login."""
    from huggingface_hub import get_token

    token = (token or "").strip() or get_token()
    if not token:
        raise HubError(
            "No Hugging Face token: paste a write token, set HF_TOKEN, or log in with `hf auth login`."
        )
    return token


def _check_repo_id(repo_id: str) -> str:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    repo_id = (repo_id or "").strip()
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        repo_id = ""
    if repo_id.count("/") != 1:
        raise HubError(f"'{repo_id}' is not a repo id; use the form your-name/adapter-name.")
    return repo_id


def _check_namespace(who: dict, repo_id: str) -> None:
    """Refuse before uploading anything when the token's user cannot own this repo."""
    namespace = repo_id.split("/")[0]
    orgs = {org.get("name") for org in who.get("orgs") or [] if isinstance(org, dict)}
    if namespace != who.get("name") and namespace not in orgs:
        raise HubError(
            f"The repo {repo_id} belongs to '{namespace}', not to you ({who.get('name')}) or one of your "
            "organizations; push to your own namespace instead."
        )
    role = ((who.get("auth") or {}).get("accessToken") or {}).get("role")
    if role == "read":
        raise HubError("The Hugging Face token is read-only; create a token with write access and try again.")


def _translate(exc: BaseException, repo_id: str, endpoint: str) -> HubError:
    """One sentence for a failed Hub call; the library's text (with URLs and ids) goes to the log only."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled, RepositoryNotFoundError

    if isinstance(exc, OfflineModeIsEnabled):
        return HubError("Hub access is switched off (HF_HUB_OFFLINE is set); unset it to push, nothing was "
                        "uploaded.")
    if isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else None
        if status == 401:
            return HubError("The Hugging Face Hub rejected the token (invalid or expired); nothing was "
                            "uploaded.")
        if status == 403 or isinstance(exc, RepositoryNotFoundError):
            return HubError(
                f"The token may not write to {repo_id} (it belongs to someone else or the token lacks write "
                "access); nothing was uploaded."
            )
        return HubError(f"The Hub refused the upload to {repo_id} (HTTP {status}); nothing was published, "
                        "try again.")
    if isinstance(exc, (httpx2.RequestError, OSError)):
        return HubError(f"Could not reach the Hugging Face Hub at {endpoint}; check the network, nothing was "
                        "uploaded.")
    return HubError(f"The push to {repo_id} failed ({type(exc).__name__}); nothing was published.")


def _ensure_repo(api, repo_id: str, private: bool) -> str:
    """create_repo(exist_ok=True), returning the repo's URL."""
    from huggingface_hub.errors import HfUriError

    try:
        return str(api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model"))
    except HfUriError:
        # huggingface_hub 2.4 builds the URL of an existing repo it may not create (HTTP 403, then a
        # successful repo_info) without its endpoint, which fails for any HF_ENDPOINT but the default.
        # The repo exists; whether we may write to it is for the commit to say.
        return f"{api.endpoint.rstrip('/')}/{repo_id}"


def push_adapter(run_dir: str | Path, repo_id: str, token: str | None = None, private: bool = False,
                 message: str = DEFAULT_MESSAGE, *, eval_result: dict | None = None,
                 endpoint: str | None = None) -> str:
    """Push the run's adapter, tokenizer, model card and loss curve to ``repo_id`` in one commit.

    Returns the repo's URL. Nothing is claimed done unless the commit went through.
    """
    from huggingface_hub import CommitOperationAdd, HfApi

    from studio.net import hub_endpoint

    repo_id = _check_repo_id(repo_id)
    endpoint = (endpoint or hub_endpoint()).rstrip("/")
    with tempfile.TemporaryDirectory(prefix="studio-push-") as folder:
        staging = Path(folder)
        files = stage(run_dir, staging, repo_id=repo_id, for_hub=True, eval_result=eval_result)
        files = [name for name in files if name in ALLOWED_FILES]
        api = HfApi(endpoint=endpoint, token=resolve_token(token), library_name="fine-tuning-studio")
        try:
            _check_namespace(api.whoami(), repo_id)
            repo_url = _ensure_repo(api, repo_id, private)
            operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(staging / name))
                          for name in files]
            # One commit: either every file lands or none does.
            api.create_commit(repo_id, operations, commit_message=message or DEFAULT_MESSAGE,
                              repo_type="model")
        except HubError:
            raise
        except Exception as exc:
            log.info("push to %s failed: %s", repo_id, type(exc).__name__)
            log.debug("push failure detail", exc_info=True)
            raise _translate(exc, repo_id, endpoint) from None
    url = str(repo_url or f"{endpoint}/{repo_id}")
    record_share(run_dir, "Hub push", url)
    return url


# ---- CLI ------------------------------------------------------------------------------------------

def cli_export(args) -> int:
    target = export_adapter(args.run_dir, args.to, merge=args.merge)
    merged = tr("; merged model in {folder}").format(folder=target / "merged") if args.merge else ""
    print(tr("Adapter saved to {folder}").format(folder=target) + merged)
    return 0


def cli_push(args) -> int:
    url = push_adapter(args.run_dir, args.repo, private=args.private,
                       message=getattr(args, "message", None) or DEFAULT_MESSAGE)
    print(tr("Pushed to {url}.").format(url=url))
    sys.stdout.flush()
    return 0
