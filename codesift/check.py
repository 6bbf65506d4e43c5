"""The full check of params, above the registries: the `check` stage's CLI, `grid --dry-run`.

The schema (`config.build`) checks types, ranges and cross-field rules, importing nothing.
This adds the registries' names (`OneOf` kinds), each method's options (`select.<method>`,
declared by the method's module) and what needs a library or a file to know: a template that
exists, parses and renders a generation prompt, a scheduler and an attention implementation
transformers knows, the dataset file every benchmark to evaluate or decontaminate by needs,
and no unknown entry under `eval.datasets`. Each problem is a (dotted key, message) pair,
reported with the schema's, all at once.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from codesift import CodesiftError
from codesift.config import (
    OPEN,
    RUN_ONLY,
    SECTIONS,
    Errors,
    EvalConfig,
    Params,
    build,
    flatten,
    parse_section,
)
from codesift.io import read_yaml

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
_PROBE_USER, _PROBE_REPLY = "codesift-check-instruction", "codesift-check-reply"


def choices(kind: str) -> list[str]:
    """The names a registry of `kind` (a `config.OneOf` kind) holds."""
    if kind == "selection method":
        from codesift.selection import REGISTRY
        return REGISTRY.names()
    if kind == "filter":
        from codesift.selection.filters import FILTERS
        return FILTERS.names()
    if kind == "pad mode":
        from codesift.packing import PAD_MODES
        return list(PAD_MODES)
    if kind == "benchmark":
        from codesift.evaluation.benchmarks import benchmark_names
        return benchmark_names()
    raise ValueError(f"no registry of kind {kind!r}")


def method_options() -> dict[str, type]:
    """Each selection method's options dataclass, by method name."""
    from codesift.selection import REGISTRY

    return {n: REGISTRY.get(n).options for n in REGISTRY.names() if REGISTRY.get(n).options}


def option_problems(params: Params) -> Errors:
    """Every `select.<method>` section against its method's options (unknown ones too)."""
    known, errors = method_options(), []
    for name, raw in params.select.methods.items():
        if name in known:
            parse_section(known[name], raw, f"select.{name}.", errors)
        else:
            errors.append((f"select.{name}", f"unknown key or method options (methods with "
                                             f"options: {', '.join(sorted(known))})"))
    return errors


def full_build(raw: dict[str, Any], where: str, origin: Callable[[str], str] | None = None,
               root: Path | None = None) -> Params:
    """`config.build` with the registries' names and the methods' options checked; with `root`
    (where the stages run), also what a stage would refuse."""
    def extra(params: Params) -> Errors:
        return option_problems(params) + (problems(params, root) if root is not None else [])

    return build(raw, where, origin, choices, extra)


def check(params: str | Path = "params.yaml", profile: str | Path | None = None,
          deep: bool = True) -> Params:
    """`params` with `profile` merged on top, checked; errors name the file each key came from.
    `deep`: also what a stage would refuse (templates, dataset files), with paths relative to
    the params file's folder; off, the schema, registries and options only."""
    raw = read_yaml(params)
    root = Path(params).resolve().parent if deep else None
    if profile is None:
        return full_build(raw, str(params), root=root)
    over = read_yaml(profile)
    keys = set(flatten(over))

    def origin(key: str) -> str:
        return str(profile) if any(key == k or key.startswith((k + ".", k + "[")) or
                                   k.startswith(key + ".") for k in keys) else str(params)

    return full_build(merge(raw, over), str(params), origin, root)


def merge(base: dict, over: dict) -> dict:
    """`over` on top of `base`, mappings merged key by key (as `dvc exp run -S` sets them)."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def as_dict(obj: Any) -> dict[str, Any]:
    """A params dataclass as a params.yaml-shaped mapping (an `OPEN` field's sections inline)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        v = as_dict(v) if dataclasses.is_dataclass(v) else copy.deepcopy(v)
        out.update(v) if f.metadata.get(OPEN) else out.__setitem__(f.name, v)
    return out


def defaults() -> dict[str, Any]:
    """The default of every knob, the methods' options included, shaped like params.yaml."""
    out = as_dict(Params())
    out["select"].update({n: as_dict(cls()) for n, cls in sorted(method_options().items())})
    return out


def run_only_keys() -> set[str]:
    """Dotted keys that change how a stage runs, not its outputs (not listed in dvc.yaml)."""
    owners = [*SECTIONS.items(), *((f"select.{n}", c) for n, c in method_options().items())]
    return {f"{name}.{f.name}" for name, cls in owners for f in dataclasses.fields(cls)
            if f.metadata.get(RUN_ONLY)}


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


def main(argv: list[str] | None = None) -> None:
    import argparse

    from codesift.cli import user_errors
    from codesift.profiles import apply_profile, profile_overrides

    p = argparse.ArgumentParser(
        prog="python -m codesift.check",
        description="Check params.yaml (and a profile merged on top), apply a profile to it, "
                    "or print a profile as `dvc exp run -S` overrides.")
    p.add_argument("--params", default="params.yaml", help="default: %(default)s")
    p.add_argument("--check", action="store_true", help="check every knob; exit 2 on a problem")
    p.add_argument("--profile", help="a profile (e.g. configs/ci.yaml) merged on top")
    p.add_argument("--apply", action="store_true",
                   help="write the profile into --params in place, keeping its comments")
    p.add_argument("--overrides", action="store_true",
                   help="print the profile as `-S key=value` lines for dvc exp run")
    p.add_argument("--stamp", help="with --check: write this file once the check passes (the "
                   "`check` stage's output, which every other stage depends on)")
    args = p.parse_args(argv)
    with user_errors():
        if args.overrides:
            if not args.profile:
                raise CodesiftError("--overrides needs --profile")
            print("\n".join(profile_overrides(args.profile)))
            return
        check(args.params, args.profile)
        if args.apply:
            if not args.profile:
                raise CodesiftError("--apply needs --profile")
            apply_profile(args.params, args.profile)
            print(f"{args.params}: applied {args.profile}")
        else:
            print(f"{args.params}{' + ' + args.profile if args.profile else ''}: ok")
        if args.stamp:
            from codesift.io import write_text

            write_text(args.stamp, "params checked\n")  # constant: never reruns a stage


if __name__ == "__main__":
    main()
