"""Shared fixtures: a tiny real tokenizer and LLaMA built in seconds, and sample records."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:  # `make test`'s workers share the cores: torch's
    # OpenMP pool in each (and in the stages they start) would otherwise take all of them, and
    # two oversubscribed pools spin against each other
    workers = int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))


@pytest.fixture(scope="session")
def sample_records() -> list[dict]:
    from codesift.io import read_jsonl

    return read_jsonl(ROOT / "data/sample/train.jsonl")


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory, sample_records) -> Path:
    """A real byte-level BPE tokenizer and a randomly initialised 2-layer LLaMA, saved."""
    return make_tiny(tmp_path_factory.mktemp("tiny"), sample_records)


def make_tiny(out: Path, sample_records: list[dict]) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from codesift.models import train_tokenizer

    texts = [r["instruction"] + "\n" + r["response"] for r in sample_records[:400]]
    tok = train_tokenizer(texts, vocab_size=400)
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id))
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def ci_run(tmp_path_factory):
    """One `dvc repro` of configs/ci.yaml for the whole session (slow tests copy it)."""
    from tests.helpers.dvc import first_run

    return first_run(tmp_path_factory.mktemp("ci_run"))


@pytest.fixture(scope="session")
def template():
    """The default prompt format, from the repository's templates folder."""
    from codesift.templates import load_template

    return load_template(ROOT / "templates", "alpaca")


@pytest.fixture(scope="session")
def tiny(tiny_dir):
    from codesift.models import load_model, load_tokenizer

    return load_model(str(tiny_dir), "float32"), load_tokenizer(str(tiny_dir))
