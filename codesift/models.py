"""Load or materialise a base model and tokenizer; build the bootstrap tiny model.

`model.name: bootstrap` trains a byte-level BPE tokenizer and pretrains a tiny
LLaMA on committed code, so the whole pipeline runs offline on a laptop CPU.
Any other name goes through the real `from_pretrained` path.
"""

from __future__ import annotations

import logging
import os
import re
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


def load_tokenizer(name: str, revision: str = "main") -> PreTrainedTokenizerBase:
    try:
        tok = AutoTokenizer.from_pretrained(name, revision=revision)
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
    try:
        model = AutoModelForCausalLM.from_pretrained(
            name, revision=revision, dtype=torch_dtype(dtype),
            attn_implementation=attn_implementation)
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
    """Copy a hub or local model (weights + tokenizer) into `out` in HF format."""
    tok = load_tokenizer(name, revision)
    model = load_model(name, dtype, revision)
    model.save_pretrained(out)
    save_tokenizer(tok, out)


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
