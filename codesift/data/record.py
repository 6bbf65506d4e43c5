"""One home for a prepared record's kind, and what the pipeline asks of a record.

Prepared records come in three kinds: `instruction` ({instruction, response}), `chat` (an
MFTCoder conversation in `chat_rounds`, its last user/assistant pair also stored as
instruction/response, which stands for it in scoring and embedding) and `text` (raw code,
{text}, for fill-in-the-middle). Stages and the library ask these functions, never the keys.
"""

from __future__ import annotations

from codesift import CodesiftError

INSTRUCTION, CHAT, TEXT = "instruction", "chat", "text"


def kind(record: dict) -> str:
    """instruction | chat | text."""
    if "chat_rounds" in record:
        return CHAT
    if "instruction" in record:
        return INSTRUCTION
    if "text" in record:
        return TEXT
    raise CodesiftError(f"record {record.get('id', '?')}: neither an instruction, a chat nor "
                        "a text record (prepare writes one of the three)")


def scorable(record: dict) -> bool:
    """Whether IFD can score it: raw code has no prompt and answer, so it is not."""
    return kind(record) != TEXT


def pair(record: dict) -> tuple[str, str]:
    """(instruction, response): a chat record's last exchange."""
    if not scorable(record):
        raise CodesiftError(f"record {record.get('id', '?')}: raw code has no instruction")
    return record["instruction"], record["response"]


def turns(record: dict) -> list[tuple[str, str]]:
    """(role, content) turns: a chat's `chat_rounds`, an instruction record's one exchange."""
    if kind(record) == CHAT:
        return [(t["role"], t["content"]) for t in record["chat_rounds"]]
    return [("user", record["instruction"]), ("assistant", record["response"])]


def embed_text(record: dict, field: str) -> str:
    """What is embedded: the instruction (`field` instruction) or it and the response; raw
    code its text."""
    if kind(record) == TEXT:
        return record["text"]
    if field == "instruction":
        return record["instruction"]
    return record["instruction"] + "\n\n" + record["response"]


def dedup_key(record: dict) -> tuple[str, ...]:
    """What makes two records the same: the text, the whole conversation (role and content of
    every turn), or the instruction and response."""
    k = kind(record)
    if k == TEXT:
        return (record["text"].strip(),)
    if k == CHAT:
        return tuple(f"{t['role'].lower()}: {t['content'].strip()}" for t in record["chat_rounds"])
    return record["instruction"].strip(), record["response"].strip()
