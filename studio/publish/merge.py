"""`studio merge`: several runs' LoRA adapters combined into one, through PEFT's ``add_weighted_adapter``.

The result is a run folder like any other (adapter/, config.yaml, status.json "completed"), so chat,
eval, export, serve and push take it as they take a trained run; its merge.json names the parents and
the card shows them. PEFT's rules, checked first so they read as one sentence: linear, ties and
dare_ties need adapters of one rank (cat adds the ranks up), density belongs to ties and dare_ties.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from pathlib import Path

from studio.errors import StudioError
from studio.i18n import tr
from studio.runs.files import ADAPTER_DIR, MERGE_FILE, SUMMARY_FILE, read_status
from studio.runs.folder import config_path, read_base_marker, write_base_marker, write_json

METHODS = ("linear", "ties", "dare_ties", "cat")
TOKENIZER_GLOBS = ("tokenizer*", "special_tokens_map.json", "chat_template.jinja", "vocab.json", "merges.txt",
                   "added_tokens.json")


class MergeError(StudioError):
    """Adapters that cannot be merged as asked, phrased as one sentence."""


def _parent(spec: str) -> dict:
    """One run to merge: its folder, adapter, base and rank."""
    from studio.methods import titles_of
    from studio.runs import resolve_run
    from studio.runs.adapters import adapter_dir_of, adapter_method, is_reward_run, run_base

    try:
        run_dir = resolve_run(spec)
    except StudioError:
        run_dir = Path(spec).expanduser()  # a run folder trained outside the queue (no status.json)
    try:
        adapter = adapter_dir_of(run_dir)
    except StudioError as exc:
        raise MergeError(f"{spec} is not a run with an adapter; `studio runs` lists the runs there "
                         "are.") from exc
    if is_reward_run(adapter):
        raise MergeError(f"{spec} is a reward model; merge runs that write answers ({titles_of('policy')}).")
    config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    status = read_status(run_dir)
    return {"spec": spec, "name": status.get("name") or run_dir.name, "dir": run_dir, "adapter": adapter,
            "base": run_base(adapter), "method": adapter_method(adapter), "rank": int(config["r"])}


def check(parents: list[dict], method: str, weights: list[float] | None,
          density: float | None) -> list[float]:
    """PEFT's constraints as sentences; returns the weights to use."""
    if len(parents) < 2:
        raise MergeError("Give at least two runs to merge.")
    if method not in METHODS:
        raise MergeError(f"Unknown merge method '{method}'; choose one of {', '.join(METHODS)}.")
    bases = {p["base"] for p in parents}
    if len(bases) > 1:
        which = "; ".join(f"{p['name']} on {p['base']}" for p in parents)
        raise MergeError("Adapters merge only when they share a base model, but these were trained on "
                         "different "
                         f"ones ({which}); pick runs of one base.")
    ranks = {p["rank"] for p in parents}
    if method != "cat" and len(ranks) > 1:
        raise MergeError(f"The {method} merge needs adapters of one LoRA rank, but these have ranks "
                         f"{sorted(ranks)}; use --method cat, which stacks them.")
    if density is not None and method not in ("ties", "dare_ties"):
        raise MergeError(f"--density prunes the ties and dare_ties merges only; leave it out for {method}.")
    if density is not None and not 0 < density <= 1:
        raise MergeError(f"--density is the share of weights kept, between 0 and 1 (got {density}).")
    if weights is None:  # an average for linear and cat; TIES-style merges sum task vectors at weight 1
        return [1.0 / len(parents)] * len(parents) if method in ("linear", "cat") else [1.0] * len(parents)
    if len(weights) != len(parents):
        raise MergeError(f"Give one weight per run: {len(parents)} runs but {len(weights)} weights.")
    return [float(w) for w in weights]


def merge_runs(specs: list[str], *, method: str = "linear", weights: list[float] | None = None,
               density: float | None = None, name: str, seed: int = 0) -> Path:
    """Merge the runs' adapters into a new run folder under the runs folder; returns that folder."""
    import torch
    from peft import __version__ as peft_version

    from studio.models.loading import load_model, resolve_model
    from studio.models.pretrained import attach_adapter
    from studio.paths import runs_dir

    parents = [_parent(spec) for spec in specs]
    weights = check(parents, method, weights, density)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name or "").strip("-.")
    if not slug:
        raise MergeError("Give the merged run a name with --name.")
    target = runs_dir() / slug
    if target.exists():
        raise MergeError(f"A run named {slug} already exists; choose another --name.")
    if density is None and method in ("ties", "dare_ties"):
        density = 0.5  # half of each task vector kept: the TIES and DARE papers' usual setting
    started = time.time()
    # Its own copy of the base, outside the model cache: the merge writes into the weights.
    model = load_model(resolve_model(parents[0]["base"]))
    for i, parent in enumerate(parents):
        model = attach_adapter(model, parent["adapter"], name=f"p{i}")
    torch.manual_seed(seed)  # DARE drops weights at random: the seed makes the merge repeatable
    try:
        model.add_weighted_adapter([f"p{i}" for i in range(len(parents))], weights, "merged",
                                   combination_type=method, density=density)
    except ValueError as exc:  # PEFT's own refusal (e.g. adapters that train the same full module)
        raise MergeError(f"PEFT refused the {method} merge: {exc}") from exc
    runs_dir().mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{slug}.", dir=runs_dir()))
    try:
        _write_run(model, tmp, slug, parents, method, weights, density, seed, name, started, peft_version)
        tmp.chmod(0o755)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _write_run(model, folder: Path, run_id: str, parents, method, weights, density, seed, name, started,
               peft_version):
    from studio.runs.files import update_status

    first = parents[0]
    model.save_pretrained(str(folder / "tmp"), selected_adapters=["merged"])
    (folder / "tmp" / "merged").rename(folder / ADAPTER_DIR)  # PEFT saves a named adapter in its own folder
    shutil.rmtree(folder / "tmp")  # PEFT's stub README beside the adapter folder
    # the first parent's tokenizer carries the chat template they trained with
    for pattern in TOKENIZER_GLOBS:
        for file in first["adapter"].glob(pattern):
            shutil.copy2(file, folder / ADAPTER_DIR / file.name)
    marker = read_base_marker(first["adapter"])
    marker["method"] = first["method"] or marker.get("method", "")
    write_base_marker(folder / ADAPTER_DIR, **marker)
    if config_path(first["dir"]).is_file():  # chat, eval and the card read the run's recipe
        shutil.copy2(config_path(first["dir"]), config_path(folder))
    record = {"method": method, "weights": weights, "density": density, "seed": seed, "peft": peft_version,
              "parents": [{"name": p["name"], "method": p["method"], "rank": p["rank"], "weight": w,
                           "base": marker.get("base_model") or Path(p["base"]).name}
                          for p, w in zip(parents, weights)]}
    write_json(folder, MERGE_FILE, record, indent=1)
    summary = {"method": first["method"], "base_model": marker.get("base_model", ""), "merged_from":
               [p["name"] for p in parents], "merge_method": method,
               "seconds": round(time.time() - started, 2)}
    write_json(folder, SUMMARY_FILE, summary, indent=1)
    now = time.time()
    parents_text = ", ".join(p["name"] for p in parents)
    update_status(folder, new=True, id=run_id, name=name, method=first["method"], state="completed", step=0,
                  total=0, eta_s=None, created=now, started=started,
                  message=f"Merged from {parents_text} ({method}).")


def cli_merge(args) -> int:
    weights = None
    if args.weights:
        try:
            weights = [float(w) for w in args.weights.split(",")]
        except ValueError as exc:
            raise MergeError("--weights takes numbers separated by commas, e.g. 0.5,0.5 (got "
                             f"{args.weights}).") from exc
    folder = merge_runs(args.runs, method=args.method, weights=weights, density=args.density, name=args.name,
                        seed=args.seed)
    print(tr("Merged {count} adapters ({method}) into the run {run} ({folder}); chat with it: studio chat "
             "{folder}").format(count=len(args.runs), method=args.method, run=folder.name, folder=folder))
    return 0
