"""The ``gpstoken-studio`` command.

``gpstoken-studio [IMAGE] [--model CKPT [--config YAML]] [--screenshot OUT.png] [--tokens N] [--engine fit|model]``
``gpstoken-studio --web [IMAGE] [--port 8765] [--host 127.0.0.1] [--root DIR]`` serves it to a browser instead.
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
    web = p.add_argument_group("browser editor")
    web.add_argument("--web", action="store_true", help="serve the editor to a browser instead of opening a window")
    web.add_argument("--port", type=int, default=8765, help="--web: port (default 8765; 0 picks a free one)")
    web.add_argument("--host", default="127.0.0.1",
                     help="--web: address to listen on (default 127.0.0.1; any other prints a URL with an access token)")
    web.add_argument("--root", metavar="DIR", help="--web: folder the page's file browser may open and save in")
    return p


def settings_of(args: argparse.Namespace, engine: str):
    """The session's default Settings from the command line."""
    import dataclasses

    from gpstoken_studio.model.settings import Settings

    changes = {"engine": engine}
    for name, field in (("tokens", "tokens_per_tile"), ("steps", "fit_steps"), ("precision", "precision"),
                        ("undo_depth", "undo_depth")):
        if getattr(args, name) is not None:
            changes[field] = getattr(args, name)
    return dataclasses.replace(Settings(), **changes)


def serve_web(args: argparse.Namespace, engine: str, model: str | None) -> int:
    """``--web``: serve the editor until interrupted (imports no Qt and no vispy)."""
    from gpstoken.settings import set_threads
    from gpstoken_studio.web.server import make_server

    set_threads()
    server, url = make_server(args.image, host=args.host, port=args.port, root=args.root,
                              settings=settings_of(args, engine), model=model, config=args.config)
    print(f"GPSToken Studio: open {url}", flush=True)
    try:
        server.io_loop.start()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


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
    if args.web and args.screenshot:
        print("gpstoken-studio: --screenshot is for the window, not --web", file=sys.stderr)
        return 2
    if args.screenshot and not args.image:
        print("gpstoken-studio: --screenshot needs an IMAGE to open", file=sys.stderr)
        return 2
    try:
        engine, model = choose_engine(args.engine, args.model)
    except GPSTokenError as exc:
        print(f"gpstoken-studio: {exc}", file=sys.stderr)
        return 2
    if args.web:
        try:
            return serve_web(args, engine, model)
        except GPSTokenError as exc:
            print(f"gpstoken-studio: {exc}", file=sys.stderr)
            return 2
    import vispy
    from PySide6.QtWidgets import QApplication

    from gpstoken.settings import set_threads

    vispy.use("pyside6")
    set_threads()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("GPSToken Studio")
    app.setOrganizationName("gpstoken")
    try:
        settings = settings_of(args, engine)
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
