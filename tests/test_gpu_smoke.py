"""scripts/gpu_smoke.{sh,py} on a CPU machine: the refusal, --help, the harness, and each
check's comparison logic with CPU stand-ins. Nothing here needs a GPU."""

from __future__ import annotations

import importlib.util
import json
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
SCRIPT = ROOT / "scripts" / "gpu_smoke.py"
WRAPPER = ROOT / "scripts" / "gpu_smoke.sh"
CHECK_NAMES = ["e2e_ci_bf16", "flash_vs_sdpa", "vllm_vs_hf", "deepspeed_zero3", "qlora_cuda"]


def _load():
    spec = importlib.util.spec_from_file_location("gpu_smoke", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


gs = _load()


HAS_SMI = shutil.which("nvidia-smi") is not None
needs_no_smi = pytest.mark.skipif(HAS_SMI, reason="this machine has nvidia-smi")
needs_cpu_torch = pytest.mark.skipif(torch.cuda.is_available(), reason="torch sees a GPU here")


def no_gpu_env(tmp_path: Path, fake_smi: bool = False) -> dict[str, str]:
    """This venv first on PATH and, if asked, a fake nvidia-smi that lists one GPU."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    if fake_smi:
        smi = bin_dir / "nvidia-smi"
        smi.write_text("#!/bin/sh\necho 'GPU 0: Fake GPU (UUID: GPU-0)'\n")
        smi.chmod(0o755)
    path = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]])
    return {**os.environ, "PATH": path, "PYTHON": sys.executable}


def run(*cmd, env: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


# --- refusing a CPU machine --------------------------------------------------------------

@needs_no_smi
def test_wrapper_exits_at_once_without_a_gpu(tmp_path):
    start = time.perf_counter()
    out = run("bash", WRAPPER, env=no_gpu_env(tmp_path))
    assert out.returncode == 2
    assert "no NVIDIA GPU" in out.stderr and out.stdout == ""
    assert time.perf_counter() - start < 2  # nothing installed, python not even started


@needs_no_smi
def test_wrapper_installs_nothing_without_a_gpu(tmp_path):
    out = run("bash", WRAPPER, env={**no_gpu_env(tmp_path), "GPU_SMOKE_INSTALL": "1"})
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.splitlines() == [
        "gpu_smoke: no NVIDIA GPU here (nvidia-smi is not on PATH): the GPU smoke test needs a "
        "CUDA machine"]


@needs_cpu_torch
def test_wrapper_then_asks_torch_for_cuda(tmp_path):
    out = run("bash", WRAPPER, env=no_gpu_env(tmp_path, fake_smi=True))
    assert out.returncode == 2
    assert "cannot use the GPU" in out.stderr and "CUDA build of torch" in out.stderr


@needs_no_smi
def test_script_refuses_before_importing_torch(tmp_path):
    probe = textwrap.dedent(f"""
        import runpy, sys
        sys.argv = [{str(SCRIPT)!r}]
        try:
            runpy.run_path({str(SCRIPT)!r}, run_name="__main__")
        except SystemExit as e:
            print(e.code, "torch" in sys.modules)
    """)
    out = run(sys.executable, "-c", probe, env=no_gpu_env(tmp_path))
    assert out.stdout.split() == ["2", "False"], out.stderr
    assert "no NVIDIA GPU" in out.stderr


@needs_cpu_torch
def test_script_refuses_a_cpu_build_of_torch(tmp_path):
    out = run(sys.executable, SCRIPT, env=no_gpu_env(tmp_path, fake_smi=True))
    assert out.returncode == 2 and "cannot use the GPU" in out.stderr


def test_help_lists_every_check_even_on_cpu(tmp_path):
    for cmd in ([sys.executable, SCRIPT, "--help"], ["bash", WRAPPER, "--help"]):
        out = run(*cmd, env=no_gpu_env(tmp_path))
        assert out.returncode == 0, out.stderr
        for name in CHECK_NAMES:
            assert name in out.stdout
        assert "--checks" in out.stdout and "--keep" in out.stdout


def test_unknown_check_is_a_usage_error(tmp_path):
    out = run(sys.executable, SCRIPT, "--checks", "e2e_ci_bf16,nope", env=no_gpu_env(tmp_path))
    assert out.returncode == 2 and "unknown check nope" in out.stderr


def test_registry_holds_the_five_checks_in_order():
    assert list(gs.CHECKS) == CHECK_NAMES
    assert all(check.doc for check in gs.CHECKS.values())


# --- the harness: registry, runners, summary ------------------------------------------------

@pytest.fixture
def fakes(monkeypatch):
    """Fake checks in the registry (monkeypatch removes them again)."""
    def good(ctx):
        """Always passes."""
        return {"ok": True, "answer": 42, "path": ctx.workdir}

    def bad(ctx):
        """Returns a failure."""
        return {"ok": False, "error": "no luck", "loss": float("nan")}

    def boom(ctx):
        """Raises."""
        raise ValueError("exploded")

    for name, fn in (("fake_good", good), ("fake_bad", bad), ("fake_boom", boom)):
        monkeypatch.setitem(gs.CHECKS, name, gs.Check(name, fn))


def test_run_checks_inline(fakes, tmp_path):
    summary = gs.run_checks(["fake_good", "fake_bad", "fake_boom"], gs.Ctx(tmp_path),
                            gs.run_inline)
    assert list(summary) == ["fake_good", "fake_bad", "fake_boom"]
    assert summary["fake_good"]["ok"] is True and summary["fake_good"]["answer"] == 42
    assert summary["fake_bad"] == {"ok": False, "seconds": summary["fake_bad"]["seconds"],
                                   "error": "no luck", "loss": summary["fake_bad"]["loss"]}
    assert summary["fake_boom"]["ok"] is False
    assert summary["fake_boom"]["error"] == "ValueError: exploded"
    assert all(isinstance(d["seconds"], float) for d in summary.values())
    line = json.loads(gs.summary_line(summary))  # strict JSON: NaN and paths made strings
    assert line["fake_bad"]["loss"] == "nan" and line["fake_good"]["path"] == str(tmp_path)
    assert gs.exit_code(summary) == 1
    assert gs.exit_code({"fake_good": summary["fake_good"]}) == 0
    assert gs.exit_code({}) == 1


def test_verdict_names_the_facts_that_fail():
    assert gs.verdict({"a": True, "b": True}, x=1) == {"ok": True, "a": True, "b": True, "x": 1}
    failed = gs.verdict({"a": True, "b": False, "c": False})
    assert failed["ok"] is False and failed["error"] == "not b, c"


def test_main_prints_the_summary_last_and_keeps_the_workdir(fakes, monkeypatch, capsys,
                                                             tmp_path):
    monkeypatch.setattr(gs, "gpu_problem", lambda: None)
    monkeypatch.setattr(gs, "gpu_names", lambda: "Fake GPU, 9.0, 80 GiB")
    code = gs.main(["--checks", "fake_good,fake_bad", "--inline", "--workdir", str(tmp_path)])
    out = capsys.readouterr()
    summary = json.loads(out.out.strip().splitlines()[-1])
    assert code == 1 and list(summary) == ["fake_good", "fake_bad"]
    assert summary["fake_good"]["ok"] and not summary["fake_bad"]["ok"]
    assert "[2/2] fake_bad: Returns a failure." in out.err and "FAILED: no luck" in out.err
    assert tmp_path.is_dir()


def test_main_removes_its_temp_dir_unless_kept(fakes, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(gs, "gpu_problem", lambda: None)
    monkeypatch.setattr(gs, "gpu_names", lambda: "Fake GPU")
    monkeypatch.setattr(gs.tempfile, "tempdir", str(tmp_path))
    assert gs.main(["--checks", "fake_good", "--inline"]) == 0
    made = Path(json.loads(capsys.readouterr().out.splitlines()[-1])["fake_good"]["path"])
    assert made.parent == tmp_path.resolve() and not made.exists()
    assert gs.main(["--checks", "fake_good", "--inline", "--keep"]) == 0
    out = capsys.readouterr()
    made = Path(json.loads(out.out.splitlines()[-1])["fake_good"]["path"])
    assert made.is_dir() and f"kept {made}" in out.err


CHILD = """
import importlib.util, os, sys, time
spec = importlib.util.spec_from_file_location("gpu_smoke", {script!r})
gs = importlib.util.module_from_spec(spec)
sys.modules["gpu_smoke"] = gs
spec.loader.exec_module(gs)

@gs.register("fake_good")
def good(ctx):
    print("working in", ctx.workdir)
    return {{"ok": True, "pid": os.getpid(), "gpus": ctx.gpus}}

@gs.register("fake_crash")
def crash(ctx):
    print("about to die")
    sys.stdout.flush()
    os._exit(3)

@gs.register("fake_hang")
def hang(ctx):
    time.sleep(120)

sys.exit(gs.main(sys.argv[1:]))
"""


def test_run_isolated_child_process_crash_and_timeout(monkeypatch, tmp_path):
    """Each check in its own process: its result comes back through a file, a crash or a
    hang (killed after the timeout) fails that check alone, with the log's tail."""
    script = tmp_path / "fake_smoke.py"
    script.write_text(CHILD.format(script=str(SCRIPT)))
    for name in ("fake_good", "fake_crash", "fake_hang"):
        monkeypatch.setitem(gs.CHECKS, name, gs.Check(name, lambda ctx: {}))
    ctx = gs.Ctx(tmp_path / "work", gpus=3, timeout=4,
                 command=[sys.executable, str(script)])
    start = time.perf_counter()
    summary = gs.run_checks(["fake_good", "fake_crash", "fake_hang"], ctx, gs.run_isolated)
    assert time.perf_counter() - start < 30
    good, crash, hang = summary.values()
    assert good["ok"] and good["gpus"] == 3 and good["pid"] != os.getpid()
    assert not crash["ok"] and "exited with code 3" in crash["error"]
    assert "about to die" in crash["log_tail"]
    assert not hang["ok"] and hang["error"] == "timed out after 4 s"
    assert "working in" in (tmp_path / "work/logs/fake_good.log").read_text()


# --- check 1: the repo copy and the verdict -------------------------------------------------

@pytest.fixture(scope="module")
def shared_workdir(tmp_path_factory) -> Path:
    """One work dir (and so one repo copy) for the tests that need the copy."""
    return tmp_path_factory.mktemp("gpu_smoke_work")


def test_repo_copy_merges_ci_and_bf16_and_passes_the_params_check(shared_workdir, tmp_path):
    import yaml

    ctx = gs.Ctx(shared_workdir)
    repo = gs.repo_copy(ctx)
    assert gs.repo_copy(ctx) == repo  # built once
    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert params["model"]["dtype"] == "bfloat16" and params["train"]["bf16"] is True
    ci = yaml.safe_load((ROOT / "configs/ci.yaml").read_text())
    assert params["data"]["limit"] == ci["data"]["limit"]
    assert params["train"]["max_steps"] == ci["train"]["max_steps"]
    assert params["train"]["lora"]["r"] == 16  # the rest kept
    assert not (repo / "dvc.lock").exists() and (repo / ".git").is_dir()
    launcher = "accelerate launch --config_file x.yaml --num_processes 1"
    deepspeed = gs.write_params(repo, tmp_path / "ds.yaml", {"train": {
        "method": "full", "max_steps": 2, "launcher": launcher}})
    for path in (repo / "params.yaml", deepspeed):
        out = subprocess.run([sys.executable, "-m", "codesift.config", "--check", "--params",
                              str(path)], cwd=repo, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
    assert yaml.safe_load(deepspeed.read_text())["train"]["launcher"] == launcher


def _fake_run(repo: Path, dtype: str = "bfloat16", peak: float = 12.5) -> None:
    (repo / "metrics").mkdir(parents=True)
    (repo / "models/finetuned").mkdir(parents=True)
    (repo / "metrics/train.json").write_text(json.dumps(
        {"train_loss": 4.2, "steps": 6, "peak_memory_mb": peak}))
    (repo / "metrics/eval.json").write_text(json.dumps(
        {"humaneval": {"pass@1": 0.0, "n_tasks": 6}, "heldout_nll": 3.1}))
    (repo / "models/finetuned/config.json").write_text(json.dumps({"dtype": dtype}))


def test_e2e_verdict(tmp_path):
    log = "Running stage 'prepare':\n...\nRunning stage 'train':\n"
    failed = gs.e2e_verdict(tmp_path, 1, log)
    assert failed["ok"] is False and "in stage train" in failed["error"]
    assert failed["stages_run"] == ["prepare", "train"]
    before = gs.e2e_verdict(tmp_path, 255, log + "ERROR: failed to reproduce 'select': [Errno 2]")
    assert "exited with 255 in stage select" in before["error"]  # failed before it ran
    _fake_run(tmp_path / "good")
    good = gs.e2e_verdict(tmp_path / "good", 0, log)
    assert good["ok"] and good["pass_at_1"] == 0.0 and good["heldout_nll"] == 3.1
    _fake_run(tmp_path / "fp32", dtype="float32", peak=0)
    bad = gs.e2e_verdict(tmp_path / "fp32", 0, log)
    assert not bad["ok"] and bad["error"] == "not finetuned_bfloat16, trained_on_gpu"


# --- check 2: the loss comparison, sdpa vs eager in fp32 as the stand-in for flash vs sdpa ----

def test_packed_vs_padded_sdpa_vs_eager_fp32(tiny_dir):
    from codesift.models import load_tokenizer

    tok = load_tokenizer(str(tiny_dir))
    examples = gs.tokenised_examples(tok, 8)
    result = gs.packed_vs_padded(str(tiny_dir), examples, tok.pad_token_id,
                                 packed_attn="sdpa", padded_attn="eager", dtype="float32",
                                 atol=1e-4, atol_mean=1e-5)
    assert result["ok"], result
    assert result["packed_shape"][0] == 1 and result["padded_shape"][0] == 8
    assert result["max_sample_diff"] < 1e-5 and result["n_samples"] == 8
    assert result["control_max_diff"] > 2e-4  # cross-attention would not pass unnoticed


def test_loss_verdict():
    ref = {"per_sample": [5.0, 4.0], "token_mean": 4.5, "model_loss": 4.5}
    leak = {"per_sample": [5.0, 4.2], "token_mean": 4.6, "model_loss": 4.6}
    assert gs.loss_verdict(ref, dict(ref), leak, 1e-2, 5e-3)["ok"]
    off = {"per_sample": [5.0, 4.02], "token_mean": 4.51, "model_loss": 4.51}
    bad = gs.loss_verdict(ref, off, leak, 1e-2, 5e-3)
    assert not bad["ok"] and bad["error"] == ("not samples_within_atol, "
                                              "token_mean_within_atol, model_loss_within_atol")
    blind = gs.loss_verdict(ref, dict(ref), dict(ref), 1e-2, 5e-3)
    assert not blind["ok"] and blind["error"] == "not sensitive"


def test_sample_losses_match_the_models_own_loss(tiny):
    from codesift.training import Collator

    model, tok = tiny
    examples = gs.tokenised_examples(tok, 4)
    batch = Collator("dynamic_pad", tok.pad_token_id, 256)([dict(e) for e in examples])
    losses = gs.sample_losses(model, batch)
    assert len(losses["per_sample"]) == 4
    assert losses["token_mean"] == pytest.approx(losses["model_loss"], rel=1e-5)
    one = Collator("dynamic_pad", tok.pad_token_id, 256)([dict(examples[2])])
    assert losses["per_sample"][2] == pytest.approx(gs.sample_losses(model, one)["model_loss"],
                                                    rel=1e-5)


# --- check 3: the generation comparison with fake generators --------------------------------

def test_greedy_agreement_equal_generators():
    tasks = gs.humaneval_tasks(5)
    assert [t["task_id"] for t in tasks] == [f"HumanEval/{i}" for i in range(5)]
    calls = []

    def gen(name):
        def generate(prompts):
            calls.append(name)
            return [f"    return {len(p)}\n" for p in prompts]
        return generate

    result = gs.greedy_agreement(tasks, hf=gen("hf"), vllm=gen("vllm"))
    assert calls == ["vllm", "hf"]  # vLLM first: it takes a share of the free GPU memory
    assert result["ok"] and result["n_equal"] == 5 and result["first_diff"] is None


def test_greedy_agreement_reports_the_first_differing_prompt():
    tasks = gs.humaneval_tasks(5)

    def hf(prompts):
        return [f"    return {i}\n" for i in range(len(prompts))]

    def vllm(prompts):
        return [f"    return {i}\n" if i not in (2, 4) else f"    return -{i}\n"
                for i in range(len(prompts))]

    result = gs.greedy_agreement(tasks, hf=hf, vllm=vllm)
    assert not result["ok"] and result["n_equal"] == 3
    first = result["first_diff"]
    assert first["task_id"] == "HumanEval/2" and first["chars_equal"] == len("    return ")
    assert first["hf"] == "    return 2\n" and first["vllm"] == "    return -2\n"
    assert result["error"] == "HF and vLLM differ on HumanEval/2, HumanEval/4"
    excused = gs.greedy_agreement(tasks, hf=hf, vllm=vllm,
                                  explain=lambda p, a, b: {"near_tie": True, "margin": 0.01})
    assert excused["ok"] and excused["n_near_tie"] == 2 and excused["first_diff"]["margin"]
    empty = gs.greedy_agreement(tasks, hf=lambda ps: [""] * 5, vllm=lambda ps: [""] * 5)
    assert not empty["ok"] and empty["error"] == "not nonempty"


def test_divergence_measures_hfs_margin_where_completions_part(tiny):
    model, tok = tiny
    prompt = [tok.bos_token_id, *tok(gs.humaneval_tasks(1)[0]["prompt"],
                                     add_special_tokens=False)["input_ids"]]
    text, vllm_text = "    return sorted(numbers)\n", "    return len(numbers)\n"
    a = tok(text, add_special_tokens=False)["input_ids"]
    b = tok(vllm_text, add_special_tokens=False)["input_ids"]
    k = gs.common_prefix(a, b)
    assert 0 < k < min(len(a), len(b))
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([prompt + a[:k]])).logits[0, -1]
    found = gs.divergence(model, tok, prompt, text, vllm_text, ulps=4)
    assert (found["token"], found["hf_token"], found["vllm_token"]) == (k, a[k], b[k])
    assert found["margin"] == pytest.approx(float(logits[a[k]] - logits[b[k]]), abs=1e-6)
    assert found["hf_argmax"] == (int(logits.argmax()) == a[k])
    assert found["tolerance"] == 4 * gs.bf16_ulp(max(abs(float(logits[a[k]])),
                                                     abs(float(logits[b[k]]))))
    assert found["near_tie"] == (abs(found["margin"]) <= found["tolerance"])
    assert gs.divergence(model, tok, prompt, text, vllm_text, ulps=10**9)["near_tie"]
    assert not gs.divergence(model, tok, prompt, text, vllm_text, ulps=0)["near_tie"]
    stopped = gs.divergence(model, tok, prompt, text, text[:-1])  # vLLM stopped first
    assert stopped["token"] == len(a) - 1 and not stopped["near_tie"]
    assert "prefix" in stopped["why"]


def test_bf16_ulp():
    assert gs.bf16_ulp(1.0) == 2 ** -7 and gs.bf16_ulp(-10.0) == 2 ** -4
    x = torch.tensor(10.0, dtype=torch.bfloat16)
    assert float(torch.nextafter(x, torch.tensor(11.0, dtype=torch.bfloat16)) - x) == \
        gs.bf16_ulp(10.0)


# --- checks 4 and 5: the saved model's tensors, bitsandbytes' layers -----------------------

def test_zero3_verdict_catches_partitioned_tensors(tiny_dir, tmp_path):
    from safetensors.torch import load_file, save_file

    metrics = {"steps": 2, "train_loss": 3.0, "world_size": 1}
    workers = [{"deepspeed_imported": True, "zero_stage": "3"}]
    assert gs.zero3_verdict(metrics, workers, 1, tiny_dir, tiny_dir)["ok"]
    shrunk = tmp_path / "shrunk"
    shrunk.mkdir()
    tensors = load_file(str(tiny_dir / "model.safetensors"))
    save_file({k: (v if i else torch.empty(0)) for i, (k, v) in enumerate(tensors.items())},
              str(shrunk / "model.safetensors"))
    bad = gs.zero3_verdict(metrics, workers, 1, tiny_dir, shrunk)
    assert not bad["ok"] and not bad["model_whole"] and "1 empty" in bad["error"]
    plain = gs.zero3_verdict(metrics, [{"deepspeed_imported": False, "zero_stage": None}], 1,
                             tiny_dir, tiny_dir)
    assert not plain["ok"] and plain["error"] == "not zero3_workers"


@needs_cpu_torch
def test_deepspeed_check_drives_the_train_stage_through_its_launcher(monkeypatch, tiny_dir,
                                                                     shared_workdir):
    """On CPU the train stage itself refuses DeepSpeed before launching: that it gets there
    shows the check's params file, paths and launcher string are the stage's own."""
    monkeypatch.setattr(gs, "require", lambda module, dist: "(not installed)")
    ctx = gs.Ctx(shared_workdir, model=tiny_dir)
    result = gs.run_checks(["deepspeed_zero3"], ctx, gs.run_inline)["deepspeed_zero3"]
    assert not result["ok"] and result["error"] == "the train stage exited with 2"
    assert "uses DeepSpeed, which needs CUDA" in result["log_tail"]
    assert "configs/accelerate/deepspeed_zero3.yaml --num_processes 1" in result["log_tail"]
    assert (shared_workdir / "deepspeed/trace/sitecustomize.py").is_file()


def test_vllm_check_wiring_with_the_adapter_faked(monkeypatch, tiny_dir, tmp_path):
    """The check with its two generators replaced: the bf16 copy both engines read, HumanEval's
    prompts, vLLM first, and the near-tie explainer on the real model where texts part."""
    monkeypatch.setattr(gs, "require", lambda module, dist: "(not installed)")
    calls = []

    def fake(name, swap=None):
        def generate(model_dir, prompts, max_new_tokens):
            calls.append((name, Path(model_dir).name, len(prompts), max_new_tokens))
            return ["    return sorted(numbers)\n" if i != swap else "    return len(numbers)\n"
                    for i in range(len(prompts))]
        return generate

    monkeypatch.setattr(gs, "hf_greedy", fake("hf"))
    monkeypatch.setattr(gs, "vllm_greedy", fake("vllm", swap=3))
    monkeypatch.setattr(gs, "prompt_token_ids", lambda tok, p: [tok.bos_token_id, *tok(
        p, add_special_tokens=False)["input_ids"]])  # generation.prompt_ids, as redesigned
    ctx = gs.Ctx(tmp_path, model=tiny_dir)
    result = gs.run_checks(["vllm_vs_hf"], ctx, gs.run_inline)["vllm_vs_hf"]
    assert calls == [("vllm", "smoke_model_bf16", 5, 64), ("hf", "smoke_model_bf16", 5, 64)]
    config = json.loads((tmp_path / "smoke_model_bf16/config.json").read_text())
    assert config.get("dtype", config.get("torch_dtype")) == "bfloat16"
    assert result["n_equal"] == 4 and result["first_diff"]["task_id"] == "HumanEval/3"
    assert {"margin", "tolerance", "near_tie"} <= set(result["first_diff"])
    assert result["ok"] == result["first_diff"]["near_tie"]


@needs_cpu_torch
def test_qlora_check_on_cpu_trains_and_reports_the_cpu_backend(tiny_dir, tmp_path):
    """The whole check runs on CPU (bitsandbytes has CPU kernels): it trains and saves, and
    fails only because the kernels are not CUDA ones."""
    result = gs.run_checks(["qlora_cuda"], gs.Ctx(tmp_path, model=tiny_dir), gs.run_inline)
    details = result["qlora_cuda"]
    assert details["three_steps"] and details["losses_finite"] and details["merged_model_saved"]
    assert details["bnb"]["linear4bit"] > 0 and details["bnb"]["quant_types"] == ["nf4"]
    assert details["bnb"]["backend"] == "CPU" and not details["cuda_kernels"]
    assert details["ok"] is False and "cuda_kernels" in details["error"]


@pytest.mark.parametrize("name,module", [("flash_vs_sdpa", "flash_attn"),
                                         ("vllm_vs_hf", "vllm"),
                                         ("deepspeed_zero3", "deepspeed")])
def test_checks_say_how_to_install_what_they_miss(name, module, tmp_path):
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed")
    result = gs.run_checks([name], gs.Ctx(tmp_path), gs.run_inline)[name]
    assert not result["ok"] and "--no-build-isolation -r requirements-gpu.txt" in result["error"]
    assert result["seconds"] < 5 and not (tmp_path / "smoke_model").exists()


def test_requirements_gpu_pins_every_package():
    lines = [ln.split("#")[0].strip() for ln in (ROOT / "requirements-gpu.txt").read_text()
             .splitlines()]
    pins = dict(ln.split("==") for ln in lines if ln)
    assert set(pins) == {"vllm", "flash-attn", "deepspeed"}
