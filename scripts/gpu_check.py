#!/usr/bin/env python3
"""GPU check: codesift's GPU paths measured at the papers' model shapes, in one command that
fits a 15-minute loan of a bare GPU machine (README, "GPU check").

    python3 scripts/gpu_check.py --out DIR             on the GPU machine (about 6 min)
    python3 scripts/gpu_check.py --dry-run --out DIR   on a CPU: tiny shapes, fp32, same code path

Figures, each beside its baseline in the same run:
  ifd         codesift.scoring.score vs scoring.reference_ifd (the published loop: one sample,
              two forward passes), bf16, DeepSeek-Coder-1.3B shape, 2,000 records: samples/s,
              speedup (goal >= 8x), largest IFD difference on the records both scored
  generation  codesift.evaluation.generation.generate_hf, greedy, batched vs one prompt at a
              time, 1.3B shape: new tokens/s
  train       codesift.training.train, LoRA, bf16, SDPA, DeepSeek-Coder-6.7B shape, each pad mode
              (pad, dynamic_pad, dynamic_pack, bfd) for a fixed number of steps: tokens/s, peak
              GPU memory; per-step loss of dynamic_pad vs dynamic_pack

Models have random weights, built from the configs of deepseek-ai/deepseek-coder-1.3b-base and
-6.7b-base (no hub). The tokenizer is codesift's byte-level BPE trained on the committed
pretraining corpus, padded with unused tokens to the models' 32,256. Records are synthetic:
the instruction and response lengths of the pool (CodeAlpaca from ../shared/data when present,
else data/sample/train.jsonl), filled with text cut from the pool at random offsets.

The script keeps its own time: --budget seconds in all, and each figure (and each reference
loop and training run inside one) a cap; what does not fit is reported as skipped or stopped.
Out of GPU memory at a shape is recorded for that figure or pad mode, with the shape and batch.
DIR/gpu_check.json holds the figures (rewritten after each figure); its one-line form is the
last stdout line. Exit 2 without a CUDA device (unless --dry-run), 1 if a figure failed with an
unexpected error, else 0.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import importlib.util
import json
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

START = time.monotonic()
ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "bench", ROOT / "scripts"):  # this checkout's codesift, bench, scripts
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from gpu_smoke import jsonable  # noqa: E402

NO_GPU = 2
MIN_SECONDS = 5.0  # the least a figure is started with, and what the budget keeps for the end

# DeepSeek-Coder's base models as their config.json on the Hugging Face hub gives them
# (deepseek-ai/deepseek-coder-1.3b-base, deepseek-ai/deepseek-coder-6.7b-base): LLaMA, 32,256
# tokens, as many key/value heads as heads, RoPE theta 1e5 scaled linearly by 4, untied head.
DEEPSEEK = dict(vocab_size=32256, max_position_embeddings=16384, rope_theta=100000.0,
                rope_scaling={"type": "linear", "factor": 4.0}, rms_norm_eps=1e-6,
                hidden_act="silu", tie_word_embeddings=False)
SHAPES = {
    "deepseek-coder-1.3b": dict(hidden_size=2048, intermediate_size=5504, num_hidden_layers=24,
                                num_attention_heads=16, num_key_value_heads=16),
    "deepseek-coder-6.7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                                num_attention_heads=32, num_key_value_heads=32),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=4),  # --dry-run
}

# The published anchor for the pad modes (the figures for CodeACT's "dynamic pack"):
# DeepSeek-Coder-6.7B on 8 GPUs, one epoch and peak memory, padding -> dynamic pack.
ANCHOR = {"model": "DeepSeek-Coder-6.7B, 8 GPUs", "epoch_minutes": [47, 34],
          "peak_memory_gb": [61.47, 42.72], "modes": ["padding", "dynamic pack"]}
TRAIN_ORDER = ("dynamic_pack", "dynamic_pad", "bfd", "pad")  # the loss pair first, pad last
NEEDS = {"train": ("peft",)}  # optional modules by figure (the image has them all)


@dataclass(frozen=True)
class Plan:
    """Sizes and time caps (seconds) of a run."""

    score_shape: str = "deepseek-coder-1.3b"
    train_shape: str = "deepseek-coder-6.7b"
    vocab: int = DEEPSEEK["vocab_size"]
    corpus_chars: int | None = None  # of the tokenizer's training text (None: all of it)
    dtype: str = "bfloat16"
    records: int = 2000
    ifd_max_len: int = 2048  # the training length: nothing of the pool is cut
    ifd_batch_tokens: tuple[int, ...] = (2048, 65536)  # ifd.batch_tokens: default, codeact's
    ifd_reference: int = 300  # records the reference loop scores at most
    gen_prompts: int = 64
    gen_batch: int = 32
    gen_baseline: int = 3  # prompts generated one at a time
    gen_new_tokens: int = 128
    train_steps: int = 10
    # CodeACT's max_seq_len; its batch is 16 per GPU, but `pad` at 16 x 2048 needs ~190 GB
    # without gradient checkpointing (about 5 MB a token at 6.7B): 8 fits an H200.
    train_batch: int = 8
    train_max_seq_len: int = 2048
    caps: dict[str, float] = field(default_factory=lambda: {
        "setup": 45, "ifd": 110, "ifd_reference": 40, "generation": 50, "train": 180,
        "train_mode": 55})


# CPU: a small vocabulary (the LM head dominates a tiny model) and fp32 (CPU bf16 is emulated).
DRY_RUN = Plan(score_shape="tiny", train_shape="tiny", vocab=2048, dtype="float32",
               corpus_chars=300_000, records=24, ifd_max_len=512, ifd_batch_tokens=(1024, 4096),
               ifd_reference=4, gen_prompts=4, gen_batch=4, gen_baseline=1, gen_new_tokens=4,
               train_steps=2, train_batch=4, train_max_seq_len=512)


# --- time caps ---------------------------------------------------------------------------

class OutOfTime(BaseException):
    """A time cap ran out. A BaseException, so no library's `except Exception` swallows it."""


_deadlines: list[float] = []


def _alarm(signum, frame) -> None:
    raise OutOfTime()


def _arm() -> None:
    """SIGALRM at the nearest open deadline (none: disarmed)."""
    if not _deadlines:
        signal.setitimer(signal.ITIMER_REAL, 0)
        return
    signal.setitimer(signal.ITIMER_REAL, max(min(_deadlines) - time.monotonic(), 1e-3))


@contextmanager
def time_cap(seconds: float) -> Iterator[None]:
    """Raise OutOfTime in this (the main) thread when `seconds` have passed. Nestable. A step
    of GPU work cannot be interrupted mid-kernel; the exception comes when Python runs again."""
    deadline = time.monotonic() + seconds
    _deadlines.append(deadline)
    _arm()
    try:
        yield
    finally:
        _deadlines.remove(deadline)
        _arm()


@dataclass
class Ctx:
    """What a figure gets: the plan, the device, the shared tokenizer, records and template,
    a work dir, the run's budget and the running figure's deadline."""

    plan: Plan
    device: str
    work: Path
    budget_end: float
    deadline: float = 0.0
    tok: object = None
    template: object = None
    records: list[dict] = field(default_factory=list)
    models: dict = field(default_factory=dict)

    def cap(self, name: str, margin: float = 3.0) -> float:
        """Seconds for a step inside the running figure: its cap, within the figure's time."""
        return min(self.plan.caps[name], self.deadline - time.monotonic() - margin)

    def model(self, shape: str, out: dict):
        """The random-weight model of `shape`, built once and shared by the figures."""
        if shape not in self.models:
            start = time.perf_counter()
            self.models[shape] = build_model(shape, self.tok, self.device, self.plan.dtype)
            out["init_seconds"] = time.perf_counter() - start
        out.update(shape=shape, config=SHAPES[shape])
        return self.models[shape]

    def release(self) -> None:
        self.models.clear()
        free_memory()


def free_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def run_figure(name: str, fn: Callable[[Ctx, dict], None], ctx: Ctx) -> dict:
    """One figure within its cap (and the budget): measured, partial, skipped, out of memory
    or failed, never a crash of the whole check."""
    import torch

    cap = min(ctx.plan.caps[name], ctx.budget_end - time.monotonic() - MIN_SECONDS)
    if cap < MIN_SECONDS:
        return {"status": "skipped", "reason": "the check's time budget is spent"}
    missing = [m for m in NEEDS.get(name, ()) if importlib.util.find_spec(m) is None]
    if missing:
        return {"status": "skipped", "reason": f"not installed: {', '.join(missing)} "
                "(README, GPU check: wheels)"}
    out: dict = {}
    start = time.monotonic()
    ctx.deadline = start + cap
    print(f"gpu_check: {name} (cap {cap:.0f} s)", file=sys.stderr, flush=True)
    try:
        with time_cap(cap):
            fn(ctx, out)
        out.setdefault("status", "measured")
    except OutOfTime:
        out.update(status="partial" if out else "skipped", reason=f"time cap of {cap:.0f} s")
    except torch.OutOfMemoryError as e:
        out.update(status="out_of_memory", error=str(e).splitlines()[0][:300])
    except Exception as e:  # reported in the figure, the other figures still run
        traceback.print_exc()
        out.update(status="failed", error=f"{type(e).__name__}: {e}"[:1000])
    out["seconds"] = time.monotonic() - start
    return out


# --- setup: tokenizer, records, models ----------------------------------------------------

def build_tokenizer(vocab: int, chars: int | None = None):
    """codesift's byte-level BPE trained on the committed pretraining corpus, its vocabulary
    filled up to the model's with tokens no merge produces, so every id a random model emits
    decodes (DeepSeek-Coder's 32,022 tokens have 32,256 rows too). In the BPE vocabulary, not
    added tokens: the template reads every added token for every reply, so 18,000 of them
    would be the cost of a run."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    from codesift.config import BootstrapConfig
    from codesift.models import train_tokenizer

    text = (ROOT / BootstrapConfig().corpus).read_text(encoding="utf-8")[:chars]
    bpe = train_tokenizer([d for d in text.split("\n\n") if d.strip()], vocab)
    state = json.loads(bpe.backend_tokenizer.to_str())
    table = state["model"]["vocab"]
    trained = len(table)
    table.update({f"<|unused_{i}|>": i for i in range(trained, vocab)})
    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(state)),
                                  bos_token=bpe.bos_token, eos_token=bpe.eos_token,
                                  pad_token=bpe.pad_token, model_max_length=16384)
    return tok, trained


def synthetic_records(pool: list[dict], n: int, seed: int = 0) -> list[dict]:
    """`n` records whose instruction and response lengths (characters) are a seeded draw of the
    pool's pairs, filled with text cut from the pool at random offsets: the pool's length
    distribution, any size, without its records."""
    rng = random.Random(seed)
    text = "\n".join(r["instruction"] + "\n" + r["response"] for r in pool)

    def cut(k: int) -> str:
        at = rng.randrange(len(text) - k)
        return text[at:at + k]

    return [{"id": f"synthetic-{i}", "instruction": cut(len(r["instruction"])),
             "response": cut(len(r["response"]))}
            for i, r in enumerate(rng.choice(pool) for _ in range(n))]


def build_model(shape: str, tok, device: str, dtype: str):
    """A random-weight LLaMA of `shape`, as many token rows as `tok` has, built on `device`
    (initialising on the GPU takes a second even at 6.7B; on a CPU it takes minutes)."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    config = LlamaConfig(**{**DEEPSEEK, **SHAPES[shape], "vocab_size": len(tok)},
                         bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype),
                                                 attn_implementation="sdpa")
    return model.to(device).eval()  # a no-op unless a transformers version ignores the context


def setup(ctx: Ctx, out: dict) -> None:
    """The tokenizer, the synthetic records and the template all figures share."""
    from bench_pack import load_records

    from codesift.templates import load_template

    ctx.tok, bpe = build_tokenizer(ctx.plan.vocab, ctx.plan.corpus_chars)
    pool, source = load_records()
    ctx.records = synthetic_records(pool, ctx.plan.records)
    ctx.template = load_template(ROOT / "templates", "alpaca")
    texts = [r["instruction"] + r["response"] for r in ctx.records]
    lengths = sorted(len(ids) for ids in ctx.tok(texts, add_special_tokens=False)["input_ids"])
    out.update(tokenizer={"bpe_tokens": bpe, "padded_to": len(ctx.tok),
                          "chars_per_token": sum(map(len, texts)) / sum(lengths)},
               pool=source, pool_records=len(pool), records=len(ctx.records),
               record_tokens={f"p{q}": lengths[min(len(lengths) - 1, len(lengths) * q // 100)]
                              for q in (10, 50, 90, 100)})


# --- figure: IFD engine vs the reference loop --------------------------------------------

def fig_ifd(ctx: Ctx, out: dict) -> None:
    from codesift.scoring import plain_head, score

    plan, tok = ctx.plan, ctx.tok
    out.update(dtype=plan.dtype, max_len=plan.ifd_max_len, goal_speedup=8)
    model = ctx.model(plan.score_shape, out)
    out["plain_head"] = plain_head(model)  # False: the engine projects every position
    pairs = [ctx.template.pair(tok, r["instruction"], r["response"]) for r in ctx.records]
    out["records"] = len(pairs)
    score(model, tok, pairs[:16], plan.ifd_max_len, plan.ifd_batch_tokens[-1],
          progress=False)  # warm-up: kernels, cuBLAS workspaces
    engine: dict = {}
    ifds: dict = {}
    out["engine"] = engine
    for budget in plan.ifd_batch_tokens:
        engine[str(budget)] = oom_guard(lambda b=budget: engine_run(model, tok, pairs, plan, b,
                                                                    ifds),
                                        shape=plan.score_shape, batch_tokens=budget)
    ref, seconds = reference_run(model, tok, pairs, plan.ifd_reference, plan.ifd_max_len,
                                 ctx.cap("ifd_reference"))
    out["reference"] = {"records": len(ref), "seconds": seconds,
                        "samples_per_s": len(ref) / seconds}
    out["speedup"] = {b: e["samples_per_s"] / out["reference"]["samples_per_s"]
                      for b, e in engine.items() if "samples_per_s" in e}
    if ifds:
        out["difference"] = ifd_difference(ifds["last"][:len(ref)], ref)


def engine_run(model, tok, pairs: list[tuple[str, str]], plan: Plan, budget: int,
               ifds: dict) -> dict:
    """The engine over all pairs at one `batch_tokens`; its IFDs go to ifds["last"]."""
    from codesift.scoring import score

    start = time.perf_counter()
    results, stats = score(model, tok, pairs, plan.ifd_max_len, budget, progress=False)
    seconds = time.perf_counter() - start
    ifds["last"] = [r.ifd for r in results]
    return {"status": "measured", "batch_tokens": budget, "seconds": seconds,
            "samples_per_s": len(pairs) / seconds, "tokens_per_s": stats.tokens / seconds,
            "scored": stats.n_scored, "failed": stats.n_failed, "truncated": stats.n_truncated}


def oom_guard(fn: Callable[[], dict], **where) -> dict:
    """fn()'s figures or, out of GPU memory, that fact and `where` it happened (shape, batch),
    so the figure goes on with its other measurements."""
    import torch

    try:
        return fn()
    except torch.OutOfMemoryError as e:
        return {"status": "out_of_memory", "error": str(e).splitlines()[0][:300], **where}
    finally:
        free_memory()


def reference_run(model, tok, pairs: list[tuple[str, str]], n: int, max_len: int,
                  seconds: float) -> tuple[list[float | None], float]:
    """The reference loop over the first `n` pairs (a random subset: the records are a seeded
    draw), stopping early when `seconds` have passed."""
    from codesift.scoring import reference_ifd

    ifds: list[float | None] = []
    start = time.perf_counter()
    for prompt, answer in pairs[:n]:
        if ifds and time.perf_counter() - start > seconds:
            break
        ifds.append(reference_ifd(model, tok, prompt, answer, max_len))
    return ifds, time.perf_counter() - start


def ifd_difference(engine: list[float | None], reference: list[float | None]) -> dict:
    both = [(a, b) for a, b in zip(engine, reference, strict=True)
            if a is not None and b is not None]
    return {"compared": len(both),
            "null_mismatches": sum((a is None) != (b is None)
                                   for a, b in zip(engine, reference, strict=True)),
            "max_abs_diff_ifd": max((abs(a - b) for a, b in both), default=None),
            "max_rel_diff_ifd": max((abs(a - b) / abs(b) for a, b in both if b), default=None)}


# --- figure: generation --------------------------------------------------------------------

class CountingModel:
    """The model, with `generate` counting the new tokens it returns (generate_hf returns texts
    cut at stop strings; throughput needs tokens). Padding after an early EOS is not counted."""

    def __init__(self, model, pad_id: int) -> None:
        self._model, self._pad, self.tokens = model, pad_id, 0

    def __getattr__(self, name: str):
        return getattr(self._model, name)

    def generate(self, input_ids, **kwargs):
        out = self._model.generate(input_ids=input_ids, **kwargs)
        self.tokens += int((out[:, input_ids.shape[1]:] != self._pad).sum())
        return out


def fig_generation(ctx: Ctx, out: dict) -> None:
    from codesift.evaluation.generation import generate_hf

    plan, tok = ctx.plan, ctx.tok
    model = CountingModel(ctx.model(plan.score_shape, out), tok.pad_token_id)
    prompts = [ctx.template.prompt(tok, r["instruction"]) for r in ctx.records[:plan.gen_prompts]]
    out.update(dtype=plan.dtype, greedy=True, max_new_tokens=plan.gen_new_tokens,
               batch_size=plan.gen_batch)
    generate_hf(model, tok, prompts[:2], 4, batch_size=2)  # warm-up

    def timed(some: list[str], batch: int) -> dict:
        model.tokens, start = 0, time.perf_counter()
        generate_hf(model, tok, some, plan.gen_new_tokens, batch_size=batch)
        seconds = time.perf_counter() - start
        return {"prompts": len(some), "batch_size": batch, "new_tokens": model.tokens,
                "seconds": seconds, "tokens_per_s": model.tokens / seconds}

    out["batched"] = timed(prompts, plan.gen_batch)
    out["one_at_a_time"] = timed(prompts[:plan.gen_baseline], 1)
    out["speedup"] = out["batched"]["tokens_per_s"] / out["one_at_a_time"]["tokens_per_s"]


# --- figure: training by pad mode ----------------------------------------------------------

def fig_train(ctx: Ctx, out: dict) -> None:
    from codesift.training import build_examples

    plan = ctx.plan
    ctx.release()  # the scoring model's memory
    examples, skipped = build_examples(ctx.records, ctx.tok, ctx.template, plan.train_max_seq_len)
    out.update(shape=plan.train_shape, config=SHAPES[plan.train_shape], method="lora",
               dtype=plan.dtype, attn="sdpa", batch_size=plan.train_batch,
               max_seq_len=plan.train_max_seq_len, steps=plan.train_steps,
               examples=len(examples), examples_skipped=skipped, anchor=ANCHOR)
    out["phase"] = "building and saving the base model"
    base = save_base(ctx, out)
    modes = out["modes"] = {}
    for mode in TRAIN_ORDER:
        out["phase"] = f"training {mode}"
        modes[mode] = train_mode(ctx, base, examples, mode)
    del out["phase"]
    out["comparison"] = compare_modes(modes)


def save_base(ctx: Ctx, out: dict) -> Path:
    """The random-weight model saved where train() loads it from (it takes a model dir)."""
    start = time.perf_counter()
    model = build_model(ctx.plan.train_shape, ctx.tok, ctx.device, ctx.plan.dtype)
    out["init_seconds"] = time.perf_counter() - start
    base = ctx.work / "base"
    start = time.perf_counter()
    model.save_pretrained(base)
    out["save_seconds"] = time.perf_counter() - start
    out["parameters"] = sum(p.numel() for p in model.parameters())
    del model
    free_memory()
    return base


def train_mode(ctx: Ctx, base: Path, examples: list[dict], mode: str) -> dict:
    """One training run of `mode`: figures, or why there are none (cap, out of memory)."""
    import torch

    from codesift.config import LoraConfig, TrainConfig
    from codesift.training import train

    plan, cap = ctx.plan, ctx.cap("train_mode")
    where = {"shape": plan.train_shape, "batch_size": plan.train_batch,
             "max_seq_len": plan.train_max_seq_len}
    if cap < 10:
        return {"status": "skipped", "reason": "no time left in the figure's cap", **where}
    # LoRA dropout 0: its masks are drawn per position, so they would depend on the layout.
    cfg = TrainConfig(method="lora", pad_mode=mode, max_seq_len=plan.train_max_seq_len,
                      batch_size=plan.train_batch, max_steps=plan.train_steps,
                      bf16=plan.dtype == "bfloat16",
                      logging_steps=1, save_steps=0, warmup_steps=0, lr=1e-4,
                      lora=LoraConfig(dropout=0.0))
    free_memory()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()

    def one_run() -> dict:
        start = time.perf_counter()
        with time_cap(cap):
            run = train(str(base), examples, ctx.tok, cfg, None, ctx.work / f"run-{mode}")
        return mode_figures(run.metrics, run.history, time.perf_counter() - start)

    try:
        return oom_guard(one_run, **where)
    except OutOfTime:
        return {"status": "stopped", "reason": f"time cap of {cap:.0f} s", **where}
    finally:
        shutil.rmtree(ctx.work / f"run-{mode}", ignore_errors=True)


def mode_figures(m: dict, history: list[dict], wall: float) -> dict:
    """Throughput over the run and over its steady steps (all but the first, which carries
    kernel selection and allocator warm-up), peak memory (GiB), per-step losses."""
    rates = [h["tokens_per_second"] for h in history if "tokens_per_second" in h][1:]
    return {"status": "measured", "steps": m["steps"], "train_seconds": m["train_seconds"],
            "wall_seconds": wall, "tokens_per_s": m["tokens_per_second"],
            "steady_tokens_per_s": statistics.median(rates) if rates else None,
            "supervised_tokens_per_s": m["supervised_tokens"] / m["train_seconds"],
            "pad_fraction": m["pad_fraction"], "peak_memory_gib": m["peak_memory_mb"] / 1024,
            "losses": [h["loss"] for h in history if "loss" in h]}


def compare_modes(modes: dict[str, dict]) -> dict:
    """dynamic_pack against the others (throughput and memory ratios), and the per-step loss
    of dynamic_pad vs dynamic_pack (same samples per step, different layout)."""
    ok = {k: v for k, v in modes.items() if v.get("status") == "measured"}
    out: dict = {}
    if "dynamic_pack" in ok:
        pack = ok["dynamic_pack"]
        for k, v in ok.items():
            if k != "dynamic_pack":
                out[f"pack_vs_{k}"] = {
                    "tokens_per_s": pack["tokens_per_s"] / v["tokens_per_s"],
                    "peak_memory": pack["peak_memory_gib"] / v["peak_memory_gib"]}
    if "dynamic_pack" in ok and "dynamic_pad" in ok:
        pairs = list(zip(ok["dynamic_pad"]["losses"], ok["dynamic_pack"]["losses"],
                         strict=True))
        out["loss_pad_vs_pack"] = {"steps": len(pairs),
                                   "max_abs_diff": max(abs(a - b) for a, b in pairs),
                                   "max_rel_diff": max(abs(a - b) / abs(a) for a, b in pairs)}
    return out


# --- the run -------------------------------------------------------------------------------

FIGURES: dict[str, Callable[[Ctx, dict], None]] = {
    "ifd": fig_ifd, "generation": fig_generation, "train": fig_train}


def cuda_problem() -> str | None:
    """Why this machine cannot run the check, or None; without any NVIDIA device node or
    nvidia-smi, refused before torch is imported."""
    if shutil.which("nvidia-smi") is None and not Path("/dev/nvidiactl").exists():
        return "no NVIDIA GPU here (no nvidia-smi, no /dev/nvidiactl): use --dry-run on a CPU"
    import torch

    if not torch.cuda.is_available():
        return (f"torch {torch.__version__} sees no CUDA device (torch.version.cuda="
                f"{torch.version.cuda}): use --dry-run on a CPU")
    return None


def machine(device: str) -> dict:
    import torch
    import transformers

    info = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "python": sys.version.split()[0], "torch": torch.__version__,
            "transformers": transformers.__version__, "device": device}
    for dist in ("peft", "accelerate", "tokenizers"):
        info[dist] = importlib.metadata.version(dist) if importlib.util.find_spec(dist) else None
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_gib=props.total_memory / 2**30,
                    cuda=torch.version.cuda)
    return info


def run(args: argparse.Namespace) -> dict:
    plan = DRY_RUN if args.dry_run else Plan()
    device = "cpu" if args.dry_run else "cuda"
    report = {"dry_run": args.dry_run, "budget_s": args.budget, "machine": machine(device),
              "figures": {}}
    with tempfile.TemporaryDirectory(prefix="gpu_check-") as work:
        ctx = Ctx(plan, device, Path(work), START + args.budget)
        report["setup"] = run_figure("setup", setup, ctx)
        save(args.out, report)
        for name in args.only:
            if report["setup"]["status"] != "measured":
                report["figures"][name] = {"status": "skipped", "reason": "setup did not finish"}
                continue
            report["figures"][name] = run_figure(name, FIGURES[name], ctx)
            report["seconds"] = time.monotonic() - START
            save(args.out, report)
        ctx.release()
    report["seconds"] = time.monotonic() - START
    return report


def save(out: Path, report: dict) -> None:
    from codesift.io import write_json

    write_json(out / "gpu_check.json", jsonable(report))


def figure_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names or any(n not in FIGURES for n in names):
        raise argparse.ArgumentTypeError(f"figures are {', '.join(FIGURES)}; got {text!r}")
    return names


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="folder for gpu_check.json")
    p.add_argument("--dry-run", action="store_true",
                   help="on the CPU with tiny shapes and sizes (the same code path, seconds)")
    p.add_argument("--budget", type=float, default=330.0,
                   help="seconds for the whole check, start-up included (default %(default)s)")
    p.add_argument("--only", type=figure_list, default=list(FIGURES),
                   help=f"comma-separated figures (default: {','.join(FIGURES)})")
    args = p.parse_args(argv)
    if not args.dry_run:
        problem = cuda_problem()
        if problem:
            print(f"gpu_check: {problem}", file=sys.stderr)
            return NO_GPU
    for key, value in (("HF_HUB_OFFLINE", "1"), ("TQDM_DISABLE", "1"),
                       ("TOKENIZERS_PARALLELISM", "false")):  # no network there; quiet logs
        os.environ.setdefault(key, value)
    signal.signal(signal.SIGALRM, _alarm)
    report = run(args)
    save(args.out, report)
    print(json.dumps(jsonable(report), allow_nan=False), flush=True)
    failed = [n for n, f in report["figures"].items() if f.get("status") == "failed"]
    return 1 if failed or report["setup"].get("status") == "failed" else 0


if __name__ == "__main__":
    sys.exit(main())
