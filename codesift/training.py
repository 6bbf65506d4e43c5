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
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import (
    EarlyStoppingCallback,
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
from codesift.data.record import turns
from codesift.io import read_json, write_json
from codesift.models import load_model, save_tokenizer, torch_dtype
from codesift.packing import PAD_MODES, pack_rows
from codesift.templates import Template, encode_turns


def build_examples(records: list[dict], tok: PreTrainedTokenizerBase, template: Template,
                   max_len: int, tasks: list[str] | None = None
                   ) -> tuple[list[dict], dict[str, int]]:
    """Tokenise with the shared template; count (never silently drop) what can't be used,
    by reason. With `tasks` (the run's task names), each example carries its task's index."""
    examples, skipped = [], {}
    for r in records:
        enc = encode_turns(tok, template, turns(r), max_len)
        if enc.error:
            skipped[enc.reason] = skipped.get(enc.reason, 0) + 1
            continue
        ex = {"input_ids": enc.input_ids, "labels": enc.labels()}
        if tasks is not None:
            ex["task"] = tasks.index(r.get("task", DEFAULT_TASK))
        examples.append(ex)
    return examples, skipped


DEFAULT_TASK = "default"


def task_names(records: list[dict]) -> list[str]:
    """The tasks of a multi-task run, sorted (one task: no per-task bookkeeping)."""
    return sorted({r.get("task", DEFAULT_TASK) for r in records})


def hold_out(examples: list[dict], share: float, seed: int) -> tuple[list[dict], list[dict]]:
    """(train, valid): a seeded `share` of the examples set aside (at least one)."""
    import random

    idx = set(random.Random(seed).sample(range(len(examples)),
                                         max(1, round(share * len(examples)))))
    return ([e for i, e in enumerate(examples) if i not in idx],
            [e for i, e in enumerate(examples) if i in idx])


@dataclass
class TrainingData:
    """What training reads: examples, validation examples, skips, tasks, added tokens."""

    examples: list[dict]
    valid: list[dict] | None
    skipped: dict[str, int]
    tasks: list[str] | None
    new_tokens: list[int]


def training_data(records: list[dict], valid_records: list[dict], tok: PreTrainedTokenizerBase,
                  template: Template | None, cfg: TrainConfig) -> TrainingData:
    """Instruction examples through `template` (objective sft), or FIM examples of raw code
    (fim: sentinel tokens added to `tok` where it lacks them); without validation records but
    with `eval_ratio`, a seeded share of the examples is held out for the validation loss."""
    from codesift.fim import fim_examples, sentinels

    if cfg.objective == "fim":
        marks, added = sentinels(tok, cfg.fim_tokens)

        def make(recs: list[dict], seed: int) -> list[dict]:
            return fim_examples([r["text"] for r in recs], tok, cfg.max_seq_len, cfg.fim_rate,
                                cfg.fim_spm_rate, seed, marks)

        data = TrainingData(make(records, cfg.seed), make(valid_records, cfg.seed + 1), {},
                            None, added)
    else:
        if template is None:
            raise CodesiftError("train.objective sft needs a prompt template")
        tasks = task_names(records) if any("task" in r for r in records) else None
        examples, skipped = build_examples(records, tok, template, cfg.max_seq_len, tasks)
        valid = build_examples(valid_records, tok, template, cfg.max_seq_len, tasks)[0]
        data = TrainingData(examples, valid, skipped, tasks, [])
    if cfg.eval_steps and not data.valid and cfg.eval_ratio:
        data.examples, data.valid = hold_out(data.examples, cfg.eval_ratio, cfg.seed)
    return data


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
            batch = pack_rows(seqs, labels, [list(range(len(seqs)))], self.pad_id)
        else:
            batch = spec.layout(seqs, labels, self.pad_id, self.max_seq_len, groups)
        if "task" in features[0]:  # each token's task (-1: padding), for the per-task loss
            task_of = torch.tensor([f["task"] for f in features] + [-1])
            batch["task_ids"] = task_of[batch["segment_ids"]]
        return batch


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


def token_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-token NLL of next-token prediction (0 where the label is -100), shape of labels."""
    shifted = labels[:, 1:]
    nll = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), shifted.flatten(),
                          ignore_index=-100, reduction="none")
    return F.pad(nll.view_as(shifted), (1, 0))


def task_balanced_loss(nll: torch.Tensor, labels: torch.Tensor,
                       task_ids: torch.Tensor) -> torch.Tensor:
    """MFTCoder's weighted loss (`case3`, equal task weights): the mean over the tasks present
    in the batch of each task's token-mean loss, so a large task cannot drown a small one."""
    scored = torch.zeros_like(labels, dtype=torch.bool)
    scored[:, 1:] = labels[:, 1:] != -100
    means = [nll[scored & (task_ids == t)].mean() for t in torch.unique(task_ids[scored])]
    return torch.stack(means).mean()


class CountingTrainer(Trainer):
    """Counts tokens from each batch's tensors and sums per-step losses into `RunTotals`,
    adds tokens/s (and each task's loss, in multi-task runs) to each log line, kept in the
    log history so resumes keep them. `loss`: token_mean (Trainer's) or task_balanced."""

    def __init__(self, *args, loss: str = "token_mean", tasks: list[str] | None = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.loss_mode, self.tasks = loss, tasks
        self._task_sums = torch.zeros(len(tasks or []), 2, dtype=torch.float64)
        if tasks is not None:  # our own loss: a per-batch mean needs Trainer's 1/accumulation
            self.loss_is_scaled_for_ga = loss == "token_mean"

    def train(self, *args, **kwargs):
        self.started = time.perf_counter()  # the first log's tokens/s counts from here
        return super().train(*args, **kwargs)

    def totals(self) -> RunTotals:  # a resume replaces the callback object: look it up
        return next(c for c in self.callback_handler.callbacks if isinstance(c, RunTotals))

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        seg = inputs.pop("segment_ids")
        task_ids = inputs.pop("task_ids", None)
        if model.training:
            t = self.totals()
            t.real_tokens += int((seg >= 0).sum())
            t.total_tokens += seg.numel()
            t.supervised_tokens += int((inputs["labels"] != -100).sum())
        if task_ids is None:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        return self._multi_task_loss(model, inputs, task_ids, return_outputs, num_items_in_batch)

    def _multi_task_loss(self, model, inputs, task_ids, return_outputs, num_items_in_batch):
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        nll = token_nll(outputs.logits, labels)
        if self.loss_mode == "task_balanced":
            loss = task_balanced_loss(nll, labels, task_ids)
        elif num_items_in_batch is None:
            loss = nll.sum() / (labels[:, 1:] != -100).sum()
        else:  # the token mean over the accumulation window, as Trainer's own loss (which
            loss = nll.sum() / num_items_in_batch  # undoes DDP's averaging the same way)
            if self.args.average_tokens_across_devices:
                loss = loss * self.accelerator.num_processes
        if model.training:
            with torch.no_grad():
                for k in range(len(self.tasks)):
                    on = (task_ids == k) & F.pad(labels[:, 1:] != -100, (1, 0))
                    self._task_sums[k] += torch.stack([nll[on].sum(), on.sum()]).double().cpu()
        return (loss, outputs) if return_outputs else loss

    def training_step(self, model, inputs, num_items_in_batch=None):
        loss = super().training_step(model, inputs, num_items_in_batch)
        self.totals().loss_sum += float(loss)  # micro-batch losses sum to the step's loss
        return loss

    def log(self, logs: dict, start_time: float | None = None) -> None:
        if "loss" in logs:
            now, tokens = time.perf_counter(), self.totals().real_tokens
            last = getattr(self, "_last_log", (self.started, 0))
            logs["tokens_per_second"] = (tokens - last[1]) / max(now - last[0], 1e-9)
            self._last_log = (now, tokens)
            for name, (total, count) in zip(self.tasks or [], self._task_sums.tolist(),
                                            strict=True):
                if count:
                    logs[f"loss_{name}"] = total / count  # token mean since the last log
            self._task_sums.zero_()
        super().log(logs, start_time)


def _dtype(cfg: TrainConfig) -> str:
    return "bfloat16" if cfg.bf16 else "float32"


def prepare_model(base: str, cfg: TrainConfig, attn: str = "sdpa", vocab: int | None = None,
                  new_tokens: list[int] | None = None):
    """Load the base model for `full`, `lora` or `qlora` training. Tokens added to the
    tokenizer (`new_tokens`, FIM sentinels) get embeddings (resized to `vocab`), which LoRA
    trains too (PEFT's trainable_token_indices)."""
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
    if vocab and vocab > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(vocab)
    if cfg.method == "full":
        return model
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                      target_modules=cfg.lora.target_modules, task_type="CAUSAL_LM",
                      trainable_token_indices=new_tokens or None)
    return get_peft_model(model, lora)


def training_args(cfg: TrainConfig, checkpoints: Path) -> TrainingArguments:
    """Checkpoints every `save_steps` into a persistent dir, so a killed run resumes. With
    `eval_steps`, the validation loss is computed (and a checkpoint saved) every eval_steps,
    and the best checkpoint by that loss is the model kept at the end."""
    every = cfg.eval_steps or cfg.save_steps
    return TrainingArguments(
        output_dir=str(checkpoints), num_train_epochs=cfg.epochs, max_steps=cfg.max_steps,
        learning_rate=cfg.lr, lr_scheduler_type=cfg.lr_scheduler, warmup_steps=cfg.warmup_steps,
        per_device_train_batch_size=cfg.batch_size, per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum, weight_decay=cfg.weight_decay,
        bf16=cfg.bf16, logging_steps=cfg.logging_steps,
        save_strategy="steps" if every > 0 else "no", save_steps=max(every, 1),
        eval_strategy="steps" if cfg.eval_steps else "no", eval_steps=cfg.eval_steps or None,
        load_best_model_at_end=bool(cfg.eval_steps), metric_for_best_model="eval_loss",
        greater_is_better=False, save_total_limit=2, report_to="none", seed=cfg.seed,
        data_seed=cfg.seed, remove_unused_columns=False, dataloader_num_workers=0,
        restore_callback_states_from_checkpoint=True, use_cpu=not torch.cuda.is_available())


@dataclass
class TrainRun:
    metrics: dict  # metrics/train.json
    history: list[dict]  # the Trainer's log lines with a loss, the whole run


def train(base: str, examples: list[dict], tok: PreTrainedTokenizerBase, cfg: TrainConfig,
          out: Path | None, checkpoints: Path, callbacks: list | None = None,
          attn: str = "sdpa", tasks: list[str] | None = None,
          valid: list[dict] | None = None, new_tokens: list[int] | None = None) -> TrainRun:
    """Fine-tune (resuming from the newest checkpoint in `checkpoints` if any) and save a
    standalone model in `out` (LoRA merged; adapter in out/adapter). `tasks`: the task names
    of a multi-task run (examples carry task indices). `valid`: examples for the validation
    loss every `cfg.eval_steps`. `new_tokens`: ids added to `tok` (they get embeddings).
    Token counts are this process's own (per rank under DDP)."""
    set_seed(cfg.seed)  # LoRA's A matrices are drawn here, before the Trainer seeds anything
    model = prepare_model(base, cfg, attn, len(tok), new_tokens)
    collator = Collator(cfg.pad_mode, tok.pad_token_id, cfg.max_seq_len,
                        flatten="flash" in attn and PAD_MODES[cfg.pad_mode].packed)
    if cfg.eval_steps and not valid:
        raise CodesiftError("train.eval_steps needs validation examples (data.valid_size or "
                            "train.eval_ratio)")
    stop = [EarlyStoppingCallback(cfg.early_stopping_patience)] \
        if cfg.early_stopping_patience else []
    trainer = CountingTrainer(
        model=model, args=training_args(cfg, checkpoints),
        train_dataset=dataset_items(examples, cfg.pad_mode, cfg.max_seq_len),
        eval_dataset=dataset_items(valid, cfg.pad_mode, cfg.max_seq_len) if valid else None,
        data_collator=collator, callbacks=[RunTotals(), *stop, *(callbacks or [])],
        loss=cfg.loss, tasks=tasks)
    resume = get_last_checkpoint(str(checkpoints)) if checkpoints.exists() else None
    start = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - start
    final = checkpoints / "final"
    trainer.save_model(str(final))  # on every rank: ZeRO-3 and FSDP gather the weights here
    if out is not None and trainer.is_world_process_zero():
        _save(final, base, tok, cfg, out)
    history = [h for h in trainer.state.log_history if "loss" in h or "eval_loss" in h]
    return TrainRun(_metrics(trainer, result, seconds, resume, len(examples), history), history)


def _metrics(trainer: CountingTrainer, result, seconds: float, resume: str | None,
             n_examples: int, history: list[dict]) -> dict:
    t, state = trainer.totals(), trainer.state
    losses = [h["loss"] for h in history if "loss" in h]
    return {
        "train_loss": t.loss_sum / max(state.global_step, 1), "steps": result.global_step,
        "final_loss": losses[-1] if losses else None,
        "best_step": state.best_global_step, "best_eval_loss": state.best_metric,
        "epochs_trained": state.epoch, "train_seconds": seconds,
        "resumed_from_step": int(Path(resume).name.split("-")[-1]) if resume else None,
        "tokens_per_second": t.real_tokens / seconds,
        "pad_fraction": 1 - t.real_tokens / t.total_tokens if t.total_tokens else 0.0,
        "supervised_tokens": t.supervised_tokens, "padded_tokens": t.total_tokens - t.real_tokens,
        "peak_memory_mb": peak_memory_mb(), "n_examples": n_examples,
        "world_size": trainer.args.world_size,
    }


def _save(saved: Path, base: str, tok: PreTrainedTokenizerBase, cfg: TrainConfig,
          out: Path) -> None:
    """A standalone model for generation, from what `Trainer.save_model` wrote (it gathers
    sharded weights under ZeRO-3 and FSDP, which the model object alone cannot). A LoRA or
    QLoRA adapter is merged into the base reloaded in full precision (merging into 4-bit
    weights would lose the adapter's precision)."""
    from transformers import AutoModelForCausalLM

    if cfg.method == "full":
        model = AutoModelForCausalLM.from_pretrained(saved, dtype="auto")
    else:
        from peft import PeftModel

        (out / "adapter").mkdir(parents=True)
        for name in ("adapter_config.json", "adapter_model.safetensors"):
            shutil.copy(saved / name, out / "adapter" / name)  # not training_args.bin: paths
        _sort_target_modules(out / "adapter" / "adapter_config.json")
        model = load_model(base, _dtype(cfg))
        if len(tok) > model.get_input_embeddings().num_embeddings:  # FIM sentinels added
            model.resize_token_embeddings(len(tok))
        model = PeftModel.from_pretrained(model, out / "adapter").merge_and_unload()
    model.config.use_cache = True  # generation wants the KV cache back
    model.save_pretrained(out)
    save_tokenizer(tok, out)


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
