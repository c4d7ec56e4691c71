"""The "Recipe" dock widget: see the chain behind a layer, save it, load one, replay it.

The chain is read from what the step widgets recorded in their result layers'
``metadata["detcal"]`` (:func:`detcal.recipe.chain_behind`); saving writes the JSON and, beside
it, the calibration arrays that exist only as layers (:func:`detcal.recipe.save_chain`).
A recipe is applied to another layer lazily (the result layer computes only the planes shown)
or to files on disk, streamed with progress and Cancel (:func:`detcal.recipe.apply_recipe`).
Everything that reads pixels runs in the background through
:func:`detcal.napari._background.run_step`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from detcal.napari._background import add_result, layer_data, run_step, shapes_to_mask
from detcal.napari._feedback import report_error, report_status
from detcal.recipe import Recipe, RecipeError, apply_recipe, chain_behind, save_chain

if TYPE_CHECKING:
    import napari


def _layer_path(layer) -> str | None:
    """Return the file a layer was opened from, if any."""
    origin = layer.metadata.get("source")
    if isinstance(origin, dict) and origin.get("path"):
        return str(origin["path"])
    path = getattr(getattr(layer, "source", None), "path", None)
    return str(path) if path else None


def apply_lazily(recipe: Recipe, data: Any, *, progress=None) -> Any:
    """Build the recipe's lazy result on ``data`` (reads only the calibration files).

    Parameters
    ----------
    recipe : Recipe
        The recipe.
    data : array-like
        The layer's data.
    progress : callable, optional
        Unused: building the graph is quick; accepted for the background runner.

    Returns
    -------
    numpy.ndarray or dask.array.Array
        The result, lazy for dask data.
    """
    return recipe.apply(data)


class RecipeWidget(QWidget):
    """Dock widget: the chain behind a layer as a recipe; save, load, apply.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer whose layers are read and to which results are added.
    """

    def __init__(self, napari_viewer: napari.Viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.recipe: Recipe | None = None
        self.chain = None
        self.layer_box = QComboBox()
        self.steps_view = QPlainTextEdit(readOnly=True)
        self.steps_view.setMinimumHeight(120)
        self.save_button = QPushButton("Save recipe…")
        self.load_button = QPushButton("Load recipe…")
        self.recipe_label = QLabel("no recipe loaded")
        self.recipe_label.setWordWrap(True)
        self.target_box = QComboBox()
        self.apply_layer_button = QPushButton("Apply to layer")
        self.input_edit = QLineEdit(placeholderText="input file (.zarr, .h5, .tif…)")
        self.output_edit = QLineEdit(placeholderText="output file (.zarr, .h5, .tif, .npy)")
        self.overwrite_box = QCheckBox("Replace an existing output")
        self.apply_file_button = QPushButton("Apply to file")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self._layout()
        self.save_button.clicked.connect(lambda: self.save_recipe())
        self.load_button.clicked.connect(lambda: self.load_recipe())
        self.apply_layer_button.clicked.connect(self.apply_to_layer)
        self.apply_file_button.clicked.connect(self.apply_to_file)
        self.layer_box.currentTextChanged.connect(self.show_chain)
        for event in (self.viewer.layers.events.inserted, self.viewer.layers.events.removed):
            event.connect(self._refresh_layers)
        self.viewer.layers.selection.events.active.connect(self._follow_selection)
        self._refresh_layers()

    def _layout(self) -> None:
        form = QFormLayout()
        form.addRow("Chain behind", self.layer_box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.load_button)
        files = QFormLayout()
        files.addRow("Input", self.input_edit)
        files.addRow("Output", self.output_edit)
        run = QHBoxLayout()
        run.addWidget(self.apply_file_button)
        run.addWidget(self.cancel_button)
        target = QFormLayout()
        target.addRow("Apply to", self.target_box)
        layout = QVBoxLayout(self)
        for item in (form, self.steps_view, buttons, self.recipe_label, target):
            (layout.addLayout if isinstance(item, QFormLayout | QHBoxLayout) else layout.addWidget)(
                item
            )
        layout.addWidget(self.apply_layer_button)
        layout.addLayout(files)
        layout.addWidget(self.overwrite_box)
        layout.addLayout(run)
        layout.addWidget(self.status)
        layout.addStretch()

    # ------------------------------------------------------------------ layers and chain

    def _refresh_layers(self, event=None) -> None:
        names = [layer.name for layer in self.viewer.layers]
        for box in (self.layer_box, self.target_box):
            current = box.currentText()
            box.blockSignals(True)
            box.clear()
            box.addItems(names)
            if current in names:
                box.setCurrentText(current)
            box.blockSignals(False)
        self._follow_selection()

    def _follow_selection(self, event=None) -> None:
        active = self.viewer.layers.selection.active
        if active is not None and active.metadata.get("detcal"):
            self.layer_box.setCurrentText(active.name)
        self.show_chain(self.layer_box.currentText())

    def _records(self) -> dict[str, dict[str, Any]]:
        return {
            layer.name: {"metadata": dict(layer.metadata), "path": _layer_path(layer)}
            for layer in self.viewer.layers
        }

    def show_chain(self, name: str | None = None) -> None:
        """Show the steps behind layer ``name`` (default: the chosen one)."""
        name = name or self.layer_box.currentText()
        self.chain = None
        if not name:
            self.steps_view.setPlainText("")
            return
        try:
            self.chain = chain_behind(self._records(), name)
        except RecipeError as exc:
            self.steps_view.setPlainText(str(exc))
            return
        lines = self.chain.describe()
        if self.chain.dropped:
            lines.append(
                "not carried (not parameters of the step): " + "; ".join(self.chain.dropped)
            )
        self.steps_view.setPlainText("\n".join(lines))

    def _arrays(self) -> dict[str, Any]:
        """Return the data of layers to save beside the recipe (Shapes become masks)."""
        raw = self.viewer.layers[self.chain.raw]
        arrays: dict[str, Any] = {}
        for name in set(self.chain.pending.values()):
            layer = self.viewer.layers[name]
            if layer._type_string == "shapes":
                shape = layer_data(raw).shape
                arrays[name] = lambda layer=layer, shape=shape: shapes_to_mask(layer, shape)
            else:
                arrays[name] = layer_data(layer)
        return arrays

    # ------------------------------------------------------------------ save and load

    def save_recipe(self, path: str | Path | None = None) -> None:
        """Save the chain shown as a recipe (asks for a file when ``path`` is None)."""
        if self.chain is None:
            report_error(self.status, "choose a layer made by detcal steps first", action="Save")
            return
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save recipe", "", "Recipe (*.json)")
            if not path:
                return
        path = Path(path)
        run_step(
            save_chain, self.chain, path, self._arrays(), overwrite=True,
            desc="Save recipe", button=self.save_button, status=self.status,
            on_returned=self._saved,
        )  # fmt: skip

    def _saved(self, path: Path) -> None:
        self._use(Recipe.load(path), f"saved {path}")

    def load_recipe(self, path: str | Path | None = None) -> None:
        """Load a recipe file (asks for one when ``path`` is None)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Load recipe", "", "Recipe (*.json)")
            if not path:
                return
        try:
            recipe = Recipe.load(path)
        except (RecipeError, FileNotFoundError) as exc:
            report_error(self.status, exc, action="Load recipe")
            return
        self._use(recipe, f"loaded {path}")

    def _use(self, recipe: Recipe, message: str) -> None:
        self.recipe = recipe
        steps = " → ".join(step.step for step in recipe.steps)
        self.recipe_label.setText(f"recipe: {steps}")
        report_status(self.status, message)

    # ------------------------------------------------------------------ apply

    def _recipe_or_error(self, action: str) -> Recipe | None:
        if self.recipe is None:
            report_error(self.status, "save or load a recipe first", action=action)
        return self.recipe

    def apply_to_layer(self) -> None:
        """Apply the recipe to the layer chosen in "Apply to"; the result layer is lazy."""
        recipe = self._recipe_or_error("Apply to layer")
        name = self.target_box.currentText()
        if recipe is None or not name:
            return
        layer = self.viewer.layers[name]

        def add(result: Any) -> None:
            add_result(
                self.viewer, result, name=f"{name} (recipe)", step="recipe", source=name,
                params={"recipe": recipe.to_dict()},
            )  # fmt: skip
            report_status(self.status, f"applied the recipe to {name!r}")

        run_step(
            apply_lazily, recipe, layer_data(layer), desc="Apply recipe",
            button=self.apply_layer_button, status=self.status, on_returned=add,
        )  # fmt: skip

    def apply_to_file(self):
        """Stream the input file through the recipe into the output file (with Cancel)."""
        recipe = self._recipe_or_error("Apply to file")
        source, target = self.input_edit.text().strip(), self.output_edit.text().strip()
        if recipe is None:
            return None
        if not source or not target:
            report_error(self.status, "enter an input and an output file", action="Apply to file")
            return None
        return run_step(
            apply_recipe, recipe, source, target, overwrite=self.overwrite_box.isChecked(),
            desc="Apply recipe to file", button=self.apply_file_button, status=self.status,
            cancel_button=self.cancel_button,
            on_returned=lambda out: report_status(self.status, f"wrote {out}"),
        )  # fmt: skip
