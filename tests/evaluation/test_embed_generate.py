import numpy as np
import pytest

from codesift.embedding import embed
from codesift.evaluation.benchmarks import load_benchmark
from codesift.evaluation.generation import generate_hf, heldout_prompt, truncate
from codesift.templates import load_template
from tests.conftest import ROOT

HUMANEVAL = load_benchmark("humaneval")
TEMPLATE = load_template(ROOT / "templates", "alpaca")  # "### Instruction:\n...### Response:\n"


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


def test_prompts_follow_evalplus(tiny):
    task, tok = HUMANEVAL.tasks[0], tiny[1]
    p = HUMANEVAL.prompt(task, "instruct", TEMPLATE, tok)  # template + evalplus's instruction
    assert p.startswith("### Instruction:\nPlease provide a self-contained Python script")
    assert f"```\n{task['prompt'].strip()}\n```" in p and p.endswith("\n```python\n")
    assert HUMANEVAL.prompt(task, "base", TEMPLATE, tok) == task["prompt"].strip() + "\n"
    stops = HUMANEVAL.stop_strings("instruct")
    assert stops[-1] == "\n```\n" and "\ndef " in HUMANEVAL.stop_strings("base")


def test_heldout_prompt_keeps_its_definition(tiny):
    task, tok = HUMANEVAL.tasks[0], tiny[1]
    want = ("### Instruction:\nComplete the following Python function.\n\n"
            f"{task['prompt'].strip()}\n\n### Response:\n{task['prompt']}")
    assert heldout_prompt(task, "instruct", TEMPLATE, tok) == want
    assert heldout_prompt(task, "base", TEMPLATE, tok) == task["prompt"]


def test_batched_left_padded_greedy_equals_one_at_a_time(tiny):
    model, tok = tiny
    prompts = [HUMANEVAL.prompt(t, "instruct", TEMPLATE, tok) for t in HUMANEVAL.tasks[:4]]
    batched = generate_hf(model, tok, prompts, max_new_tokens=12, batch_size=4)
    single = [generate_hf(model, tok, [p], max_new_tokens=12, batch_size=1)[0] for p in prompts]
    assert batched == single
    assert all(len(c) == 1 for c in batched)


def test_sampling_is_seeded(tiny):
    model, tok = tiny
    prompts = [HUMANEVAL.prompt(HUMANEVAL.tasks[0], "base", TEMPLATE, tok)]
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


def test_generate_then_evaluate_stages(tiny_dir, tmp_path):
    """The stages end to end on the tiny model: every path from arguments, the same bytes
    twice, metrics with timings, and a misspelt benchmark fails before any generation."""
    import argparse
    import json

    from codesift import CodesiftError
    from codesift.config import EvalConfig, Params
    from codesift.io import write_jsonl
    from stages import evaluate, generate

    params = Params(eval=EvalConfig(limit=2, max_new_tokens=8, batch_size=2))
    valid = tmp_path / "valid.jsonl"
    write_jsonl(valid, [{"instruction": "Add one.", "response": "def f(x):\n    return x + 1"}])
    out = {}
    for run in ("a", "b"):
        d = tmp_path / run
        gen = argparse.Namespace(model=str(tiny_dir), templates=str(ROOT / "templates"),
                                 valid=str(valid), samples=str(d / "samples"),
                                 heldout=str(d / "heldout.json"),
                                 metrics=str(d / "generate.json"))
        generate.main(gen, params)
        ev = argparse.Namespace(samples=gen.samples, heldout=gen.heldout, out=str(d / "eval"),
                                metrics=str(d / "eval.json"))
        evaluate.main(ev, params)
        out[run] = [(d / p).read_bytes() for p in ("samples/humaneval.jsonl",
                                                   "heldout.json", "eval/humaneval.jsonl")]
    assert out["a"] == out["b"]
    metrics = json.loads((tmp_path / "a/eval.json").read_text())
    assert metrics["humaneval"]["n_tasks"] == 2 and metrics["seconds"] >= 0
    assert "heldout_nll" in metrics and metrics["valid_loss"] > 0
    assert json.loads((tmp_path / "a/heldout.json").read_text())["n_valid"] == 1
    bad = Params(eval=EvalConfig(benchmarks=["humaneval", "humaneval_pluss"]))
    gen.samples = str(tmp_path / "c")
    with pytest.raises(CodesiftError, match="unknown benchmark 'humaneval_pluss'"):
        generate.main(gen, bad)
    assert not (tmp_path / "c").exists()


def test_generate_reports_the_validation_loss_of_raw_code_records(tiny_dir, tmp_path):
    """A FIM run's validation split holds documents ({id, text}), not instructions."""
    import argparse
    import json

    from codesift.config import EvalConfig, Params
    from codesift.io import write_jsonl
    from stages import generate

    valid = tmp_path / "valid.jsonl"
    write_jsonl(valid, [{"id": "d0", "text": "def f(x):\n    return x + 1\n", "source": "a"}])
    gen = argparse.Namespace(model=str(tiny_dir), templates=str(ROOT / "templates"),
                             valid=str(valid), samples=str(tmp_path / "samples"),
                             heldout=str(tmp_path / "heldout.json"),
                             metrics=str(tmp_path / "generate.json"))
    generate.main(gen, Params(eval=EvalConfig(limit=1, max_new_tokens=4, prompt_mode="base")))
    heldout = json.loads((tmp_path / "heldout.json").read_text())
    assert heldout["n_valid"] == 1 and heldout["valid_loss"] > 0

