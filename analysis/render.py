"""Render a tables.Table as Markdown, LaTeX (booktabs via pandas Styler), CSV and plain text (terminals)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.tables import Table, TableCell
from pada.io import atomic_write_text

_LATEX_TEXT = {
    "\\": r"\textbackslash{}",
    "%": r"\%",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "_": r"\_",
    "—": "---",
    "–": "--",
    "±": r"$\pm$",
    "Δ": r"$\Delta$",
    "†": r"$^\dagger$",
    "≤": r"$\leq$",
}
# Styler's native LaTeX commands: convert_css would drop them (it only translates real CSS).
_STYLE_CSS = {"best": "textbf: --rwrap;", "second": "underline: --rwrap;"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_TEXT.get(ch, ch) for ch in text)


def _value(cell: TableCell) -> str:
    if cell.text is not None:
        return cell.text
    if cell.mean is None or not np.isfinite(cell.mean):
        return "—"
    std = "" if cell.std is None or not np.isfinite(cell.std) else f" ± {cell.std * 100:.1f}"
    return f"{cell.mean * 100:.1f}{std}"


def cell_markdown(cell: TableCell) -> str:
    text = _value(cell)
    text = {"best": f"**{text}**", "second": f"<ins>{text}</ins>"}.get(cell.style or "", text)
    return text + ("†" if cell.marker else "") + "".join(f"<sup>{n}</sup>" for n in cell.notes)


def cell_latex(cell: TableCell) -> str:
    # bold/underline come from Styler (so they wrap the value only); marker and notes follow outside
    return latex_escape(_value(cell))


def _suffix_latex(cell: TableCell) -> str:
    return (r"$^\dagger$" if cell.marker else "") + "".join(rf"\textsuperscript{{{n}}}" for n in cell.notes)


def _frame(table: Table, fmt) -> pd.DataFrame:
    data = [[fmt(table.cells.get((r, c), TableCell(text=""))) for c in table.columns] for r in table.rows]
    return pd.DataFrame(data, index=table.labels(), columns=table.columns)


def to_markdown(table: Table) -> str:
    frame = _frame(table, cell_markdown)
    frame.index.name = "Method"
    notes = "".join(f"\n<sup>{k}</sup> {v}" for k, v in table.notes.items())
    return f"{table.caption}\n\n{frame.to_markdown()}\n" + (f"\nNotes:{notes}\n" if notes else "")


def cell_text(cell: TableCell) -> str:
    """Plain text for terminals and logs: the value, † and the note letters in parentheses."""
    return _value(cell) + ("†" if cell.marker else "") + "".join(f"({n})" for n in cell.notes)


def to_text(table: Table) -> str:
    """The table for a terminal (``pada analyze`` prints it): caption, a plain grid, notes; no markup."""
    frame = _frame(table, cell_text)
    frame.index.name = "Method"
    notes = "".join(f"\n({k}) {v}" for k, v in table.notes.items())
    return f"{table.caption}\n\n{frame.to_markdown(tablefmt='simple')}\n" + (
        notes[1:] + "\n" if notes else ""
    )


def _styles(table: Table) -> pd.DataFrame:
    data = [
        [_STYLE_CSS.get(table.cells.get((r, c), TableCell()).style or "", "") for c in table.columns]
        for r in table.rows
    ]
    return pd.DataFrame(data, index=table.labels(), columns=table.columns)


def to_latex(table: Table) -> str:
    values = _frame(table, cell_latex)
    suffixes = _frame(table, _suffix_latex)
    styles = _styles(table)
    latex_index = [latex_escape(i) for i in values.index]
    latex_columns = [latex_escape(c) for c in values.columns]
    for frame in (values, suffixes, styles):
        frame.index, frame.columns = latex_index, latex_columns
    styler = values.style.apply(lambda _: styles, axis=None)
    body = styler.to_latex(
        hrules=True,
        column_format="l" + "c" * len(values.columns),
        caption=latex_escape(table.caption),
        label=f"tab:{table.name}",
        position="t",
    )
    # Styler wraps only the value; the † and note letters are appended after the closing brace.
    for r, c in zip(*np.nonzero(suffixes.to_numpy() != ""), strict=True):
        body = _append_suffix(body, values.index[r], values.iat[r, c], c, suffixes.iat[r, c])
    notes = "".join(rf"\textsuperscript{{{k}}}~{latex_escape(v)}\\" + "\n" for k, v in table.notes.items())
    return body if not notes else body.replace(r"\end{table}", f"\\par\\footnotesize\n{notes}\\end{{table}}")


def _append_suffix(body: str, row: str, value: str, col: int, suffix: str) -> str:
    lines = body.splitlines()
    for k, line in enumerate(lines):
        if line.startswith(f"{row} & "):
            parts = line.removesuffix(r" \\").split(" & ")
            parts[col + 1] += suffix
            lines[k] = " & ".join(parts) + r" \\"
    return "\n".join(lines) + "\n"


def to_csv(table: Table) -> str:
    return table.numbers.to_csv(index=False, float_format="%.6g")


def write_table(table: Table, out: Path) -> list[Path]:
    paths = {
        out / f"{table.name}.md": to_markdown(table),
        out / f"{table.name}.tex": to_latex(table),
        out / f"{table.name}.csv": to_csv(table),
        out / f"{table.name}.txt": to_text(table),
    }
    if len(table.comparisons):
        paths[out / f"{table.name}_comparisons.csv"] = table.comparisons.to_csv(
            index=False, float_format="%.6g"
        )
    for path, text in paths.items():
        atomic_write_text(path, text)
    return list(paths)
