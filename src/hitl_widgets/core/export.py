"""Writing tables to files: Parquet and JSONL exactly, CSV safely.

CSV is where labels meet spreadsheets, and both bite. Every field is quoted, so a
carriage return or newline inside an id, a label or an annotator's name stays inside
its field when the file is read back (unquoted, a lone "\\r" splits the row). And a cell
that starts with "=", "+", "-", "@", a tab or a carriage return is run as a formula
by Excel, LibreOffice and Google Sheets (CSV injection): by default such text cells get
a leading apostrophe, as OWASP recommends, which spreadsheets show as text. Pass
`csv_formulas="keep"` for a byte-exact CSV that only programs will read. Numbers are
never touched; Parquet and JSONL are always exact.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import pandas as pd

from .config import check_choice

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_FORMULAS = ("escape", "keep")


def write_table(table: pd.DataFrame, path: str | os.PathLike, csv_formulas: str = "escape") -> Path:
    """Write `table` in the format its suffix names: .parquet, .csv or .jsonl."""
    check_choice(csv_formulas, "csv_formulas", CSV_FORMULAS)
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".parquet":
        table.to_parquet(target, index=False)
    elif suffix == ".csv":
        safe = table if csv_formulas == "keep" else escape_formulas(table)
        safe.to_csv(target, index=False, quoting=csv.QUOTE_ALL)
    elif suffix == ".jsonl":
        table.to_json(target, orient="records", lines=True, date_format="iso")
    else:
        raise ValueError(f"unknown export format {suffix!r}: use .parquet, .csv or .jsonl")
    return target


def escape_formulas(table: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells (and headers) a spreadsheet would run as formulas start with "'"."""
    out = table.rename(columns=_escape_cell)
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(_escape_cell)
    return out


def _escape_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
