"""The Training dock: the Qt front-end of a ``TrainingModel`` (the form, a detached ``gpstoken train
tokenizer`` run, its live curves, samples and checkpoints); a QTimer polls the run so the GUI never waits."""
from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QPixmap
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGridLayout, QHBoxLayout,
                               QLabel, QLineEdit, QListWidget, QListWidgetItem, QPlainTextEdit, QPushButton, QSpinBox,
                               QSplitter, QToolButton, QVBoxLayout, QWidget)

from gpstoken_studio.model.training_form import PRESETS, ema
from gpstoken_studio.session.training import TrainingModel

LAST_RUN_KEY = "training/last_run"
PLOT_MIN_HEIGHT = 200


class TrainingPanel(QWidget):
    """Start / stop / resume / extend / attach a tokenizer training run and watch it."""

    open_model = Signal(str)  # a checkpoint path, double-clicked in the list

    def __init__(self, parent: QWidget | None = None, poll_ms: int = 300, model: TrainingModel | None = None) -> None:
        super().__init__(parent)
        self.model = model or TrainingModel()
        self.form = self.model.form
        self._sample: Path | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(poll_ms)
        self.timer.timeout.connect(self.poll)
        self._build()
        events = self.model.events
        events.followed.connect(self._on_followed)
        events.polled.connect(lambda _history: self._redraw())
        events.status.connect(lambda message: self.status.setText(message))
        events.ended.connect(self._on_ended)
        self._sync_preview()
        last = QSettings().value(LAST_RUN_KEY, "")
        if last and Path(last).is_dir():
            self.attach(last)

    # --- widgets --------------------------------------------------------------------------------

    def _build(self) -> None:
        self.preset = QComboBox()
        self.preset.addItems(PRESETS)
        self.yaml = QLineEdit(placeholderText="YAML config (replaces the preset)")
        self.data = QLineEdit(placeholderText="image folder or list file")
        self.heldout = QLineEdit(placeholderText="default · a count · a folder or list")
        self.heldout.setToolTip("Images kept out of training for the PSNR curve and the samples: a count N (the "
                                "last N images of Data; 0: none), a folder or a list file. Default: the last fifth "
                                "of Data, at least 1 and at most the config's eval_images.")
        self.split = QLabel(wordWrap=True)
        self.steps = QSpinBox(maximum=10_000_000, specialValueText="config")
        self.batch = QSpinBox(maximum=4096, specialValueText="config")
        self.lr = QDoubleSpinBox(decimals=6, maximum=1.0, singleStep=1e-4, specialValueText="config")
        self.out = QLineEdit(placeholderText="run folder")
        self.device = QComboBox(editable=True)
        self.device.addItems(["", "cpu", "cuda"])
        self.preview = QLineEdit(readOnly=True)
        copy = QPushButton("Copy")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.preview.text()))
        form = QFormLayout()
        browse = {self.yaml: lambda: QFileDialog.getOpenFileName(self, "Training config", "", "YAML (*.yaml *.yml)")[0],
                  self.data: lambda: QFileDialog.getExistingDirectory(self, "Image folder"),
                  self.heldout: lambda: QFileDialog.getExistingDirectory(self, "Held-out image folder"),
                  self.out: lambda: QFileDialog.getExistingDirectory(self, "Run folder")}
        for label, w in (("Preset", self.preset), ("YAML", self.yaml), ("Data", self.data), ("Held out", self.heldout),
                         ("", self.split), ("Steps", self.steps), ("Batch", self.batch), ("Learning rate", self.lr),
                         ("Output", self.out), ("Device", self.device)):
            form.addRow(label, _with_browse(w, browse[w]) if w in browse else w)
        row = QHBoxLayout()
        row.addWidget(self.preview)
        row.addWidget(copy)
        form.addRow("Command", row)
        for w in (self.yaml, self.data, self.heldout, self.out):
            w.textChanged.connect(self._sync_preview)
        self._split_timer = QTimer(self, singleShot=True, interval=250)  # lists the data folder once typing stops
        self._split_timer.timeout.connect(lambda: self.split.setText(self.form.split()))
        self.preset.currentTextChanged.connect(self._sync_preview)
        self.device.currentTextChanged.connect(self._sync_preview)
        self.steps.valueChanged.connect(self._sync_preview)
        self.batch.valueChanged.connect(self._sync_preview)
        self.lr.valueChanged.connect(self._sync_preview)

        self.start_button, self.stop_button = QPushButton("Start"), QPushButton("Stop")
        self.resume_button, self.extend_button = QPushButton("Resume"), QPushButton("Extend")
        self.attach_button = QPushButton("Attach…")
        self.extend_steps = QSpinBox(minimum=1, maximum=10_000_000, value=1000, prefix="+")
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.resume_button.clicked.connect(lambda: self.resume())
        self.extend_button.clicked.connect(lambda: self.resume(self.extend_steps.value()))
        self.attach_button.clicked.connect(self._ask_attach)
        buttons = QGridLayout()  # two rows: the dock stays narrow
        for k, w in enumerate((self.start_button, self.stop_button, self.resume_button, self.extend_button,
                               self.extend_steps, self.attach_button)):
            buttons.addWidget(w, k // 3, k % 3)

        self.plot = pg.PlotWidget(background="#1b1c20")
        self.plot.setMinimumHeight(PLOT_MIN_HEIGHT)
        self.plot.setLabel("bottom", "step")
        self.plot.setLabel("left", "loss")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.raw_curve = self.plot.plot(pen=pg.mkPen((120, 170, 255, 70)))
        self.loss_curve = self.plot.plot(pen=pg.mkPen((120, 170, 255), width=2))
        self.psnr_view = pg.ViewBox()
        self.psnr_view.enableAutoRange(axis=pg.ViewBox.XAxis, enable=False)  # x follows the loss curve's view
        self.plot.showAxis("right")
        self.plot.setLabel("right", "PSNR", units="dB")
        self.plot.scene().addItem(self.psnr_view)
        self.plot.getAxis("right").linkToView(self.psnr_view)
        self.psnr_view.setXLink(self.plot.getPlotItem())
        self.plot.getViewBox().sigResized.connect(
            lambda: self.psnr_view.setGeometry(self.plot.getViewBox().sceneBoundingRect()))
        self.psnr_points = pg.ScatterPlotItem(size=7, brush=pg.mkBrush(255, 190, 80))
        self.psnr_view.addItem(self.psnr_points)

        self.status = QLabel("No run")
        self.rate = QLabel("")
        self.sample = QLabel(alignment=Qt.AlignCenter)
        self.sample.setMinimumHeight(120)
        self.models = QListWidget()
        self.models.itemDoubleClicked.connect(self._open_item)
        self.log = QPlainTextEdit(readOnly=True, maximumBlockCount=200)
        self.log.setVisible(False)

        below = QWidget()
        column = QVBoxLayout(below)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.sample, 1)
        column.addWidget(QLabel("Models and checkpoints (double-click to open)", wordWrap=True))
        column.addWidget(self.models, 1)
        column.addWidget(self.log, 1)
        self.splitter = QSplitter(Qt.Vertical, childrenCollapsible=False)  # drag its handle to resize the plot
        self.splitter.addWidget(self.plot)
        self.splitter.addWidget(below)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        self.settings = QWidget()  # the form, folded away while a run is followed (the plot comes up)
        self.settings.setLayout(form)
        form.setContentsMargins(0, 0, 0, 0)
        self.settings_toggle = QToolButton(text="Run settings", checkable=True, checked=True,
                                           toolButtonStyle=Qt.ToolButtonTextBesideIcon, autoRaise=True)
        self.settings_toggle.toggled.connect(self._show_settings)
        self._show_settings(True)
        layout.addWidget(self.settings_toggle)
        layout.addWidget(self.settings)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.rate)
        layout.addWidget(self.splitter, 1)
        self._sync_buttons()

    def _sync_preview(self, *_args) -> None:
        f = self.form
        f.preset, f.yaml, f.data = self.preset.currentText(), self.yaml.text().strip(), self.data.text().strip()
        f.heldout = self.heldout.text().strip()
        f.steps, f.batch, f.lr = self.steps.value(), self.batch.value(), float(self.lr.value())
        f.out, f.device = self.out.text().strip(), self.device.currentText().strip()
        self.preview.setText(f.command_text())
        self._split_timer.start()

    @property
    def run(self):
        return self.model.run

    @property
    def history(self):
        return self.model.history

    def _sync_buttons(self) -> None:
        running = self.model.running
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.resume_button.setEnabled(self.model.resumable)
        self.extend_button.setEnabled(self.model.resumable)

    # --- run control ----------------------------------------------------------------------------

    def start(self) -> None:
        """Launch the form's run (a new process session: it outlives the editor)."""
        self.model.start()

    def resume(self, extend: int = 0) -> None:
        """Continue the current run at its last checkpoint, ``extend`` steps past its total when > 0."""
        self.model.resume(extend)

    def stop(self) -> None:
        """Ask the trainer to save and exit (SIGINT); the timer sees the 'stopped' event."""
        self.model.stop()

    def attach(self, out: str | Path) -> bool:
        """Follow the run in ``out`` (running or finished), replaying its history."""
        if not self.model.attach(out):
            return False
        self.out.setText(str(self.model.run.out))
        return True

    def _ask_attach(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Attach to a training run folder")
        if folder:
            self.attach(folder)

    def _show_settings(self, shown: bool) -> None:
        self.settings.setVisible(shown)
        self.settings_toggle.setArrowType(Qt.DownArrow if shown else Qt.RightArrow)

    def _on_followed(self, run) -> None:
        self.settings_toggle.setChecked(False)
        self._sample = None
        self.log.setVisible(False)
        QSettings().setValue(LAST_RUN_KEY, str(run.out))
        self.timer.start()
        self._sync_buttons()

    # --- polling --------------------------------------------------------------------------------

    def poll(self) -> None:
        """Read new rows and redraw; the timer stops when the process has ended."""
        if not self.model.poll():
            self.timer.stop()
        self._sync_buttons()

    def _redraw(self) -> None:
        h = self.history
        if h.steps:
            self.raw_curve.setData(h.steps, h.losses)
            self.loss_curve.setData(h.steps, ema(h.losses))
        if h.psnr:
            xs, ys = zip(*h.psnr)
            self.psnr_points.setData(list(xs), list(ys))
            self.psnr_view.enableAutoRange(axis=pg.ViewBox.YAxis)  # its x would narrow the plot to evaluated steps
        eta = h.eta_s()
        self.rate.setText(f"step {h.step}/{h.total_steps or '?'} · {h.img_per_s:.1f} img/s"
                          + (f" · ETA {_duration(eta)}" if eta is not None else ""))
        sample = self.model.newest_sample()
        if sample is not None and sample != self._sample:
            self._sample = sample
            pix = QPixmap(str(sample))
            self.sample.setPixmap(pix.scaled(self.sample.width() or 300, 160, Qt.KeepAspectRatio))
        self._list_models()

    def _list_models(self) -> None:
        paths = [str(p) for p in self.model.models()]
        if paths == [self.models.item(i).data(Qt.UserRole) for i in range(self.models.count())]:
            return
        self.models.clear()
        for p in paths:
            item = QListWidgetItem(Path(p).name)
            item.setData(Qt.UserRole, p)
            item.setToolTip(p)
            self.models.addItem(item)

    def _open_item(self, item: QListWidgetItem) -> None:
        """Exports and training checkpoints alike (load_tokenizer takes a .pt's EMA weights)."""
        self.open_model.emit(item.data(Qt.UserRole))

    def _on_ended(self, log: str) -> None:
        """A failed run shows its log's tail."""
        self.log.setPlainText(log)
        self.log.setVisible(bool(log))


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _with_browse(edit: QLineEdit, ask) -> QWidget:
    """``edit`` with a "…" button that fills it from ``ask()`` (a file dialog; empty when cancelled)."""
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(edit)
    button = QPushButton("…")
    button.setFixedWidth(28)
    button.clicked.connect(lambda: (lambda path: path and edit.setText(path))(ask()))
    row.addWidget(button)
    return box
