"""Fine-tuning: HF Trainer with PEFT and the pad modes of `packing.PAD_MODES`.

Every pad mode but `bfd` sees the same samples per optimizer step (the DataLoader draws
them); they differ only in layout. The loss is the token mean over the whole accumulation
window (Trainer's `num_items_in_batch`), so the modes optimise the same objective.

Run totals (tokens, loss) are counted from the batch tensors in `compute_loss` and kept in a
stateful callback that checkpoints carry, so a run resumed after `kill -9` reports the whole
run, as does its loss curve (rebuilt from the checkpointed log history).
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
from transformers.trainer_callback import ExportableState
from transformers.trainer_utils import get_last_checkpoint

from codesift import CodesiftError
from codesift.config import TrainConfig
from codesift.io import read_json, write_json
from codesift.models import load_model, torch_dtype
from codesift.packing import PAD_MODES, pack_rows
from codesift.templates import Template, encode_turns, record_turns


def build_examples(records: list[dict], tok: PreTrainedTokenizerBase, template: Template,
                   max_len: int) -> tuple[list[dict], dict[str, int]]:
    """Tokenise with the shared template; count (never silently drop) what can't be used,
    by reason."""
    examples, skipped = [], {}
    for r in records:
        enc = encode_turns(tok, template, record_turns(r), max_len)
        if enc.error:
            skipped[enc.reason] = skipped.get(enc.reason, 0) + 1
            continue
        examples.append({"input_ids": enc.input_ids, "labels": enc.labels()})
    return examples, skipped


def dataset_items(examples: list[dict], mode: str, max_seq_len: int) -> list[dict]:
    """What the DataLoader draws: one example each, or (`bfd`) one pre-packed bin each,
    which changes the number of steps."""
    bins = PAD_MODES[mode].bins
    if bins is None:
        return examples
    groups = bins([len(e["input_ids"]) for e in examples], max_seq_len)
    return [{"members": [examples[i] for i in g]} for g in groups]


@dataclass(frozen=True)
class Collator:
    """Lays out a batch by its pad mode's layout; stateless, so DataLoader workers may run it.

    Hand-written around `packing.py` because DataCollatorWithFlattening only makes a single
    flattened row, which on CPU SDPA costs attention quadratic in the batch. With `flatten`
    (flash-attn on a GPU) a packed batch is that one padding-free row, the layout the varlen
    path reads from position_ids. `segment_ids` (-1 = padding) ride along for counting and
    are dropped before the forward pass.
    """

    mode: str
    pad_id: int
    max_seq_len: int
    flatten: bool = False

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        spec = PAD_MODES[self.mode]
        if spec.bins is not None:
            sizes = [len(f["members"]) for f in features]
            features = [m for f in features for m in f["members"]]
            starts = [sum(sizes[:i]) for i in range(len(sizes))]
            groups = [list(range(a, a + n)) for a, n in zip(starts, sizes, strict=True)]
        else:
            groups = [[i] for i in range(len(features))]
        seqs = [f["input_ids"] for f in features]
        labels = [f["labels"] for f in features]
        if self.flatten and spec.packed:
            return pack_rows(seqs, labels, [list(range(len(seqs)))], self.pad_id)
        return spec.layout(seqs, labels, self.pad_id, self.max_seq_len, groups)


def pad_fraction(batch: dict[str, torch.Tensor]) -> float:
    seg = batch["segment_ids"]
    return float((seg < 0).sum()) / seg.numel()


class RunTotals(TrainerCallback, ExportableState):
    """Totals of the whole run; checkpoints save them (Trainer's `stateful_callbacks`)."""

    def __init__(self, real_tokens: int = 0, total_tokens: int = 0, supervised_tokens: int = 0,
                 loss_sum: float = 0.0) -> None:
        self.real_tokens, self.total_tokens = real_tokens, total_tokens
        self.supervised_tokens, self.loss_sum = supervised_tokens, loss_sum

    def state(self) -> dict:
        return {"args": {"real_tokens": self.real_tokens, "total_tokens": self.total_tokens,
                         "supervised_tokens": self.supervised_tokens,
                         "loss_sum": float(self.loss_sum)}}


class CountingTrainer(Trainer):
    """Counts tokens from each batch's tensors and sums per-step losses into `RunTotals`,
    and adds tokens/s to each log line (kept in the log history, so resumes keep it)."""

    def totals(self) -> RunTotals:  # a resume replaces the callback object: look it up
        return next(c for c in self.callback_handler.callbacks if isinstance(c, RunTotals))

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        seg = inputs.pop("segment_ids")
        t = self.totals()
        t.real_tokens += int((seg >= 0).sum())
        t.total_tokens += seg.numel()
        t.supervised_tokens += int((inputs["labels"] != -100).sum())
        return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

    def training_step(self, model, inputs, num_items_in_batch=None):
        loss = super().training_step(model, inputs, num_items_in_batch)
        self.totals().loss_sum += float(loss)  # micro-batch losses sum to the step's loss
        return loss

    def log(self, logs: dict, start_time: float | None = None) -> None:
        if "loss" in logs:
            now, tokens = time.perf_counter(), self.totals().real_tokens
            last = getattr(self, "_last_log", (self._start, 0))
            logs["tokens_per_second"] = (tokens - last[1]) / max(now - last[0], 1e-9)
            self._last_log = (now, tokens)
        super().log(logs, start_time)


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
        restore_callback_states_from_checkpoint=True, use_cpu=not torch.cuda.is_available())


@dataclass
class TrainRun:
    metrics: dict  # metrics/train.json
    history: list[dict]  # the Trainer's log lines with a loss, the whole run


def train(base: str, examples: list[dict], tok: PreTrainedTokenizerBase, cfg: TrainConfig,
          out: Path | None, checkpoints: Path, callbacks: list | None = None,
          attn: str = "sdpa") -> TrainRun:
    """Fine-tune (resuming from the newest checkpoint in `checkpoints` if any) and save a
    standalone model in `out` (LoRA merged; adapter in out/adapter). Token counts are this
    process's own (per rank under DDP)."""
    set_seed(cfg.seed)  # LoRA's A matrices are drawn here, before the Trainer seeds anything
    model = prepare_model(base, cfg, attn)
    collator = Collator(cfg.pad_mode, tok.pad_token_id, cfg.max_seq_len,
                        flatten="flash" in attn and PAD_MODES[cfg.pad_mode].packed)
    trainer = CountingTrainer(model=model, args=training_args(cfg, checkpoints),
                              train_dataset=dataset_items(examples, cfg.pad_mode,
                                                          cfg.max_seq_len),
                              data_collator=collator, callbacks=[RunTotals(), *(callbacks or [])])
    resume = get_last_checkpoint(str(checkpoints)) if checkpoints.exists() else None
    trainer._start = start = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - start
    if out is not None and trainer.is_world_process_zero():
        _save(trainer.model, base, tok, cfg, out)
    history = [h for h in trainer.state.log_history if "loss" in h]
    return TrainRun(_metrics(trainer, result, seconds, resume, len(examples), history), history)


def _metrics(trainer: CountingTrainer, result, seconds: float, resume: str | None,
             n_examples: int, history: list[dict]) -> dict:
    t, state = trainer.totals(), trainer.state
    return {
        "train_loss": t.loss_sum / max(state.global_step, 1), "steps": result.global_step,
        "final_loss": history[-1]["loss"] if history else None,
        "epochs_trained": state.epoch, "train_seconds": seconds,
        "resumed_from_step": int(Path(resume).name.split("-")[-1]) if resume else None,
        "tokens_per_second": t.real_tokens / seconds,
        "pad_fraction": 1 - t.real_tokens / t.total_tokens if t.total_tokens else 0.0,
        "supervised_tokens": t.supervised_tokens, "padded_tokens": t.total_tokens - t.real_tokens,
        "peak_memory_mb": peak_memory_mb(), "n_examples": n_examples,
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
