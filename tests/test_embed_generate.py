import numpy as np
import pytest

from codesift.embedding import embed
from codesift.evaluation.benchmarks import load
from codesift.evaluation.generation import build_prompt, generate_hf, truncate

TEMPLATE = "### Instruction:\n{instruction}\n\n### Response:\n"


def test_minilm_embeddings_offline_normalised_in_input_order(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    texts = ["Reverse a string.", "Sort a list of numbers in place.", "Reverse a string."]
    vecs = embed(texts, progress=False)
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-5)
    assert np.allclose(vecs[0], vecs[2], atol=1e-5)
    assert vecs[0] @ vecs[1] < 0.9


def test_truncate_at_top_level_stop_only():
    body = "    x = 1\n    def inner():\n        pass\n    return x\n"
    assert truncate(body + "\ndef other():\n    pass") == body
    assert truncate(body + "\n# trailing") == body
    assert truncate(body) == body


def test_prompts_follow_evalplus():
    task = load("humaneval")[0]
    p = build_prompt(task, "instruct", TEMPLATE)  # template + evalplus's instruction
    assert p.startswith("### Instruction:\nPlease provide a self-contained Python script")
    assert f"```\n{task['prompt'].strip()}\n```" in p and p.endswith("\n```python\n")
    assert build_prompt(task, "base", TEMPLATE) == task["prompt"].strip() + "\n"


def test_batched_left_padded_greedy_equals_one_at_a_time(tiny):
    model, tok = tiny
    prompts = [build_prompt(t, "instruct", TEMPLATE) for t in load("humaneval")[:4]]
    batched = generate_hf(model, tok, prompts, max_new_tokens=12, batch_size=4)
    single = [generate_hf(model, tok, [p], max_new_tokens=12, batch_size=1)[0] for p in prompts]
    assert batched == single
    assert all(len(c) == 1 for c in batched)


def test_sampling_is_seeded(tiny):
    model, tok = tiny
    prompts = [build_prompt(load("humaneval")[0], "base", TEMPLATE)]
    a = generate_hf(model, tok, prompts, 10, n_samples=3, temperature=1.0, seed=3)
    b = generate_hf(model, tok, prompts, 10, n_samples=3, temperature=1.0, seed=3)
    assert a == b and len(a[0]) == 3


def test_vllm_backend_without_vllm_is_a_clear_error(tiny):
    pytest.importorskip("torch")
    from codesift import CodesiftError
    from codesift.evaluation.generation import generate_vllm

    try:
        import vllm  # noqa: F401
        pytest.skip("vllm installed")
    except ImportError:
        pass
    with pytest.raises(CodesiftError, match="vllm is not installed"):
        generate_vllm("m", tiny[1], ["x"], 4)
