"""Dataset tab: every toy-generator parameter, a live preview of sample pairs, Generate in a worker."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PyQt5.QtCore import Qt, QTimer, pyqtSignal
from PyQt5.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from cyclegan_workbench.app.dialogs import show_error, show_warning
from cyclegan_workbench.app.widgets.forms import (
    ColorButton,
    PathEdit,
    PresetBox,
    RangeSpin,
    spin_box,
    vertical_scroll,
)
from cyclegan_workbench.app.widgets.image_viewer import ImagePanel
from cyclegan_workbench.app.workers import DatasetWorker
from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.images import decode_image
from cyclegan_workbench.data.shapes import (
    DEFAULT_COLORS,
    IMAGE_FORMATS,
    PRESETS,
    SHAPES,
    TRIANGLE_KINDS,
    ShapeDatasetParams,
    encode_scene_image,
    render_scene,
)

PREVIEW_SCENES = 9
PREVIEW_COLUMNS = 3  # pairs per row: a 2:1 mosaic, about the preview panel's shape
_GAP = 4


def _as_written(image: np.ndarray, params: ShapeDatasetParams) -> np.ndarray:
    """The image as its file decodes: JPEG artefacts shown, PNG unchanged."""
    if params.image_format == "png":
        return image
    return decode_image(encode_scene_image(image, params), 1 if image.ndim == 2 else 3)


def preview_mosaic(params: ShapeDatasetParams, scenes: int = PREVIEW_SCENES) -> np.ndarray:
    """Sample pairs (RGB domain left, gray domain right), PREVIEW_COLUMNS pairs per row, as one RGB image
    decoded as the files will be (with JPEG artefacts for JPEG output)."""
    split = "train" if params.train_per_class else "test"
    size = params.size
    rows = -(-scenes // PREVIEW_COLUMNS)
    cols = min(scenes, PREVIEW_COLUMNS)
    out = np.full((rows * (size + _GAP) - _GAP, cols * (2 * size + 3 * _GAP) - 2 * _GAP, 3), 90, np.uint8)
    for i in range(scenes):
        shape = params.shapes[i % len(params.shapes)]
        scene = render_scene(params, shape, i // len(params.shapes), split)
        y = (i // cols) * (size + _GAP)
        x = (i % cols) * (2 * size + 3 * _GAP)
        out[y:y + size, x:x + size] = _as_written(scene.rgb, params)
        out[y:y + size, x + size + _GAP:x + 2 * size + _GAP] = _as_written(scene.gray, params)[:, :, None]
    return out


class DatasetTab(QWidget):
    """Signals: `dataset_chosen(path)` for "Use in Train tab"; `dataset_generated(path)`; `idle()` when
    a generation ends; `status_changed(text)`."""

    dataset_chosen = pyqtSignal(str)
    dataset_generated = pyqtSignal(str)
    status_changed = pyqtSignal(str)
    idle = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._worker: DatasetWorker | None = None
        self._loading = False
        self._preview_timer = QTimer(self, singleShot=True, interval=120)
        self._preview_timer.timeout.connect(self._on_preview_due)
        self._build()
        self.set_params(PRESETS["default"]())
        self._on_preview_due()

    # --- layout ----------------------------------------------------------------------------------
    def _build(self) -> None:
        form_host = QWidget()
        form = QVBoxLayout(form_host)
        form.addWidget(self._preset_box())
        form.addWidget(self._shapes_box())
        form.addWidget(self._appearance_box())
        form.addWidget(self._geometry_box())
        form.addWidget(self._counts_box())
        form.addStretch(1)
        scroll = vertical_scroll(form_host, margin=24)

        self.preview = ImagePanel("Preview: sample pairs (RGB domain | gray domain), training split")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #b00020;")
        self.output = PathEdit("Dataset folder")
        self.overwrite = QCheckBox("Replace the dataset there")
        self.overwrite.setToolTip("Replace a dataset this program generated in that folder (only one holding "
                                  "nothing but its generated files; anything else is refused)")
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m files")
        self.progress.setValue(0)
        self.generate_button = QPushButton("Generate")
        self.generate_button.setToolTip("Write trainA/trainB/testA/testB and manifest.json (Ctrl+G)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.use_button = QPushButton("Use in Train tab")
        self.use_button.setToolTip("Train on the dataset in the folder above")
        self.summary = QLabel()
        self.summary.setWordWrap(True)

        out_row = QFormLayout()
        out_row.addRow("Output folder", self.output)
        out_row.addRow("", self.overwrite)
        buttons = QHBoxLayout()
        for b in (self.generate_button, self.cancel_button, self.use_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.addWidget(self.preview, 1)
        rv.addWidget(self.message)
        rv.addWidget(self.summary)
        rv.addLayout(out_row)
        rv.addWidget(self.progress)
        rv.addLayout(buttons)

        split = QSplitter(Qt.Horizontal)
        split.addWidget(scroll)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(split)

        self.generate_button.clicked.connect(self._on_generate)
        self.cancel_button.clicked.connect(self._on_cancel)
        self.use_button.clicked.connect(self._on_use)
        self.output.path_changed.connect(lambda _: self._update_buttons())

    def _preset_box(self) -> QGroupBox:
        box = QGroupBox("Preset")
        row = QHBoxLayout(box)
        self.preset = PresetBox(PRESETS)
        self.preset.setToolTip("Load a preset's parameters (later edits override them)")
        self.preset.activated.connect(lambda _: self.set_params(PRESETS[self.preset.currentText()]()))
        row.addWidget(self.preset, 1)
        return box

    def _shapes_box(self) -> QGroupBox:
        box = QGroupBox("Shapes (classes) and their colours in the RGB domain")
        grid = QGridLayout(box)
        self.shape_checks: dict[str, QCheckBox] = {}
        self.color_buttons: dict[str, ColorButton] = {}
        for i, name in enumerate(SHAPES):
            check = QCheckBox(name)
            color = ColorButton(DEFAULT_COLORS[name])
            check.toggled.connect(self._on_changed)
            color.color_changed.connect(self._on_changed)
            r, c = divmod(i, 2)
            grid.addWidget(check, r, 2 * c)
            grid.addWidget(color, r, 2 * c + 1)
            self.shape_checks[name], self.color_buttons[name] = check, color
        return box

    def _spin(self, low, high, decimals=0, step=1.0, tip=""):
        box = spin_box(low, high, tip, decimals, step)
        box.valueChanged.connect(self._on_changed)
        return box

    def _appearance_box(self) -> QGroupBox:
        box = QGroupBox("Appearance")
        f = QFormLayout(box)
        self.gray_level = self._spin(0, 255, tip="Gray level of every shape in the gray domain")
        self.background = QLineEdit()
        self.background.setToolTip("A gray level 0-255, a colour R,G,B, or random|sweep|gradient|texture "
                                   "with an optional range, e.g. random:0-255")
        self.background.textChanged.connect(self._on_changed)
        self.noise = self._spin(0, 255, decimals=1, step=1.0, tip="Std of the Gaussian noise added to every "
                                "pixel, in gray levels of the 0-255 scale")
        self.noise.setSuffix(" levels")
        self.noise_A, self.noise_B = QCheckBox("A"), QCheckBox("B")
        noise_row = QHBoxLayout()
        for cb in (self.noise_A, self.noise_B):
            cb.toggled.connect(self._on_changed)
            noise_row.addWidget(cb)
        noise_row.addStretch(1)
        self.rgb_domain = QComboBox()
        self.rgb_domain.addItems(["A", "B"])
        self.rgb_domain.currentIndexChanged.connect(self._on_changed)
        self.antialias = QCheckBox("Anti-aliased edges")
        self.antialias.toggled.connect(self._on_changed)
        f.addRow("Gray level", self.gray_level)
        f.addRow("Background", self.background)
        f.addRow("Noise σ (0-255)", self.noise)
        f.addRow("Noise in domains", noise_row)
        f.addRow("RGB domain", self.rgb_domain)
        f.addRow("", self.antialias)
        return box

    def _geometry_box(self) -> QGroupBox:
        box = QGroupBox("Geometry")
        f = QFormLayout(box)
        self.size = self._spin(8, 4096, tip="Canvas size in pixels (square)")
        self.scale = RangeSpin(0.01, 1.0, decimals=2, step=0.05)
        self.scale.setToolTip("Shape diameter as a fraction of the canvas")
        self.shift = self._spin(0, 2048, tip="Random shift of each shape, up to this many pixels per axis")
        self.rotation = self._spin(0, 180, decimals=1, step=5.0, tip="Random rotation in [-deg, +deg]")
        self.triangle_kind = QComboBox()
        self.triangle_kind.addItems(list(TRIANGLE_KINDS))
        self.triangle_kind.setToolTip("Equilateral; right isosceles (randomly rotated); or right isosceles "
                                      "with its legs along the image axes (rotation does not apply)")
        self.triangle_kind.currentIndexChanged.connect(self._on_changed)
        self.aspect = RangeSpin(1.0, 100.0, decimals=2, step=0.25)
        self.aspect.setToolTip("Long/short side ratio of rectangles")
        self.ellipse_aspect = RangeSpin(1.0, 100.0, decimals=2, step=0.25)
        self.per_image = RangeSpin(1, 100)
        self.per_image.setToolTip("Figures per image (all of the image's class, never overlapping)")
        for r in (self.scale, self.aspect, self.ellipse_aspect, self.per_image):
            r.changed.connect(self._on_changed)
        f.addRow("Image size (px)", self.size)
        f.addRow("Scale", self.scale)
        f.addRow("Shift (px)", self.shift)
        f.addRow("Rotation (deg)", self.rotation)
        f.addRow("Triangles", self.triangle_kind)
        f.addRow("Rectangle aspect", self.aspect)
        f.addRow("Ellipse aspect", self.ellipse_aspect)
        f.addRow("Shapes per image", self.per_image)
        return box

    def _counts_box(self) -> QGroupBox:
        box = QGroupBox("Counts, seed and file format")
        f = QFormLayout(box)
        self.train_count = self._spin(0, 1_000_000, tip="Training images per class and domain")
        self.test_count = self._spin(0, 1_000_000, tip="Test images per class and domain")
        self.seed = self._spin(0, 2**31 - 1, tip="Same parameters and seed give identical files")
        self.image_format = QComboBox()
        self.image_format.addItems(list(IMAGE_FORMATS))
        self.image_format.setToolTip("png: lossless; jpeg: .jpg files with compression artefacts")
        self.image_format.currentIndexChanged.connect(self._on_changed)
        self.jpeg_quality = self._spin(1, 100, tip="JPEG quality (1-100)")
        format_row = QHBoxLayout()
        format_row.addWidget(self.image_format)
        format_row.addWidget(QLabel("quality"))
        format_row.addWidget(self.jpeg_quality)
        format_row.addStretch(1)
        f.addRow("Train per class", self.train_count)
        f.addRow("Test per class", self.test_count)
        f.addRow("Seed", self.seed)
        f.addRow("File format", format_row)
        return box

    # --- parameters <-> form ---------------------------------------------------------------------
    def params(self) -> ShapeDatasetParams:
        """The form as parameters (not validated)."""
        shapes = tuple(n for n in SHAPES if self.shape_checks[n].isChecked())
        colors = {n: self.color_buttons[n].rgb() for n in shapes if self.color_buttons[n].rgb() != DEFAULT_COLORS[n]}
        return ShapeDatasetParams(
            shapes=shapes, colors=colors, gray_level=self.gray_level.value(), background=self.background.text(),
            noise_sigma=float(self.noise.value()),
            noise_domains=tuple(d for d, cb in (("A", self.noise_A), ("B", self.noise_B)) if cb.isChecked()),
            rgb_domain=self.rgb_domain.currentText(), shift=self.shift.value(), scale=self.scale.value(),
            rotation=float(self.rotation.value()), aspect=self.aspect.value(),
            ellipse_aspect=self.ellipse_aspect.value(), shapes_per_image=self.per_image.value(),
            triangle_kind=self.triangle_kind.currentText(), antialias=self.antialias.isChecked(),
            size=self.size.value(), train_per_class=self.train_count.value(), test_per_class=self.test_count.value(),
            seed=self.seed.value(), image_format=self.image_format.currentText(),
            jpeg_quality=self.jpeg_quality.value())

    def set_params(self, p: ShapeDatasetParams) -> None:
        self._loading = True
        try:
            colors = p.class_colors()
            for name in SHAPES:
                self.shape_checks[name].setChecked(name in p.shapes)
                self.color_buttons[name].set_rgb(colors.get(name, p.colors.get(name, DEFAULT_COLORS[name])))
            self.gray_level.setValue(p.gray_level)
            self.background.setText(str(p.background))
            self.noise.setValue(p.noise_sigma)
            self.noise_A.setChecked("A" in p.noise_domains)
            self.noise_B.setChecked("B" in p.noise_domains)
            self.rgb_domain.setCurrentText(p.rgb_domain)
            self.antialias.setChecked(p.antialias)
            self.size.setValue(p.size)
            self.scale.set_value(p.scale)
            self.shift.setValue(p.shift)
            self.rotation.setValue(p.rotation)
            self.aspect.set_value(p.aspect)
            self.ellipse_aspect.set_value(p.ellipse_aspect)
            self.per_image.set_value(p.shapes_per_image)
            self.train_count.setValue(p.train_per_class)
            self.test_count.setValue(p.test_per_class)
            self.seed.setValue(p.seed)
            self.triangle_kind.setCurrentText(p.triangle_kind)
            self.image_format.setCurrentText(p.image_format)
            self.jpeg_quality.setValue(p.jpeg_quality)
        finally:
            self._loading = False
        self._on_changed()

    # --- slots -----------------------------------------------------------------------------------
    def _on_changed(self, *_) -> None:
        self.jpeg_quality.setEnabled(self.image_format.currentText() == "jpeg")
        if not self._loading:
            self.preset.set_edited(self.params().to_dict() != PRESETS[self.preset.currentText()]().to_dict())
        if not self._loading:
            self._preview_timer.start()

    def _on_preview_due(self) -> None:
        params = self.params()
        try:
            params.validate()
            scenes = PREVIEW_SCENES if params.size <= 512 else 2
            self.preview.set_image(preview_mosaic(params, scenes))
        except UserError as exc:
            self.message.setText(str(exc))
            self.summary.setText("")
            self.generate_button.setEnabled(False)
            return
        self.message.setText("")
        n = len(params.shapes)
        self.summary.setText(f"{params.image_count()} files: {n} classes x ({params.train_per_class} train + "
                             f"{params.test_per_class} test) scenes x 2 domains, {params.size} px")
        if self._worker is None:
            self.progress.setRange(0, params.image_count())
            self.progress.setValue(0)
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self._worker is not None
        self.generate_button.setEnabled(not busy and not self.message.text())
        self.cancel_button.setEnabled(busy)
        target = self.output.text()
        self.use_button.setEnabled(not busy and bool(target) and (Path(target) / "trainA").is_dir())

    def _on_generate(self) -> None:
        if self._worker is not None:
            return
        params = self.params()
        target = self.output.text()
        try:
            params.validate()
            if not target:
                raise UserError("choose an output folder for the dataset first")
        except UserError as exc:
            show_warning(self, "Cannot generate the dataset", str(exc))
            return
        self._worker = DatasetWorker(params, target, overwrite=self.overwrite.isChecked())
        self._worker.signals.progressed.connect(self._on_progressed)
        self._worker.signals.failed.connect(self._on_failed)
        self._worker.signals.finished.connect(self._on_finished)
        self.progress.setRange(0, params.image_count())
        self.progress.setValue(0)
        self._update_buttons()
        self.status_changed.emit(f"Generating {params.image_count()} files into {target}…")
        self._worker.start()

    def _on_cancel(self) -> None:
        if self._worker is not None:
            self._worker.abort()

    def _on_progressed(self, done_total) -> None:
        done, total = done_total
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def _on_failed(self, message: str) -> None:
        show_error(self, "Dataset generation failed", message)

    def _on_finished(self, path) -> None:
        self._worker = None
        if path is None:
            self.progress.setValue(0)
            self.status_changed.emit("Dataset generation stopped; the folder was left as it was")
        else:
            self.status_changed.emit(f"Dataset written to {path}")
            self.dataset_generated.emit(str(path))
        self._update_buttons()
        self.idle.emit()

    def _on_use(self) -> None:
        self.dataset_chosen.emit(self.output.text())

    # --- window hooks ----------------------------------------------------------------------------
    def export_widget(self) -> QWidget:
        return self.preview

    @property
    def busy(self) -> bool:
        return self._worker is not None

    def shutdown(self) -> None:
        if self._worker is not None:
            self._worker.abort()
