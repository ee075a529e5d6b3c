"""Reading a dataset's label codes through its label table.

Each dataset's table (its own codes as they appear in the files: integers from label files and
CSVs, abbreviations from file names, folder names -> canonical ferjax class names) lives with
its layout, ferjax/datasets/<name>/layout.py, copied from the dataset's documentation and tested code
by code. `canonical_id` turns a code into the canonical index of ferjax/labels.py, or raises
`LabelCodeError` naming the file and line.
"""

from __future__ import annotations

from typing import Mapping

from ferjax import labels


class LabelCodeError(ValueError):
    """A label code that the dataset's table does not know; the message names file and line."""


def canonical_id(table: Mapping, code, *, where: str, dataset: str = "") -> int:
    """Canonical class index of `code` under `table`.

    `where` names the source ("path/to/file.csv:17" or a file name) for the error message.
    Raises LabelCodeError when the code is not in the table.
    """
    try:
        return labels.class_index(table[code])
    except KeyError:
        known = ", ".join(repr(k) for k in table)
        raise LabelCodeError(
            f"{where}: unknown {dataset + ' ' if dataset else ''}label code {code!r}; "
            f"known codes: {known}") from None


def parse_int_code(text: str, *, where: str) -> int:
    """An integer label code written as '3', '3.0' or '3.0000000e+00' (CK+ writes floats)."""
    try:
        value = float(text)
    except ValueError:
        raise LabelCodeError(f"{where}: label code {text.strip()!r} is not a number") from None
    if value != int(value):
        raise LabelCodeError(f"{where}: label code {text.strip()!r} is not an integer")
    return int(value)
