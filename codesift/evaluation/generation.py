"""Generation backends (HF batched with KV cache; vLLM on GPUs) and the held-out NLL prompt.

What a benchmark's prompts and stop strings are is the benchmark's business
(`benchmarks.Benchmark.prompt` / `stop_strings`); this module turns prompts into completions.
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from codesift import CodesiftError
from codesift.templates import Template

# Top-level statements that end a function completion (the Codex paper's stop set).
STOP = ["\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\nassert "]
HELDOUT_INSTRUCTION = "Complete the following Python function.\n\n"


def heldout_prompt(task: dict, mode: str, template: Template,
                   tok: PreTrainedTokenizerBase) -> str:
    """The prompt of the held-out NLL metric (unchanged since the metric was defined): the
    function prompt, wrapped in the template in instruct mode, starting the response."""
    if mode == "base":
        return task["prompt"]
    instruction = HELDOUT_INSTRUCTION + task["prompt"].strip()
    return template.prompt(tok, instruction) + task["prompt"]


def truncate(completion: str, stop: list[str] = STOP) -> str:
    """Cut at the first stop string, wherever it is (as evalplus's decoders do)."""
    cut = min((i for s in stop if (i := completion.find(s)) >= 0), default=len(completion))
    return completion[:cut]


@torch.no_grad()
def generate_hf(model: PreTrainedModel, tok: PreTrainedTokenizerBase, prompts: list[str],
                max_new_tokens: int, n_samples: int = 1, temperature: float = 0.0,
                top_p: float = 1.0, batch_size: int = 16, seed: int = 0,
                stop: list[str] = STOP) -> list[list[str]]:
    """n completions per prompt, truncated at the stop strings; batches of similar length."""
    torch.manual_seed(seed)
    encoded = [prompt_ids(tok, p) for p in prompts]
    jobs = sorted(((i, s) for i in range(len(prompts)) for s in range(n_samples)),
                  key=lambda j: (-len(encoded[j[0]]), j))
    out: list[list[str]] = [[""] * n_samples for _ in prompts]
    sampling = temperature > 0
    for start in tqdm(range(0, len(jobs), batch_size), desc="generate", unit="batch"):
        chunk = jobs[start:start + batch_size]
        ids, mask = _left_pad([encoded[i] for i, _ in chunk], tok.pad_token_id)
        gen = model.generate(
            input_ids=ids.to(model.device), attention_mask=mask.to(model.device),
            max_new_tokens=max_new_tokens, do_sample=sampling,
            temperature=temperature if sampling else None, top_p=top_p if sampling else None,
            stop_strings=stop, tokenizer=tok, pad_token_id=tok.pad_token_id)
        texts = tok.batch_decode(gen[:, ids.shape[1]:], skip_special_tokens=True)
        for (i, s), text in zip(chunk, texts, strict=True):
            out[i][s] = truncate(text, stop)
    return out


def _left_pad(seqs: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for r, s in enumerate(seqs):
        ids[r, width - len(s):] = torch.tensor(s)
        mask[r, width - len(s):] = 1
    return ids, mask


def prompt_ids(tok: PreTrainedTokenizerBase, prompt: str) -> list[int]:
    """BOS (if the tokenizer has one and the template did not write it) + prompt ids,
    exactly as `templates.encode_spans` starts a training sequence."""
    ids = tok(prompt, add_special_tokens=False)["input_ids"]
    if tok.bos_token_id is None or prompt.startswith(tok.bos_token or "\0"):
        return ids
    return [tok.bos_token_id, *ids]


def generate_vllm(model_dir: str, tok: PreTrainedTokenizerBase, prompts: list[str],
                  max_new_tokens: int, n_samples: int = 1, temperature: float = 0.0,
                  top_p: float = 1.0, seed: int = 0, stop: list[str] = STOP) -> list[list[str]]:
    """vLLM on GPUs; token ids are passed so BOS handling matches training."""
    try:
        from vllm import LLM, SamplingParams
    except ImportError:
        raise CodesiftError("eval.backend: vllm is not installed (it needs a CUDA GPU: "
                            "pip install -r requirements-gpu.txt); use eval.backend: hf on CPU")
    llm = LLM(model=model_dir, seed=seed)
    params = SamplingParams(n=n_samples, temperature=temperature, top_p=top_p,
                            max_tokens=max_new_tokens, stop=stop, seed=seed)
    outs = llm.generate([{"prompt_token_ids": prompt_ids(tok, p)} for p in prompts], params)
    return [[truncate(o.text, stop) for o in r.outputs] for r in outs]
