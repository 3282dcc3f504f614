"""The browser editor's training panel with a real micro run: start it from the page, watch the live loss
curve gain points, stop it, resume it, and open its checkpoint in the model engine."""
from __future__ import annotations

import pytest
import torch

from gpstoken_studio.model.settings import Settings
from train_helpers import make_images
from web_helpers import browser, full_and_idle, open_tab, running_server, source_length, text_of, wait_for  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
torch.set_num_threads(1)
SETTINGS = Settings(tile=32, tokens_per_tile=16, fit_steps=5, engine="fit")  # the micro model's tiles


def run_status(tab) -> str:
    return text_of(tab, ".gps-train-status")


def test_a_micro_run_from_the_page_stops_resumes_and_opens_in_the_model_engine(browser, tmp_path):
    make_images(tmp_path / "data")
    image = make_images(tmp_path / "image", count=1, size=64) / "img0.png"
    with running_server(image, settings=SETTINGS, root=str(tmp_path)) as (url, pages, _):
        tab, studio = open_tab(browser, url, pages)
        training = studio.session.training
        tab.locator(".bk-tab", has_text="Training").click()
        tab.locator(".gps-train-preset select").select_option("micro")
        tab.locator(".gps-train-data input").fill("data")
        tab.locator(".gps-train-heldout input").fill("1")
        steps = tab.locator(".gps-train-steps input")
        steps.fill("1000000")
        steps.press("Enter")
        tab.locator(".gps-train-out input").fill("run")
        tab.locator(".gps-train-out input").press("Enter")
        try:
            tab.locator(".gps-train-start").get_by_role("button").click()
            wait_for(lambda: training.running, 30, what="the run's process")
            assert training.run.out == tmp_path / "run" and training.form.steps == 1_000_000
            wait_for(lambda: source_length(tab, "gps-train-loss", "step") >= 3, 60, what="three points of the live curve")
            shown = source_length(tab, "gps-train-loss", "step")
            wait_for(lambda: source_length(tab, "gps-train-loss", "step") > shown, 30, what="the curve growing")

            tab.locator(".gps-train-stop").get_by_role("button").click()
            wait_for(lambda: run_status(tab).startswith("Run stopped at step"), 60, what="the stopped run")
            stopped = training.history.step
            assert (tmp_path / "run" / "checkpoints" / "latest.pt").is_file()
            assert source_length(tab, "gps-train-loss", "step") == len(training.history.steps)
            assert source_length(tab, "gps-train-psnr", "psnr") == len(training.history.psnr) >= 1

            tab.locator(".gps-train-resume").get_by_role("button").click()
            wait_for(lambda: training.running and training.history.step > stopped, 60, what="the resumed run's steps")
            tab.locator(".gps-train-stop").get_by_role("button").click()
            wait_for(lambda: run_status(tab).startswith("Run stopped at step"), 60, what="the run stopped again")
            assert training.history.steps == sorted(set(training.history.steps))
        finally:
            if training.running:
                training.run.stop(60)

        checkpoint = str(tmp_path / "run" / "checkpoints" / "latest.pt")
        tab.locator(".gps-train-models select").select_option(label="latest.pt")
        first = studio.session.document.result
        tab.locator(".gps-train-open").get_by_role("button").click()
        wait_for(lambda: studio.session.engine.name == "model", 30, what="the model engine")
        assert studio.session.engine.checkpoint == checkpoint
        doc = studio.session.document
        wait_for(lambda: full_and_idle(studio) and doc.result is not first and doc.result.engine == "model", 60,
                 what="the model's reconstruction")
        wait_for(lambda: "model (full)" in text_of(tab, ".gps-metrics"), 30, what="the model's metrics in the page")
        tab.close()
