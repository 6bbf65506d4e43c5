"""params.yaml for a stage test with a tiny model as the scorer."""

from __future__ import annotations

from pathlib import Path

TINY_SCORER = {"ifd.template": "", "ifd.dtype": "float32"}


def tiny_scorer(params: Path) -> None:
    """Set the scorer in `params` as a tiny test model needs it: the training template (tiny
    tokenizers have no chat template) and fp32 (tests compare exactly, and `auto` is bf16 on a
    CPU with AVX512-BF16). Merged the way profiles are (DVC's override code, comments kept)."""
    from dvc.utils.hydra import apply_overrides

    from codesift.profiles import override

    apply_overrides(str(params), [override(k, v) for k, v in TINY_SCORER.items()])
