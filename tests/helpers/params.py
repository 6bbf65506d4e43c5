"""params.yaml for a stage test with a tiny model as the scorer."""

from __future__ import annotations


def tiny_scorer(text: str) -> str:
    """params.yaml's text with the scorer set as a tiny test model needs it: the training
    template (tiny tokenizers have no chat template) and fp32 (tests compare exactly, and
    `auto` is bf16 on a CPU with AVX512-BF16)."""
    for old, new in (("  template: chat ", '  template: "" '),
                     ("  dtype: auto                 # auto (bf16 on a GPU",
                      "  dtype: float32              # auto (bf16 on a GPU")):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text
