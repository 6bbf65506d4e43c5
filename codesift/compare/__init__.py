"""Comparisons that mean something: pass@1 with bootstrap intervals, paired tests against a
baseline, run costs and held-out losses, for DVC experiments or published sample files.

One home per job:

* `stats.py`: bootstrap intervals (two-level with several samples per task), exact McNemar,
  paired bootstrap;
* `seeds.py`: the same for an arm of several seeds (a hierarchical bootstrap over seeds, then
  tasks) and the paired seed bootstrap between arms;
* `arms.py`: experiments that differ only by seed, pooled into one arm;
* `results.py`: `Experiment` (what a row holds) and `compare` (figures and tests per
  benchmark and test set against the baseline);
* `experiments.py`: the experiments DVC knows, read at their revisions;
* `samples.py`: evalplus sample files evaluated with the project's evaluator;
* `report.py`: markdown tables, vega-lite plots against data size;
* `page.py`: the offline web page (summary in words, forest plots, task flips, subset make-up,
  sortable tables);
* `browser.py`: the page in headless Chromium (rendered DOM, console, screenshot);
* `__main__.py`: the command line, `python -m codesift.compare --help`.
"""
