"""Instruction data: sources, record validation, dedup and decontamination."""
