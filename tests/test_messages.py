"""Every message a visitor can see about a training setting speaks in the words on the screen: the widget's
label, never an internal field name, what was typed (quoted) and, for a refusal, the value kept in force.
Messages are collected through the functions the handlers call (no server)."""

from __future__ import annotations

import re

import gradio as gr
import pytest

from app.common import labels, settings
from app.common.guard import guarded, parse_fields
from app.tabs.train2d.events import MODEL_FIELDS
from app.tabs.train2d.events import TRAIN_FIELDS as TRAIN_2D
from app.tabs.trainimg.events import TRAIN_FIELDS as TRAIN_IMG
from gan_core.training.config import TrainConfig
from gan_core.training.session import TrainingSession

INTERNAL = ("lr_d", "lr_g", "g_ema", "d_steps", "batch_size", "g_hidden", "d_hidden", "g_layers", "d_layers",
            "z_dim", "beta1", "unroll")
SMALL = {"g_hidden": 8, "d_hidden": 8, "g_layers": 1, "d_layers": 1}
BAD = ["abc", "", None, "nan", "inf", "-1", "1e30", "50", "7"]
NUMERIC = {"beta1", "lr_d", "lr_g", "d_steps", "batch_size", "unroll", "g_ema"}


def internal_names(text: str) -> list[str]:
    """Internal field names in `text` outside their own labels ("Adam beta1 (momentum)" is a label)."""
    text = text.replace(labels.LABELS["beta1"], "")
    return [n for n in INTERNAL if re.search(rf"\b{n}\b", text)]


def assert_in_words(message: str, typed) -> None:
    assert not internal_names(message), f"internal names {internal_names(message)} in {message!r}"
    assert labels.quoted(typed) in message, f"{message!r} does not quote what was typed ({typed!r})"


@pytest.fixture
def warnings_shown(monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(settings.gr, "Warning", lambda message, *a, **k: shown.append(message))
    return shown


def session() -> TrainingSession:
    return TrainingSession(TrainConfig(model=SMALL, lr_d=1e-3, lr_g=2e-3, batch_size=64), device="cpu")


def widget_values(cfg, names, name, v) -> list:
    return [v if k == name else getattr(cfg, k) for k in names]


@pytest.mark.parametrize("names", [TRAIN_2D, TRAIN_IMG], ids=["2d", "images"])
def test_every_refused_or_far_out_setting_speaks_in_labels(names, warnings_shown):
    s = session()
    seen = 0
    for name in [n for n in names if n in NUMERIC]:
        for v in BAD:
            before = s.trainer.cfg
            try:
                settings.apply_settings(s, names, widget_values(before, names, name, v))
            except ValueError as e:
                message = guarded_message(e)
                assert_in_words(message, v)
                assert message.startswith(labels.label(name)), message
                assert f"keeping {labels.show(getattr(before, name))}" in message, message
                assert s.trainer.cfg == before, "a refused setting leaves the settings in force alone"
                seen += 1
            else:
                s.set_hparams(**{name: getattr(before, name)})  # back to a sane value for the next case
    for message in warnings_shown:
        assert not internal_names(message), message
    assert seen >= 30


def guarded_message(error: Exception) -> str:
    """The text gr.Error shows for `error` raised inside a handler."""
    @guarded
    def handler():
        raise error

    with pytest.raises(gr.Error) as info:
        handler()
    return str(info.value.message)


def test_parse_fields_names_the_label_quotes_the_value_and_keeps_the_old_one():
    with pytest.raises(ValueError) as info:
        parse_fields(("lr_d",), ["abc"], {"lr_d": 0.001})
    assert str(info.value) == "D learning rate must be a number, got 'abc'; keeping 0.001"
    with pytest.raises(ValueError, match="Batch size must be a whole number, got an empty box; keeping 128"):
        parse_fields(("batch_size",), [None], {"batch_size": 128})
    for name in MODEL_FIELDS:
        if name in {"activation", "d_activation", "noise"}:
            continue
        with pytest.raises(ValueError) as info:
            parse_fields((name,), ["wide"], {name: 64})
        assert_in_words(str(info.value), "wide")
        assert str(info.value).startswith(labels.label(name)) and "keeping 64" in str(info.value)


def test_core_messages_are_translated_at_the_app_boundary():
    for name, v in (("lr_d", 50.0), ("lr_g", "x"), ("g_ema", 1.5), ("beta1", 7.0), ("d_steps", 99),
                    ("batch_size", 10**9), ("unroll", 99)):
        with pytest.raises(ValueError) as info:
            TrainConfig(**{name: v})
        assert str(info.value).startswith(name), "the core (and the CLI) keep the field names"
        message = guarded_message(info.value)
        assert not internal_names(message) and message.startswith(labels.label(name)), message
    assert labels.in_words(labels.in_words("beta1 and beta2")) == "Adam beta1 (momentum) and beta2"


def test_model_config_messages_name_the_labels():
    from gan_core.models.mlp import MLPConfig

    for name in ("g_hidden", "d_hidden", "g_layers", "d_layers", "z_dim"):
        with pytest.raises(ValueError) as info:
            MLPConfig(**{name: 10**6})
        message = guarded_message(info.value)
        assert labels.label(name) in message and not internal_names(message), message


def test_far_out_values_are_applied_with_a_warning(warnings_shown):
    s = session()
    settings.apply_settings(s, TRAIN_2D, widget_values(s.trainer.cfg, TRAIN_2D, "lr_d", "5"))
    assert s.trainer.cfg.lr_d == 5.0, "a far-out value still applies"
    assert len(warnings_shown) == 1
    assert "D learning rate 5" in warnings_shown[0] and "0.1" in warnings_shown[0]
    settings.apply_settings(s, TRAIN_2D, widget_values(s.trainer.cfg, TRAIN_2D, "batch_size", 32))
    assert len(warnings_shown) == 1, "only the setting that changed is judged"
    settings.apply_settings(s, TRAIN_2D, widget_values(s.trainer.cfg, TRAIN_2D, "g_ema", "0.5"))
    assert "G weight EMA 0.5" in warnings_shown[-1] and "0.9" in warnings_shown[-1]
    for name, v in (("lr_g", "1e-7"), ("g_ema", "0"), ("g_ema", "0.999"), ("lr_g", "0.0002")):
        n = len(warnings_shown)
        settings.apply_settings(s, TRAIN_2D, widget_values(s.trainer.cfg, TRAIN_2D, name, v))
        assert len(warnings_shown) == n + (v == "1e-7"), (name, v, warnings_shown[n:])


def test_the_widgets_go_back_to_the_settings_in_force():
    s = session()
    widgets = {k: f"component-{k}" for k in TRAIN_2D}
    with pytest.raises(ValueError):
        settings.apply_settings(s, TRAIN_2D, widget_values(s.trainer.cfg, TRAIN_2D, "lr_d", "abc"))
    shown = settings.in_force(s, widgets)
    assert shown["component-lr_d"] == 1e-3 and shown["component-batch_size"] == 64


def test_explorer_whole_numbers_name_the_widget_and_quote_the_box():
    from app.tabs.explore.parse import int_in

    with pytest.raises(ValueError, match="^Seed must be a whole number, got an empty box$"):
        int_in(None, 0, 10, "seed")
    with pytest.raises(ValueError, match="^Seed must be a whole number from 0 to 10, got '11'$"):
        int_in(11, 0, 10, "seed")
