"""What a stage would refuse, known before any stage runs (the `check` stage, `grid --dry-run`).

The schema (`config.build`) checks types, ranges and registry choices. This adds what needs a
library or a file to know: a template that exists, parses and renders a generation prompt, a
scheduler and an attention implementation transformers knows, the dataset file every
benchmark to evaluate or decontaminate by needs, and no unknown entry under `eval.datasets`.
Each problem is a (dotted key, message) pair, reported with the schema's, all at once.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

from codesift import CodesiftError
from codesift.config import EvalConfig, Params

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
_PROBE_USER, _PROBE_REPLY = "codesift-check-instruction", "codesift-check-reply"


def templates_folder(root: Path) -> Path:
    """`<root>/templates`, else this checkout's (a params file outside a checkout)."""
    own = root / "templates"
    return own if own.is_dir() else PACKAGE_ROOT / "templates"


def problems(params: Params, root: Path) -> list[tuple[str, str]]:
    """Every problem a stage would meet with these params; relative paths are from `root`
    (where the stages run: the repository root)."""
    from codesift import preflight  # models and the data source: what they hold

    return [*_template(params, templates_folder(root)), *_training(params),
            *_datasets(params, root), *preflight.problems(params, root)]


def _template(params: Params, folder: Path) -> Iterator[tuple[str, str]]:
    """The template renders the user's turn into a generation prompt and the reply after it,
    as `templates.Template.spans` needs (checked with transformers' own Jinja renderer)."""
    name = params.template.name
    if name == "chat":  # the tokenizer's own: known once the base model exists
        return
    path = folder / f"{name}.jinja"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.jinja")) + ["chat"]
        yield "template.name", f"{name!r} has no file {path}; known: {', '.join(known)}"
        return
    try:
        problem = _render_problem(path.read_text(encoding="utf-8"), params.template.system)
    except UnicodeDecodeError as e:
        problem = f"not valid UTF-8 (byte {e.start})"
    if problem:
        yield "template.name", f"{path}: {problem}"


def _render_problem(source: str, system: str) -> str | None:
    import jinja2
    from transformers.utils.chat_template_utils import render_jinja_template

    user = [{"role": "user", "content": _PROBE_USER}]
    if system:
        user.insert(0, {"role": "system", "content": system})
    both = [*user, {"role": "assistant", "content": _PROBE_REPLY}]
    special = {"bos_token": "<s>", "eos_token": "</s>"}

    def render(messages: list[dict], generation: bool) -> str:
        return render_jinja_template([messages], chat_template=source,
                                     add_generation_prompt=generation, **special)[0][0]
    try:
        prompt, full = render(user, True), render(both, False)
    except jinja2.TemplateSyntaxError as e:
        return f"line {e.lineno}: Jinja syntax error: {e.message}"
    except jinja2.TemplateError as e:
        return f"does not render: {e}"
    if _PROBE_USER not in prompt:
        return "renders no generation prompt (the user's turn is not in what it renders)"
    if not full.startswith(prompt) or _PROBE_REPLY not in full[len(prompt):]:
        return ("the assistant's turn does not follow the generation prompt, so a prompt "
                "cannot be told from its reply")
    return None


def _training(params: Params) -> Iterator[tuple[str, str]]:
    from transformers import SchedulerType
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    schedulers = [s.value for s in SchedulerType]
    if params.train.lr_scheduler not in schedulers:
        yield "train.lr_scheduler", (f"{params.train.lr_scheduler!r} is not one of "
                                     f"{schedulers}")
    attn = params.model.attn_implementation
    known = ["eager", *(k for k in ALL_ATTENTION_FUNCTIONS if "|" not in k)]
    if attn not in known and "/" not in attn:  # owner/name: a hub kernel repository
        yield "model.attn_implementation", (f"{attn!r} is not one of {known} (or a hub "
                                            "kernel, owner/name)")


def _datasets(params: Params, root: Path) -> Iterator[tuple[str, str]]:
    """Unknown `eval.datasets` keys, and the file each benchmark to use needs."""
    from codesift.evaluation.benchmarks import benchmark_names

    known = list(EvalConfig().datasets)
    for key in params.eval.datasets:
        if key not in known:
            yield f"eval.datasets.{key}", f"unknown key (known: {', '.join(known)})"
    datasets = {k: str(root / v) if v and not Path(v).is_absolute() else v
                for k, v in params.eval.datasets.items()}
    uses = [(f"eval.benchmarks[{i}]", n) for i, n in enumerate(params.eval.benchmarks)] + \
        [(f"data.decontaminate[{i}]", n) for i, n in enumerate(params.data.decontaminate)]
    for key, name in uses:
        if name in benchmark_names():  # else the schema reports it
            problem = _benchmark_problem(name, tuple(sorted(datasets.items())))
            if problem:
                yield key, f"{name}: {problem.replace(str(root) + '/', '')}"


@functools.lru_cache(maxsize=64)
def _benchmark_problem(name: str, datasets: tuple[tuple[str, str], ...]) -> str | None:
    """Why benchmark `name` cannot load from these files (cached: a grid asks per experiment)."""
    from codesift.evaluation.benchmarks import load_benchmark

    try:
        load_benchmark(name, dict(datasets))
    except CodesiftError as e:
        return str(e)
    return None
