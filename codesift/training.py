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
from transformers import PreTrainedTokenizerBase, Trainer, TrainingArguments

from codesift.config import TrainConfig
from codesift.models import load_model, torch_dtype
from codesift.packing import first_fit_decreasing, pack_rows, pad_rows
from codesift.templates import encode, prompt_text


def build_examples(records: list[dict], tok: PreTrainedTokenizerBase, template: str,
                   max_len: int) -> tuple[list[dict], dict[str, int]]:
    """Tokenise with the shared template; count (never silently drop) what can't be used."""
    examples, skipped = [], {}
    for r in records:
        enc = encode(tok, prompt_text(template, r["instruction"]), r["response"], max_len)
        if enc.error:
            skipped[enc.error] = skipped.get(enc.error, 0) + 1
            continue
        examples.append({"input_ids": enc.input_ids, "labels": enc.labels()})
    return examples, skipped


@dataclass
class Collator:
    """Lay out a batch as `pad` (to max_seq_len), `dynamic_pad` (to the longest) or
    `dynamic_pack` (rows of <= max_seq_len, positions restarting per sample, no mask).

    Hand-written because DataCollatorWithFlattening makes one row per batch, which on
    CPU SDPA costs attention quadratic in the batch; it also counts padding.
    """

    mode: str
    pad_id: int
    max_seq_len: int
    real_tokens: int = 0
    total_tokens: int = 0
    supervised_tokens: int = 0

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        seqs = [f["input_ids"] for f in features]
        labels = [f["labels"] for f in features]
        if self.mode == "dynamic_pack":
            bins = first_fit_decreasing([len(s) for s in seqs], self.max_seq_len)
            batch = pack_rows(seqs, labels, bins, self.pad_id)
            mask = batch.pop("segment_ids") >= 0
        else:
            width = self.max_seq_len if self.mode == "pad" else None
            batch = pad_rows(seqs, labels, self.pad_id, width)
            mask = batch.pop("segment_ids") >= 0
        self.real_tokens += int(mask.sum())
        self.total_tokens += mask.numel()
        self.supervised_tokens += int((batch["labels"] != -100).sum())
        return batch

    @property
    def pad_fraction(self) -> float:
        return 1 - self.real_tokens / self.total_tokens if self.total_tokens else 0.0


def prepare_model(base: str, cfg: TrainConfig):
    """Load the base model for `full`, `lora` or `qlora` training."""
    if cfg.method == "qlora":
        from transformers import AutoModelForCausalLM, BitsAndBytesConfig

        dtype = torch_dtype("bfloat16" if cfg.bf16 else "float32")
        quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                   bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=dtype,
                                   bnb_4bit_quant_storage=dtype)
        model = AutoModelForCausalLM.from_pretrained(base, quantization_config=quant, dtype=dtype)
    else:
        model = load_model(base, "bfloat16" if cfg.bf16 else "float32")
    model.config.use_cache = False  # a KV cache disables packed-sequence detection
    if cfg.method == "full":
        return model
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                      target_modules=cfg.lora.target_modules, task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


def training_args(cfg: TrainConfig, out: Path, seed: int) -> TrainingArguments:
    return TrainingArguments(
        output_dir=str(out), num_train_epochs=cfg.epochs, max_steps=cfg.max_steps,
        learning_rate=cfg.lr, lr_scheduler_type=cfg.lr_scheduler, warmup_steps=cfg.warmup_steps,
        per_device_train_batch_size=cfg.batch_size, gradient_accumulation_steps=cfg.grad_accum,
        weight_decay=cfg.weight_decay, bf16=cfg.bf16, logging_steps=cfg.logging_steps,
        save_strategy="no", report_to="none", seed=seed, data_seed=seed,
        remove_unused_columns=False, dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available())


def train(base: str, examples: list[dict], tok: PreTrainedTokenizerBase, cfg: TrainConfig,
          out: Path, work: Path, callbacks: list | None = None) -> dict:
    """Fine-tune and save a standalone model in `out` (LoRA merged; adapter in out/adapter)."""
    model = prepare_model(base, cfg)
    collator = Collator(cfg.pad_mode, tok.pad_token_id, cfg.max_seq_len)
    trainer = Trainer(model=model, args=training_args(cfg, work, cfg.seed),
                      train_dataset=examples, data_collator=collator, callbacks=callbacks)
    start = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - start
    _save(trainer.model, tok, cfg, out)
    return {
        "train_loss": result.training_loss, "train_seconds": seconds, "steps": result.global_step,
        "tokens_per_second": collator.real_tokens / seconds, "pad_fraction": collator.pad_fraction,
        "supervised_tokens": collator.supervised_tokens,
        "padded_tokens": collator.total_tokens - collator.real_tokens,
        "peak_memory_mb": peak_memory_mb(), "n_examples": len(examples),
    }


def _save(model, tok: PreTrainedTokenizerBase, cfg: TrainConfig, out: Path) -> None:
    if cfg.method != "full":
        model.save_pretrained(out / "adapter")
        model = model.merge_and_unload() if cfg.method == "lora" else model
    model.config.use_cache = True  # generation wants the KV cache back
    model.save_pretrained(out)
    tok.save_pretrained(out)


def peak_memory_mb() -> float:
    """Peak GPU memory if on a GPU, else the process's peak resident set size."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
