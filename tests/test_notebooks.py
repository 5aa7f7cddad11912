"""The analyst notebooks run top to bottom (on data in data/), as an analyst would run them."""

from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    if "score_a_backlog" in path.name or "retrain" in path.name or "active" in path.name:
        assert images >= 1, "the notebook should show its plots"


def test_there_are_three_notebooks():
    assert [p.name for p in NOTEBOOKS] == ["01_score_a_backlog.ipynb", "02_retrain_on_your_labels.ipynb", "03_active_learning.ipynb"]
