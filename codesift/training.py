"""Fine-tuning: HF Trainer with PEFT, and collators for pad, dynamic_pad and dynamic_pack.

All three pad modes see the same samples per optimizer step (the DataLoader draws
them); they differ only in layout. The loss is the token mean over the whole
accumulation window (Trainer's `num_items_in_batch`), so the modes optimise the
same objective.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import (
    PreTrainedTokenizerBase,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_utils import get_last_checkpoint

from codesift import CodesiftError
from codesift.config import TrainConfig
from codesift.io import read_json, write_json
from codesift.models import load_model, torch_dtype
from codesift.packing import best_fit_decreasing, first_fit_decreasing, pack_rows, pad_rows
from codesift.templates import chat_pairs, encode, encode_chat, prompt_text


def build_examples(records: list[dict], tok: PreTrainedTokenizerBase, template: str,
                   max_len: int) -> tuple[list[dict], dict[str, int]]:
    """Tokenise with the shared template; count (never silently drop) what can't be used."""
    examples, skipped = [], {}
    for r in records:
        if "chat_rounds" in r:  # multi-turn: every assistant turn is supervised
            ids, labels, _ = encode_chat(tok, chat_pairs(r["chat_rounds"], template), max_len)
            error = None if any(v != -100 for v in labels) else "no assistant tokens"
        else:
            enc = encode(tok, prompt_text(template, r["instruction"]), r["response"], max_len)
            ids, labels, error = enc.input_ids, enc.labels(), enc.error
        if error:
            skipped[error] = skipped.get(error, 0) + 1
            continue
        examples.append({"input_ids": ids, "labels": labels})
    return examples, skipped


def bfd_bins(examples: list[dict], max_seq_len: int) -> list[dict]:
    """`bfd` mode: best-fit-decreasing bins over the whole dataset, one bin per row. This
    changes the number of steps (each step sees batch_size full rows, not batch_size
    samples), unlike dynamic_pack."""
    bins = best_fit_decreasing([len(e["input_ids"]) for e in examples], max_seq_len)
    return [{"members": [examples[i] for i in b]} for b in bins]


@dataclass
class Collator:
    """Lay out a batch as `pad` (to max_seq_len), `dynamic_pad` (to the longest),
    `dynamic_pack` (positions restarting per sample, no mask) or `bfd` (features are
    pre-made bins). dynamic_pack's rows are as wide as the batch's longest sample, not
    max_seq_len: SDPA's masked attention costs row width squared per row, so wider rows
    undo the saving (bench/pack.py: 1.04x dynamic_pad's speed with 1024-wide rows, 1.78x
    with these) while padding barely changes. With `flatten` (flash-attn on a GPU) a packed
    batch is one padding-free row, the layout flash-attn's varlen path reads from position_ids.

    Hand-written because DataCollatorWithFlattening only makes that single row, which on
    CPU SDPA costs attention quadratic in the batch; it also counts padding.
    """

    mode: str
    pad_id: int
    max_seq_len: int
    flatten: bool = False
    real_tokens: int = 0
    total_tokens: int = 0
    supervised_tokens: int = 0

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        if self.mode == "bfd":
            sizes = [len(f["members"]) for f in features]
            features = [m for f in features for m in f["members"]]
        seqs = [f["input_ids"] for f in features]
        labels = [f["labels"] for f in features]
        if self.mode in ("pad", "dynamic_pad"):
            width = self.max_seq_len if self.mode == "pad" else None
            batch = pad_rows(seqs, labels, self.pad_id, width)
        else:
            if self.flatten:
                bins = [list(range(len(seqs)))]
            elif self.mode == "bfd":
                starts = [sum(sizes[:i]) for i in range(len(sizes))]
                bins = [list(range(a, a + n)) for a, n in zip(starts, sizes, strict=True)]
            else:  # rows as wide as the longest sample (<= max_seq_len), see the docstring
                lengths = [len(s) for s in seqs]
                bins = first_fit_decreasing(lengths, max(lengths))
            batch = pack_rows(seqs, labels, bins, self.pad_id)
        mask = batch.pop("segment_ids") >= 0
        self.real_tokens += int(mask.sum())
        self.total_tokens += mask.numel()
        self.supervised_tokens += int((batch["labels"] != -100).sum())
        return batch

    @property
    def pad_fraction(self) -> float:
        return 1 - self.real_tokens / self.total_tokens if self.total_tokens else 0.0


class ThroughputCallback(TrainerCallback):
    """Adds non-pad tokens/s since the last log to each log line (dvclive plots it)."""

    def __init__(self, collator: Collator) -> None:
        self.collator, self.last = collator, (time.perf_counter(), 0)

    def on_log(self, args, state, control, logs=None, **kwargs) -> None:
        now, tokens = time.perf_counter(), self.collator.real_tokens
        if logs is not None and "loss" in logs:
            logs["tokens_per_second"] = (tokens - self.last[1]) / max(now - self.last[0], 1e-9)
        self.last = (now, tokens)


def _dtype(cfg: TrainConfig) -> str:
    return "bfloat16" if cfg.bf16 else "float32"


def prepare_model(base: str, cfg: TrainConfig, attn: str = "sdpa"):
    """Load the base model for `full`, `lora` or `qlora` training."""
    if "flash" in attn and not torch.cuda.is_available():
        raise CodesiftError(f"model.attn_implementation={attn} needs a CUDA GPU and flash-attn "
                            "(requirements-gpu.txt); use sdpa on CPU")
    if cfg.method == "qlora":
        from transformers import AutoModelForCausalLM, BitsAndBytesConfig

        dtype = torch_dtype(_dtype(cfg))  # storage dtype = compute dtype, or FSDP breaks
        quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                   bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=dtype,
                                   bnb_4bit_quant_storage=dtype)
        model = AutoModelForCausalLM.from_pretrained(base, quantization_config=quant, dtype=dtype,
                                                     attn_implementation=attn)
    else:
        model = load_model(base, _dtype(cfg), attn_implementation=attn)
    model.config.use_cache = False  # a KV cache disables packed-sequence detection
    if cfg.method == "full":
        return model
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                      target_modules=cfg.lora.target_modules, task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


def training_args(cfg: TrainConfig, checkpoints: Path) -> TrainingArguments:
    """Checkpoints every `save_steps` into a persistent dir, so a killed run resumes."""
    return TrainingArguments(
        output_dir=str(checkpoints), num_train_epochs=cfg.epochs, max_steps=cfg.max_steps,
        learning_rate=cfg.lr, lr_scheduler_type=cfg.lr_scheduler, warmup_steps=cfg.warmup_steps,
        per_device_train_batch_size=cfg.batch_size, gradient_accumulation_steps=cfg.grad_accum,
        weight_decay=cfg.weight_decay, bf16=cfg.bf16, logging_steps=cfg.logging_steps,
        save_strategy="steps" if cfg.save_steps > 0 else "no", save_steps=max(cfg.save_steps, 1),
        save_total_limit=2, report_to="none", seed=cfg.seed, data_seed=cfg.seed,
        remove_unused_columns=False, dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available())


def train(base: str, examples: list[dict], tok: PreTrainedTokenizerBase, cfg: TrainConfig,
          out: Path | None, checkpoints: Path, callbacks: list | None = None,
          attn: str = "sdpa") -> dict:
    """Fine-tune (resuming from the newest checkpoint in `checkpoints` if any) and save a
    standalone model in `out` (LoRA merged; adapter in out/adapter). Token counts are this
    process's own (per rank under DDP)."""
    set_seed(cfg.seed)  # LoRA's A matrices are drawn here, before the Trainer seeds anything
    model = prepare_model(base, cfg, attn)
    collator = Collator(cfg.pad_mode, tok.pad_token_id, cfg.max_seq_len,
                        flatten="flash" in attn and cfg.pad_mode in ("dynamic_pack", "bfd"))
    data = bfd_bins(examples, cfg.max_seq_len) if cfg.pad_mode == "bfd" else examples
    trainer = Trainer(model=model, args=training_args(cfg, checkpoints), train_dataset=data,
                      data_collator=collator,
                      callbacks=[ThroughputCallback(collator), *(callbacks or [])])
    resume = get_last_checkpoint(str(checkpoints)) if checkpoints.exists() else None
    start = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - start
    if out is not None and trainer.is_world_process_zero():
        _save(trainer.model, base, tok, cfg, out)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {
        "train_loss": result.training_loss, "final_loss": losses[-1] if losses else None,
        "train_seconds": seconds, "steps": result.global_step, "resumed_from": resume,
        "tokens_per_second": collator.real_tokens / seconds, "pad_fraction": collator.pad_fraction,
        "supervised_tokens": collator.supervised_tokens,
        "padded_tokens": collator.total_tokens - collator.real_tokens,
        "peak_memory_mb": peak_memory_mb(), "n_examples": len(examples),
        "world_size": trainer.args.world_size,
    }


def _save(model, base: str, tok: PreTrainedTokenizerBase, cfg: TrainConfig, out: Path) -> None:
    """A standalone model for generation. QLoRA's adapter is merged into the base reloaded
    in full precision (merging into 4-bit weights would lose the adapter's precision)."""
    if cfg.method != "full":
        model.save_pretrained(out / "adapter")
        _sort_target_modules(out / "adapter" / "adapter_config.json")
        if cfg.method == "qlora":
            from peft import PeftModel

            model = PeftModel.from_pretrained(load_model(base, _dtype(cfg)), out / "adapter")
        model = model.merge_and_unload()
    model.config.use_cache = True  # generation wants the KV cache back
    model.save_pretrained(out)
    tok.save_pretrained(out)


def _sort_target_modules(path: Path) -> None:
    """PEFT writes target_modules from a set, in hash-seed order: sort it so the same run
    gives the same bytes (and DVC the same hash)."""
    config = read_json(path)
    if isinstance(config.get("target_modules"), list):
        config["target_modules"] = sorted(config["target_modules"])
    write_json(path, config)


def peak_memory_mb() -> float:
    """Peak GPU memory if on a GPU, else the process's peak resident set size."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
