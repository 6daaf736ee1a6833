"""Shared fixtures: one running GAN Explorer app per test session, and gradio_client clients for it."""

from __future__ import annotations

import os
import socket

import pytest
import torch

torch.set_num_threads(1)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("gan-explorer-data")


@pytest.fixture(scope="session")
def shipped_dir(tmp_path_factory):
    """A checkpoints folder with one small 2D checkpoint (5 steps of stable-ring) and one broken file."""
    from gan_core import checkpoint
    from gan_core.training import presets
    from gan_core.training.trainer import Trainer

    folder = tmp_path_factory.mktemp("checkpoints")
    trainer = Trainer(presets.get("stable-ring").config.replace(eval_samples=500))
    for _ in range(5):
        trainer.step()
    checkpoint.save(str(folder / "tiny-ring.safetensors"), trainer)
    (folder / "broken.safetensors").write_bytes(b"not a checkpoint")
    return folder


@pytest.fixture(scope="session")
def app(app_data_dir, shipped_dir):
    """The app built with temporary data and checkpoint folders, served on a free local port."""
    from app.server import build_app, launch_options

    demo = build_app(device="cpu", data_dir=app_data_dir, checkpoints_dir=shipped_dir)
    demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                **launch_options(app_data_dir, demo))
    try:
        yield demo
    finally:
        demo.close()
        demo.app_context.shutdown()


@pytest.fixture(scope="session")
def app_url(app):
    return app.local_url.rstrip("/") + "/"


@pytest.fixture()
def make_client(app_url):
    """A factory of gradio_client clients; each client is its own browser-like session."""
    from gradio_client import Client

    clients = []

    def make():
        c = Client(app_url, verbose=False)
        clients.append(c)
        return c

    yield make
    for c in clients:  # stop every heartbeat first, then wait for them together (close() waits up to 1 s each)
        c._kill_heartbeat.set()
    for c in clients:
        c.close()


@pytest.fixture()
def client(make_client):
    return make_client()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture()
def page(request):
    """A Chromium page (Debian's chromium driven by Playwright; nothing is downloaded), on the running app.

    Without Chromium the test is skipped (before the app is started), except under CI (CI=true), where a
    browser test must never be skipped and fails instead."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
            pytest.fail(f"Chromium is missing at {CHROMIUM}: install Debian's chromium package to run the "
                        "browser tests (nothing is downloaded)")
        pytest.skip(f"Chromium is missing at {CHROMIUM}; `apt-get install chromium` (Debian's package) to "
                    "run the browser tests")
    request.getfixturevalue("app_url")  # the app is serving before the browser starts
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(60_000)  # generous: the test machine may be busy
        yield pg
        browser.close()
