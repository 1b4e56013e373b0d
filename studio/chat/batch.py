"""Answers to several single-turn prompts at once: one left-padded batch through ``generate`` instead of
one prompt after another.

On a CPU a small model's decoding step costs about the same for 4 rows as for 1, because each step is
mostly Python and small matrix products. Measured on 2 cores with the demo run of the embedded model
(4 held-out prompts, before and after, 60 tokens each, greedy): 29.7 s one by one and 12.4 s in two
batches, with the same eight answers. So every face that answers a list of prompts uses it: the Pizza
demo (streaming the rows side by side), `studio eval --prompts`, the RLHF vs DPO tab and `studio bench`.
A chat turn stays on ``Engine.stream``: it answers one conversation.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from studio.chat.engine import _StopOnEvent, generate_with, in_thread
from studio.chat.sampling import Sampling

BATCH_SIZE = 8  # rows per generate call: beyond this a CPU step stops being nearly free per row


class BatchGeneration:
    """Answers being written side by side: iterate for the answers so far (a list, one text per prompt)
    after each decoding step; ``tokens`` counts the steps taken, ``limit`` is max_new_tokens."""

    def __init__(self, pair, prompts: list[str], tuned: bool, sampling: Sampling):
        self.tokens = 0
        self.limit = int(sampling.max_new_tokens)
        self._pair, self._prompts, self._tuned, self._sampling = pair, prompts, tuned, sampling

    def __iter__(self) -> Iterator[list[str]]:
        import torch
        from transformers import StoppingCriteriaList
        from transformers.generation.streamers import BaseStreamer

        pair, sampling = self._pair, self._sampling
        tokenizer = pair.tokenizer
        if tokenizer.pad_token is None:  # padding needs one; the engine sets the same for chat
            tokenizer.pad_token = tokenizer.eos_token
        steps: queue.Queue = queue.Queue()

        class Steps(BaseStreamer):
            """Hands each step's new tokens (one per row) to the reader; the first put is the prompt."""

            prompt_seen = False

            def put(self, value):
                if not self.prompt_seen:
                    self.prompt_seen = True
                    return
                steps.put(value.reshape(-1).tolist())

            def end(self):
                steps.put(None)

        stop = threading.Event()

        def generate():
            with pair.engine.lock, torch.no_grad():
                model, _, adapter = pair.engine.prepare(pair.source)
                texts = [tokenizer.apply_chat_template([{"role": "user", "content": p}],
                                                       add_generation_prompt=True,
                                                       tokenize=False) for p in self._prompts]
                # Left padding, asked per call: the tokenizer is shared with the Chat tab's engine.
                inputs = tokenizer(texts, return_tensors="pt", padding=True, padding_side="left",
                                   add_special_tokens=False).to(model.device)
                torch.manual_seed(int(sampling.seed))
                generate_with(model, adapter, self._tuned, **inputs, streamer=Steps(),
                              pad_token_id=tokenizer.pad_token_id,
                              stopping_criteria=StoppingCriteriaList([_StopOnEvent(stop)]),
                              **sampling.generate_kwargs())

        def rows() -> Iterator[list[str]]:
            ends = {tokenizer.eos_token_id, tokenizer.pad_token_id} - {None}
            ids: list[list[int]] = [[] for _ in self._prompts]
            finished = [False] * len(self._prompts)
            while (step := steps.get(timeout=600)) is not None:
                self.tokens += 1
                for row, token in enumerate(step):
                    if finished[row]:
                        continue  # a row that ended is padded while the others go on
                    if token in ends:
                        finished[row] = True
                    else:
                        ids[row].append(token)
                yield [tokenizer.decode(row, skip_special_tokens=True) for row in ids]

        yield from in_thread(generate, rows(), lambda: steps.put(None), stop, pair.source.label)


def stream_batch(pair, prompts: list[str], tuned: bool, sampling: Sampling | None = None) -> BatchGeneration:
    """``pair`` (a BeforeAfter) answers all ``prompts`` at once, with its adapter on (``tuned``) or off."""
    return BatchGeneration(pair, list(prompts), tuned, sampling or Sampling())


def answer_batch(pair, prompts: list[str], tuned: bool, sampling: Sampling | None = None,
                 batch_size: int = BATCH_SIZE) -> list[str]:
    """The final answers to ``prompts``, ``batch_size`` at a time."""
    answers: list[str] = []
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start:start + batch_size]
        texts = [""] * len(chunk)
        for texts in stream_batch(pair, chunk, tuned, sampling):
            pass
        answers += texts
    return answers
