"""Every action of the main window, registered once at startup (menus, keys and Help come from here)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from gpstoken_studio.actions import BRUSH_STEP, LAYER_KEYS, TOOL_KEYS, VIEW_KEYS, ZOOM_STEP, ActionRegistry
from gpstoken_studio.model.layout import LOCK_FEATURES, LOCK_GEOMETRY
from gpstoken_studio.model.project import SUFFIX
from gpstoken_studio.session import LAYERS
from gpstoken_studio.tools import Mode

if TYPE_CHECKING:
    from gpstoken_studio.widgets.main_window import MainWindow

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp);;All files (*)"
PROJECT_FILTER = f"GPSToken projects (*{SUFFIX})"
MODEL_FILTER = "Tokenizer checkpoints (*.safetensors *.pt);;All files (*)"


def register_actions(r: ActionRegistry, window: "MainWindow") -> None:
    """File, Edit, Tools, View and Help actions of ``window``."""
    r.add("open_image", "Open Image…", "File", lambda: window.ask_open(f"{IMAGE_FILTER};;{PROJECT_FILTER}"),
          "Ctrl+O")
    r.add("new_sketch", "New Layout Sketch", "File", window.new_sketch, "Ctrl+N",
          tip="A blank canvas to sketch or sample a layout and generate textures for it")
    r.add("new_layout_from_image", "New Layout from Image", "File", window.new_layout_from_image,
          tip="A square tile of the current image with its partition, to generate textures for")
    r.add("open_project", "Open Project…", "File", lambda: window.ask_open(PROJECT_FILTER), "Ctrl+Shift+O")
    r.add("open_model", "Open Model Checkpoint…", "File", window.ask_open_model, "Ctrl+Alt+O",
          tip="Reconstruct with a tokenizer checkpoint: ours, a training .pt, or an official file with its YAML")
    r.add("save_project", "Save Project", "File", window.save, "Ctrl+S")
    r.add("save_project_as", "Save Project As…", "File", window.save_as, "Ctrl+Shift+S")
    r.add("export_reconstruction", "Export Reconstruction PNG…", "File", window.ask_export_reconstruction, "Ctrl+E")
    r.add("export_tokens", "Export Tokens (.npz)…", "File", window.ask_export_tokens, "Ctrl+Shift+E")
    r.add("export_overlay", "Export Overlay PNG…", "File", window.ask_export_overlay, "Ctrl+Alt+E")
    r.add("quit", "Quit", "File", window.close, "Ctrl+Q")
    session = window.session
    r.add("undo", "Undo", "Edit", session.undo, "Ctrl+Z")
    r.add("redo", "Redo", "Edit", session.redo, "Ctrl+Shift+Z")
    r.add("delete", "Delete Selected", "Edit", window.delete_selected, "Delete")
    r.add("select_all", "Select All", "Edit", session.select_all, "Ctrl+A")
    r.add("select_none", "Select None", "Edit", lambda: session.select([]), "Escape")
    r.add("lock_geometry", "Lock Geometry", "Edit", lambda: window.lock(LOCK_GEOMETRY, True), "L")
    r.add("lock_features", "Lock Features", "Edit", lambda: window.lock(LOCK_FEATURES, True), "Shift+L")
    r.add("unlock", "Unlock", "Edit", lambda: window.lock(LOCK_GEOMETRY | LOCK_FEATURES, False), "Alt+L")
    r.add("split", "Split Region", "Edit", window.region_actions.split, "S",
          tip="Split the selected token's region in two (the partition's rule)")
    r.add("merge", "Merge Regions", "Edit", window.region_actions.merge, "G",
          tip="Merge two selected adjacent regions into one")
    r.add("repartition", "Re-partition (drop layout edits)", "Edit", window.repartition, "Ctrl+R")
    r.add("tokens_more", "Double Token Count", "Edit", lambda: session.step_token_count(2.0), "PgUp")
    r.add("tokens_fewer", "Halve Token Count", "Edit", lambda: session.step_token_count(0.5), "PgDown")
    r.add("rerun", "Run Full Path Again", "Edit", session.rerun, "F5")
    r.add("refine", "Refine Reconstruction (model engine)", "Edit", session.refine, "Ctrl+Shift+R",
          tip="Optimise the model's tokens of this image through its decoder (again: stop and keep the best)")
    r.add("sweep", "Sweep Token Counts (rate-quality plot)", "Edit", session.sweep, "Ctrl+T")
    for mode in Mode:
        r.add(f"tool_{mode.value}", mode.value.capitalize(), "Tools", lambda m=mode: window.set_mode(m),
              TOOL_KEYS[mode], checkable=True, group="tools", tip=f"{mode.value.capitalize()} tool")
    r.add("brush_smaller", "Smaller Brush", "Tools", lambda: session.scale_brush(1 / BRUSH_STEP), "[")
    r.add("brush_larger", "Larger Brush", "Tools", lambda: session.scale_brush(BRUSH_STEP), "]")
    for key, title in LAYERS:
        r.add(f"show_{key}", f"Show {title}", "View", lambda k=key: window.toggle_layer(k), LAYER_KEYS[key],
              checkable=True)
    r.add("show_error", "Error Heatmap (right view)", "View", window.toggle_error, VIEW_KEYS["show_error"],
          checkable=True)
    r.add("zoom_in", "Zoom In", "View", lambda: window.canvas.zoom(ZOOM_STEP), VIEW_KEYS["zoom_in"])
    r.add("zoom_out", "Zoom Out", "View", lambda: window.canvas.zoom(1 / ZOOM_STEP), VIEW_KEYS["zoom_out"])
    r.add("zoom_fit", "Fit to Window", "View", window.fit_view, VIEW_KEYS["zoom_fit"])
    r.add("training", "Training Panel", "View", window.show_training, "Ctrl+Shift+T",
          tip="Train a tokenizer and open its checkpoints")
    r.add("generate", "Generate Panel", "View", window.show_generate, "Ctrl+Shift+G",
          tip="Sketch layouts and generate textures with the generators")
    r.add("shortcuts", "Keyboard Shortcuts", "Help", window.show_shortcuts, "F1")
    r.add("about", "About GPSToken Studio", "Help", window.about)
