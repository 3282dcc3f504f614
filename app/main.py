"""The ``gpstoken-studio`` command.

``gpstoken-studio [IMAGE] [--model CKPT [--config YAML]] [--screenshot OUT.png] [--tokens N] [--engine fit|model]``
"""
from __future__ import annotations

import argparse
import sys

from gpstoken.errors import GPSTokenError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gpstoken-studio", description="GPSToken Studio: edit Gaussian image tokens.")
    p.add_argument("image", nargs="?", help="an image or a .gpsproj project to open")
    p.add_argument("--model", help="tokenizer checkpoint for the model engine (default: $GPSTOKEN_MODEL, else "
                   "the bundled default model)")
    p.add_argument("--config", help="YAML config for an official checkpoint")
    p.add_argument("--screenshot", metavar="OUT.png", help="render the window once the first result is in, save, exit")
    p.add_argument("--tokens", type=int, help="tokens per tile")
    p.add_argument("--engine", choices=("fit", "model"),
                   help="model (the default when a checkpoint is given or bundled) or fit (per-image fitting)")
    p.add_argument("--steps", type=int, help="fit steps of the full path")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"),
                   help="model engine precision (default auto: bf16 on GPUs and on CPUs with hardware bf16)")
    p.add_argument("--undo-depth", type=int, metavar="N", help="undo steps kept (default 200; the oldest go first)")
    return p


def choose_engine(engine: str | None, model: str | None) -> tuple[str, str | None]:
    """(engine, checkpoint): ``--model`` or else the default model (``gpstoken``'s lookup: $GPSTOKEN_MODEL,
    then the bundled one) makes "model" the default; without one it is "fit". ``--engine`` overrides (the
    checkpoint stays available to switch to); "model" with no checkpoint anywhere is a one-line GPSTokenError."""
    from gpstoken.models.default_model import default_model_path

    if model is None:
        try:
            model = str(default_model_path())
        except GPSTokenError:
            if engine == "model":
                raise
    return engine or ("model" if model else "fit"), model


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.config and not args.model:
        print("gpstoken-studio: --config needs --model", file=sys.stderr)
        return 2
    if args.screenshot and not args.image:
        print("gpstoken-studio: --screenshot needs an IMAGE to open", file=sys.stderr)
        return 2
    try:
        engine, model = choose_engine(args.engine, args.model)
    except GPSTokenError as exc:
        print(f"gpstoken-studio: {exc}", file=sys.stderr)
        return 2
    import dataclasses

    import vispy
    from PySide6.QtWidgets import QApplication

    from gpstoken.settings import set_threads
    from gpstoken_studio.model.settings import Settings

    vispy.use("pyside6")
    set_threads()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("GPSToken Studio")
    app.setOrganizationName("gpstoken")
    try:
        settings = Settings()
        changes = {"engine": engine}
        if args.tokens is not None:
            changes["tokens_per_tile"] = args.tokens
        if args.steps is not None:
            changes["fit_steps"] = args.steps
        if args.precision is not None:
            changes["precision"] = args.precision
        if args.undo_depth is not None:
            changes["undo_depth"] = args.undo_depth
        settings = dataclasses.replace(settings, **changes)
        from gpstoken_studio.widgets.main_window import MainWindow

        window = MainWindow(settings=settings, model=model, config=args.config)
    except GPSTokenError as exc:
        print(f"gpstoken-studio: {exc}", file=sys.stderr)
        return 2
    from gpstoken_studio.widgets.style import apply_dark_style

    apply_dark_style(app)
    window.prompts.unattended = bool(args.screenshot)
    # opened before the window shows: when nobody can answer, an error is one line on stderr and status 2
    if args.image and not window.open_path(args.image) and not window.prompts.can_ask():
        return 2
    window.show()
    if args.screenshot:
        status = {"code": 1}

        def finish(ok: bool) -> None:
            status["code"] = 2 if window.prompts.errors else 0 if ok else 1
            if status["code"] == 1:
                print("gpstoken-studio: no result before the screenshot timeout", file=sys.stderr)
            window.close()
            app.quit()

        window.screenshot_when_ready(args.screenshot, on_done=finish)
        app.exec()
        return status["code"]
    window.offer_recovery()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
