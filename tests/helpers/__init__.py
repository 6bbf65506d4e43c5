"""What tests share, in one place: DVC repos of the project (dvc.py), tiny GGUF files
(gguf.py), selection pools (pools.py), process helpers (procs.py), stage input files
(records.py), made-up experiments (compare.py), HTML parsing (html.py)."""
