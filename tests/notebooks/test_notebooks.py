"""Every notebook executes headless, top to bottom, in a scratch directory.

Besides running without an error, the outputs keep the notebooks' house rules (see
scripts/make_notebooks.py): charts go through `hw.show` (a widget with a static SVG,
never a bare Altair output that loads vega from a CDN), no raw reprs of the package's
records, no event UUIDs where a person should read names, nothing on stderr. What a
browser draws is checked in tests/ui/test_notebooks_browser.py.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
WIDGET = "application/vnd.jupyter.widget-view+json"
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
REPRS = ("LabelEvent(", "SessionStatus(", "FitSummary(", "<hitl_widgets.")
CDN = re.compile(r"<script[^>]+src=[\"']?https?://", re.IGNORECASE)


def test_there_are_notebooks():
    names = {path.stem for path in NOTEBOOKS}
    assert {"quickstart", "teaching", "bias_audit", "team_labeling", "images"} <= names


def test_notebooks_are_generated_from_the_script():
    """scripts/make_notebooks.py is their source: a notebook edited by hand (or a script
    edit not rerun) shows up here as different cell sources."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_notebooks", ROOT / "scripts" / "make_notebooks.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert set(module.NOTEBOOK_CELLS) == {path.stem for path in NOTEBOOKS}
    for path in NOTEBOOKS:
        written = nbformat.read(path, as_version=4)
        cells = module.NOTEBOOK_CELLS[path.stem]
        assert [c.cell_type for c in written.cells] == [c.cell_type for c in cells], path.name
        for ours, theirs in zip(cells, written.cells, strict=True):
            if ours.cell_type == "markdown":  # code cells are ruff-formatted after writing
                assert ours.source == theirs.source, path.name


def outputs(notebook):
    for index, cell in enumerate(notebook.cells):
        for out in cell.get("outputs", []):
            yield index, out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path):
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    notebook = nbformat.read(copy, as_version=4)
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    errors = [out for _, out in outputs(notebook) if out.get("output_type") == "error"]
    assert not errors, errors
    widgets = [out for _, out in outputs(notebook) if WIDGET in out.get("data", {})]
    assert widgets, "the notebook shows no widget"

    problems = []
    for index, out in outputs(notebook):
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            problems.append((index, "stderr", out["text"][:300]))
        data = out.get("data", {})
        if any(kind.startswith("application/vnd.vegalite") for kind in data):
            problems.append((index, "bare Altair output (use hw.show)", list(data)))
        texts = [str(data.get(kind, "")) for kind in ("text/html", "text/markdown")]
        if WIDGET not in data:  # a widget's text/plain is its repr, not shown in Jupyter
            texts.append(str(data.get("text/plain", "")))
        texts.append(str(out.get("text", "")))
        text = "\n".join(texts)
        problems += [(index, "raw repr", r) for r in REPRS if r in text]
        problems += [(index, "UUID", m) for m in UUID.findall(text)]
        problems += [(index, "CDN script", m) for m in CDN.findall(text)]
    assert not problems, problems
