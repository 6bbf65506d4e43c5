"""Instruction data: sources, record formats, validation, dedup and decontamination."""

USER_ROLES, ASSISTANT_ROLES = ("human", "user"), ("bot", "assistant")  # MFTCoder and chat names
