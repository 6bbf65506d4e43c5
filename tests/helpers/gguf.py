"""Tiny GGUF files written here, so GGUF loading is tested with no network and no packaged model.

`reference()` is a seeded random LLaMA and a byte-level BPE tokenizer in plain HF form;
`write_tiny_gguf` writes them the way llama.cpp's converter lays them out (the metadata keys
and tensor names transformers' GGUF loader reads), so a test can compare the loaded model's
logits with the reference's.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import torch
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFWriter, TokenType
from gguf.quants import quantize
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

ROOT = Path(__file__).resolve().parents[2]
CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + "
          "message['content'] + '<|im_end|>\n' }}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
# ggml types gguf 0.19 knows the block size of but cannot dequantise: a file gguf reads, and
# transformers fails on only once it unpacks the weights
UNDEQUANTISABLE = ("Q8_1", "Q8_K")
SHAPE = {"hidden": 64, "intermediate": 128, "layers": 2, "heads": 4, "kv_heads": 2, "vocab": 300}


def reference(tie: bool = True) -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast]:
    """The model and tokenizer every tiny GGUF is written from (the same each call: seeded).
    Tied embeddings by default, as in SmolLM2, whose GGUF has no `output.weight`."""
    return _reference(tie)  # one cache entry per value, however it was passed


@functools.cache
def _reference(tie: bool) -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast]:
    from codesift.io import read_jsonl
    from codesift.models import train_tokenizer

    records = read_jsonl(ROOT / "data/sample/train.jsonl")[:200]
    tok = train_tokenizer([r["instruction"] + "\n" + r["response"] for r in records],
                          vocab_size=SHAPE["vocab"])
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tok), hidden_size=SHAPE["hidden"], intermediate_size=SHAPE["intermediate"],
        num_hidden_layers=SHAPE["layers"], num_attention_heads=SHAPE["heads"],
        num_key_value_heads=SHAPE["kv_heads"], max_position_embeddings=512,
        # weights 5x HF's default scale: attention far from uniform, so a q/k row order wrong
        # moves the logits by most of their range, not by less than Q8_0's rounding does
        initializer_range=0.1,
        tie_word_embeddings=tie, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id))
    # a fresh LLaMA has unit norms; random ones catch a norm written to the wrong tensor
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
    return model.eval(), tok


def roundtripped(quant: str, tie: bool = True) -> LlamaForCausalLM:
    """`reference(tie)` with each 2-D weight stored as `quant` and read back by gguf itself:
    the model a correct loader must reproduce exactly, whatever the quantisation lost."""
    import copy

    from gguf.quants import dequantize

    model = copy.deepcopy(reference(tie)[0])
    qtype = GGMLQuantizationType[quant]
    with torch.no_grad():
        for p in model.parameters():  # tied weights are one parameter, so rounded once
            if p.ndim == 2:
                w = p.numpy()
                if quant == "F32":
                    back = w
                elif quant == "F16":
                    back = w.astype(np.float16)
                else:
                    back = dequantize(quantize(w, qtype), qtype)
                p.copy_(torch.from_numpy(np.asarray(back, dtype=np.float32)))
    return model


def write_tiny_gguf(path: Path, *, quant: str = "F32", chat_template: bool = True,
                    arch: str = "llama", tie: bool = True) -> Path:
    """Write `reference(tie)` to `path` as GGUF. `quant` is the type of the 2-D weights (norms
    stay F32, as llama.cpp keeps them): F32, F16, Q8_0, or one of UNDEQUANTISABLE (the bytes are
    noise then: no loader gets as far as reading them). `arch` names the architecture in the
    metadata, so an unsupported one can be written."""
    model, tok = reference(tie)
    cfg = model.config
    w = GGUFWriter(str(path), arch)
    w.add_name("tiny-llama")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    w.add_rope_freq_base(float(cfg.rope_parameters["rope_theta"]))
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_vocab_size(cfg.vocab_size)
    _add_tokenizer(w, tok, chat_template)
    for name, tensor in _gguf_tensors(model):
        _add_tensor(w, name, tensor, quant)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return Path(path)


def _add_tokenizer(w: GGUFWriter, tok: PreTrainedTokenizerFast, chat_template: bool) -> None:
    """The tokenizer as llama.cpp stores a byte-level BPE ("gpt2"): tokens in id order, merges
    as "a b" strings, special tokens marked CONTROL."""
    vocab = tok.backend_tokenizer.get_vocab(with_added_tokens=True)
    tokens = sorted(vocab, key=vocab.get)
    assert [vocab[t] for t in tokens] == list(range(len(tokens))), "vocabulary ids have gaps"
    special = set(tok.all_special_tokens)
    merges = json.loads(tok.backend_tokenizer.to_str())["model"]["merges"]
    w.add_tokenizer_model("gpt2")
    w.add_token_list(tokens)
    w.add_token_types([TokenType.CONTROL if t in special else TokenType.NORMAL for t in tokens])
    w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
    w.add_bos_token_id(tok.bos_token_id)
    w.add_eos_token_id(tok.eos_token_id)
    w.add_pad_token_id(tok.pad_token_id)
    if chat_template:
        w.add_chat_template(CHATML)


def _gguf_tensors(model: LlamaForCausalLM):
    """(GGUF name, float32 array) in llama.cpp's naming; q/k rows permuted the llama.cpp way."""
    cfg = model.config
    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    yield "token_embd.weight", sd["model.embed_tokens.weight"]
    yield "output_norm.weight", sd["model.norm.weight"]
    if not cfg.tie_word_embeddings:
        yield "output.weight", sd["lm_head.weight"]
    parts = {"input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
             "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
             "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
             "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    for i in range(cfg.num_hidden_layers):
        for hf, gg in parts.items():
            t = sd[f"model.layers.{i}.{hf}.weight"]
            if gg == "attn_q":
                t = _rope_permute(t, cfg.num_attention_heads)
            elif gg == "attn_k":
                t = _rope_permute(t, cfg.num_key_value_heads)
            yield f"blk.{i}.{gg}.weight", t


def _rope_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """HF rotates a head's two halves; llama.cpp interleaves them as (even, odd) pairs. Rows of
    each head go from [half0 | half1] to pairs, which the loader's `_reverse_permute_weights`
    undoes. Hand-written: it is the file format's definition, no library exports it."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]) \
        .swapaxes(1, 2).reshape(w.shape)


def _add_tensor(w: GGUFWriter, name: str, t: np.ndarray, quant: str) -> None:
    qtype = GGMLQuantizationType[quant]
    if t.ndim == 1 or qtype == GGMLQuantizationType.F32:
        w.add_tensor(name, np.ascontiguousarray(t, dtype=np.float32))
    elif qtype == GGMLQuantizationType.F16:
        w.add_tensor(name, t.astype(np.float16))
    elif quant in UNDEQUANTISABLE:
        block, nbytes = GGML_QUANT_SIZES[qtype]
        shape = (t.shape[0], t.shape[1] // block * nbytes)
        noise = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
        w.add_tensor(name, noise, raw_dtype=qtype)
    else:
        w.add_tensor(name, quantize(t, qtype), raw_dtype=qtype)
