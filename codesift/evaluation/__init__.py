"""Benchmarks, generation backends, sandboxed execution and pass@k."""
