"""Every reader reports a bad byte the same way: `file:line: not valid UTF-8 (byte N of the
line)`, as a counted skip where the rest of the file is usable, else as the error."""

import pytest

from codesift import CodesiftError
from codesift.data.sources import READERS
from codesift.io import BadLine, read_json

BAD = b"    return '\xff'\n"  # the bad byte is byte 12 of its line
FILES = {
    "a.py": b"def f():\n" + BAD,
    "t.txt": b"def ok():\n    return 1\n\ndef f():\n" + BAD,
    "c.csv": b"instruction,response\nx,'\xff'\n",
    "r.jsonl": b'{"instruction": "x", "response": "y"}\n{"instruction": "' + b"\xff" + b'"}\n',
}
WANT = {"a.py": "a.py:2: not valid UTF-8 (byte 12 of the line)",
        "t.txt": "t.txt:5: not valid UTF-8 (byte 12 of the line)",
        "c.csv": "c.csv:2: not valid UTF-8 (byte 3 of the line)",
        "r.jsonl": "r.jsonl:2: not valid UTF-8 (byte 17 of the line)"}


@pytest.mark.parametrize("name", sorted(FILES))
def test_a_bad_byte_is_named_by_file_and_line(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_bytes(FILES[name])
    read = READERS["." + name.split(".", 1)[1]]
    try:
        said = [o.message for _, o in read(tmp_path.joinpath(name).relative_to(tmp_path))
                if isinstance(o, BadLine)]
    except CodesiftError as e:
        said = [str(e)]
    assert said == [WANT[name]]


def test_json_names_the_line_too(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "j.json").write_bytes(b'[{"instruction":\n "\xff"}]')
    with pytest.raises(CodesiftError, match=r"^j.json:2: not valid UTF-8 \(byte 2 of the line\)$"):
        read_json("j.json")
