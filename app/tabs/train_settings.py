"""The Train tab's model and training form: a preset and the hyper-parameters a user changes most."""
from __future__ import annotations

from PyQt5.QtWidgets import QComboBox, QFormLayout, QGroupBox

from cyclegan_workbench.app.widgets.forms import PresetBox, spin_box
from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.models.config import (
    CYCLE_LOSSES,
    PRESETS,
    SETTING_HELP,
    RunConfig,
    preset_config,
    validate,
)


class TrainingForm(QGroupBox):
    """Preset, epochs, decay epochs, batch size, learning rate, lambda cycle and identity, cycle loss, noise and
    margin, shape weight, figure balance, cycle encoder weight, image size, ngf, depth, device.
    `config(dataroot)` applies them to the preset and validates."""

    def __init__(self, parent=None):
        super().__init__("Model and training", parent)
        self.preset = PresetBox(PRESETS)
        self.preset.setToolTip("Architecture and training defaults; the fields below override them (the box "
                               "says \"edited\" when they differ from the preset)")
        self.preset.activated.connect(lambda _: self.load_preset(self.preset.currentText()))
        self.epochs = spin_box(0, 100000, "Epochs at the initial learning rate")
        self.epochs_decay = spin_box(0, 100000, "Epochs of linear learning-rate decay to zero")
        self.batch_size = spin_box(1, 1024, "Images per step")
        self.lr = spin_box(0.000001, 1.0, "Generator learning rate (Adam)", decimals=6, step=0.0001)
        self.lambda_cycle = spin_box(0, 1000, "Weight of both cycle-consistency losses", decimals=2, step=1.0)
        self.lambda_identity = spin_box(
            0, 100, "Identity loss weight, relative to lambda cycle. It applies only when both domains have the "
            "same channels (gray and gray, or RGB and RGB); between a gray and a colour domain it is always off",
            decimals=2, step=0.1)
        self.cycle_loss = QComboBox()
        self.cycle_loss.addItems(CYCLE_LOSSES)
        self.cycle_loss.setToolTip(SETTING_HELP["cycle_loss"])
        self.cycle_noise = spin_box(0, 5, SETTING_HELP["cycle_noise"], decimals=2, step=0.1)
        self.cycle_margin = spin_box(0, 0.5, SETTING_HELP["cycle_margin"], decimals=3, step=0.01)
        self.shape_weight = spin_box(0, 1000, SETTING_HELP["lambda_shape"], decimals=2, step=1.0)
        self.cycle_balance = spin_box(0, 1, SETTING_HELP["cycle_balance"], decimals=2, step=0.1)
        self.encoder_weight = spin_box(0, 1, SETTING_HELP["cycle_encoder_weight"], decimals=2, step=0.05)
        self.image_size = spin_box(8, 1024, "Training image size (images are resized to it)")
        self.ngf = spin_box(1, 512, "Generator filters in the first layer")
        self.depth = spin_box(3, 8, "U-Net downsamplings (the bottleneck is this deep)")
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda"])
        self._lay_out()

    def _lay_out(self) -> None:
        form = QFormLayout(self)
        form.addRow("Preset", self.preset)
        for w in (self.epochs, self.epochs_decay, self.batch_size, self.lr, self.lambda_cycle, self.lambda_identity,
                  self.cycle_noise, self.cycle_margin, self.shape_weight, self.cycle_balance, self.encoder_weight,
                  self.image_size, self.ngf, self.depth):
            w.valueChanged.connect(self._mark_edits)
        for box in (self.cycle_loss, self.device):
            box.currentIndexChanged.connect(self._mark_edits)
        for label, w in (("Epochs", self.epochs), ("Decay epochs", self.epochs_decay),
                         ("Batch size", self.batch_size), ("Learning rate", self.lr),
                         ("Lambda cycle", self.lambda_cycle), ("Lambda identity", self.lambda_identity),
                         ("Cycle loss", self.cycle_loss), ("Cycle noise (× contrast)", self.cycle_noise),
                         ("Cycle margin", self.cycle_margin),
                         ("Shape weight", self.shape_weight), ("Figure balance", self.cycle_balance),
                         ("Cycle → first generator", self.encoder_weight),
                         ("Image size", self.image_size), ("ngf", self.ngf), ("Depth (U-Net)", self.depth),
                         ("Device", self.device)):
            form.addRow(label, w)

    def _mark_edits(self, *_) -> None:
        preset = preset_config(self.preset.currentText())
        try:
            edited = self.config("").to_dict() != {**preset.to_dict(), "dataroot": ""}
        except UserError:
            edited = True
        self.preset.set_edited(edited)

    def load_preset(self, name: str) -> None:
        cfg = preset_config(name)
        self.preset.setCurrentText(name)
        self.set_config(cfg)
        self.device.setCurrentText(cfg.training.device)

    def set_config(self, cfg: RunConfig) -> None:
        """Show a configuration (a preset's, or a saved run's)."""
        if cfg.preset in PRESETS:
            self.preset.setCurrentText(cfg.preset)
        n, t = cfg.network, cfg.training
        self.epochs.setValue(t.n_epochs)
        self.epochs_decay.setValue(t.n_epochs_decay)
        self.batch_size.setValue(t.batch_size)
        self.lr.setValue(t.lr)
        self.lambda_cycle.setValue(t.lambda_A)
        self.lambda_identity.setValue(t.lambda_identity)
        self.cycle_loss.setCurrentText(t.cycle_loss)
        self.cycle_noise.setValue(t.cycle_noise)
        self.cycle_margin.setValue(t.cycle_margin)
        self.shape_weight.setValue(t.lambda_shape)
        self.cycle_balance.setValue(t.cycle_balance)
        self.encoder_weight.setValue(t.cycle_encoder_weight)
        self.image_size.setValue(t.crop_size)
        self.ngf.setValue(n.ngf)
        self.depth.setValue(n.num_downs)
        self.depth.setEnabled(n.generator == "unet")
        self._mark_edits()

    def config(self, dataroot: str) -> RunConfig:
        """The preset with the form's values applied; UserError naming a setting that cannot work."""
        cfg = preset_config(self.preset.currentText())
        cfg.dataroot = dataroot
        n, t = cfg.network, cfg.training
        n.ngf, n.num_downs = self.ngf.value(), self.depth.value()
        t.n_epochs, t.n_epochs_decay = self.epochs.value(), self.epochs_decay.value()
        t.batch_size, t.lr = self.batch_size.value(), self.lr.value()
        t.lambda_A = t.lambda_B = self.lambda_cycle.value()
        t.lambda_identity = self.lambda_identity.value()
        t.cycle_loss = self.cycle_loss.currentText()
        t.cycle_noise = self.cycle_noise.value()
        t.cycle_margin = self.cycle_margin.value()
        t.lambda_shape = self.shape_weight.value()
        t.cycle_balance = self.cycle_balance.value()
        t.cycle_encoder_weight = self.encoder_weight.value()
        t.load_size = t.crop_size = self.image_size.value()
        t.device = self.device.currentText()
        validate(cfg)
        return cfg

    def set_editable(self, on: bool) -> None:
        for w in (self.preset, self.epochs, self.epochs_decay, self.batch_size, self.lr, self.lambda_cycle,
                  self.lambda_identity, self.cycle_loss, self.cycle_noise, self.cycle_margin, self.shape_weight,
                  self.cycle_balance, self.encoder_weight, self.image_size, self.ngf, self.device):
            w.setEnabled(on)
        self.depth.setEnabled(on and preset_config(self.preset.currentText()).network.generator == "unet")
