"""Generation before and after training from one model in memory: the adapter switched off and on."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from studio.errors import StudioError


@dataclass
class Sampling:
    """The same settings are used for the base and the tuned answer, so they compare fairly."""

    max_new_tokens: int = 96
    temperature: float = 0.0  # 0 means greedy
    top_p: float = 1.0
    seed: int = 0

    def generate_kwargs(self) -> dict:
        if self.temperature <= 0:
            return {"max_new_tokens": self.max_new_tokens, "do_sample": False}
        return {"max_new_tokens": self.max_new_tokens, "do_sample": True,
                "temperature": self.temperature, "top_p": self.top_p}


def adapter_dir_of(run_dir: str | Path) -> Path:
    """A run's adapter folder (or the folder itself when it is an adapter)."""
    path = Path(run_dir)
    if (path / "adapter_config.json").is_file():
        return path
    if (path / "adapter" / "adapter_config.json").is_file():
        return path / "adapter"
    raise StudioError(f"{path} has no trained adapter yet; finish or stop a run first, then pick it.")


def base_model_path_of(adapter_dir: Path) -> str:
    """What to resolve for the base: the name the run was configured with ('embedded', a Hub id...)."""
    marker = adapter_dir / "studio_base.json"
    if marker.is_file():
        return json.loads(marker.read_text(encoding="utf-8"))["model"]
    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    return config["base_model_name_or_path"]


def adapter_method(adapter_dir: Path) -> str:
    """The method that trained an adapter (from its marker, else its run's config.yaml), or '' if unknown."""
    marker = adapter_dir / "studio_base.json"
    if marker.is_file():
        method = json.loads(marker.read_text(encoding="utf-8")).get("method")
        if method:
            return method
    config = adapter_dir.parent / "config.yaml"
    if config.is_file():
        import yaml

        raw = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        return str(raw.get("method", "")) if isinstance(raw, dict) else ""
    return ""


def is_reward_run(run_dir: str | Path) -> bool:
    """Whether a run (or adapter folder) holds a reward model, which scores answers instead of writing them."""
    from studio.methods import get_method, method_names

    method = adapter_method(adapter_dir_of(run_dir))
    return method in method_names() and get_method(method).model_kind == "reward"


class BeforeAfter:
    """One base model with one run's adapter attached; answers with the adapter off and on."""

    def __init__(self, run_dir: str | Path, trust_remote_code: bool = False):
        from peft import PeftModel

        from studio.models.loading import load_model, load_tokenizer, resolve_model

        self.adapter_dir = adapter_dir_of(run_dir)
        if is_reward_run(self.adapter_dir):  # checked before any weights load
            raise StudioError(
                f"{run_dir} is a reward model: it scores answers instead of writing them; use `studio score` "
                "(or the Score panel) with it, or pick a run trained with SFT, DPO, KTO, ORPO, SimPO or RL to chat.")
        resolved = resolve_model(base_model_path_of(self.adapter_dir))
        # The adapter folder carries the tokenizer with the chat template used in training.
        self.tokenizer = load_tokenizer(
            type(resolved)(str(self.adapter_dir), resolved.display_name, True), trust_remote_code
        )
        base = load_model(resolved, trust_remote_code=trust_remote_code)
        self.model = PeftModel.from_pretrained(base, str(self.adapter_dir))
        self.model.eval()
        self._lock = threading.Lock()  # one generation at a time: the adapter switch is global state

    def _inputs(self, prompt: str):
        messages = [{"role": "user", "content": prompt}]
        return self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )

    def answer(self, prompt: str, tuned: bool, sampling: Sampling | None = None) -> str:
        return "".join(self.stream(prompt, tuned, sampling))

    def stream(self, prompt: str, tuned: bool, sampling: Sampling | None = None) -> Iterator[str]:
        """Yield the answer piece by piece as it is generated."""
        import torch
        from transformers import TextIteratorStreamer

        sampling = sampling or Sampling()
        inputs = self._inputs(prompt)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        errors: list[BaseException] = []

        def run():
            try:
                torch.manual_seed(sampling.seed)
                with torch.no_grad():
                    kwargs = dict(**inputs, streamer=streamer, pad_token_id=self.tokenizer.pad_token_id,
                                  **sampling.generate_kwargs())
                    if tuned:
                        self.model.generate(**kwargs)
                    else:
                        with self.model.disable_adapter():
                            self.model.generate(**kwargs)
            except BaseException as exc:  # noqa: BLE001 - surfaced to the caller after the stream ends
                errors.append(exc)
                streamer.end()

        with self._lock:
            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            yield from streamer
            worker.join()
        if errors:
            raise errors[0]

    def compare(self, prompt: str, sampling: Sampling | None = None) -> dict:
        return {"before": self.answer(prompt, False, sampling), "after": self.answer(prompt, True, sampling)}
