"""Every model's Config checks its own values when it is constructed."""

from __future__ import annotations

import dataclasses
import math

import pytest

import models
from models import checks


def _rules(name: str) -> dict:
    return getattr(models.get(name).Config, "RULES", {})


def _fields(name: str) -> dict:
    return {f.name: f.default for f in dataclasses.fields(models.get(name).Config)}


def _never_valid(default) -> list:
    """Values no field of the default's kind accepts, whatever its range."""
    if isinstance(default, str):
        return ["no_such_choice"]
    return [math.nan, math.inf, -math.inf, "1", True, None]


def _bad_values(rule) -> list:
    """Values just outside a rule, and values of the wrong kind."""
    if isinstance(rule, checks.OneOf):
        return ["no_such_choice", 1]
    out = [math.nan, math.inf, -math.inf, "1", True]
    if rule.low is not None:
        out.append(rule.low if rule.low_open else rule.low - 1)
    if rule.high is not None:
        out.append(rule.high if rule.high_open else rule.high + 1)
    if rule.integer:
        out.append(1.5)
    return out


BAD = [(name, field, bad) for name in models.names() for field, rule in _rules(name).items()
       for bad in _bad_values(rule)]


NEVER = [(name, field, bad) for name in models.names()
         for field, default in _fields(name).items() for bad in _never_valid(default)]


@pytest.mark.parametrize("name", models.names())
def test_default_config_constructs_and_rules_cover_every_field(name):
    config = models.get(name).Config()
    fields = {f.name for f in dataclasses.fields(config)}
    assert fields
    if _rules(name):  # a Config that declares RULES (models/checks.py) declares them all
        assert set(_rules(name)) == fields


@pytest.mark.parametrize(("name", "field", "bad"), NEVER,
                         ids=[f"{n}.{f}={b!r}" for n, f, b in NEVER])
def test_every_field_of_every_model_refuses_what_it_can_never_be(name, field, bad):
    with pytest.raises(ValueError, match=f"^{field}={bad!r} "):
        models.get(name).Config(**{field: bad})


@pytest.mark.parametrize(("name", "field", "bad"), BAD,
                         ids=[f"{n}.{f}={b!r}" for n, f, b in BAD])
def test_a_value_outside_its_rule_is_one_line_naming_field_value_and_range(name, field, bad):
    cls = models.get(name).Config
    with pytest.raises(ValueError) as info:
        cls(**{field: bad})
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{field}={bad!r} ")
    assert _rules(name)[field].allowed in message


# the ranges themselves, from what each setting means (issue 14's probes among them)
@pytest.mark.parametrize(("name", "field", "bad"), [
    ("gan", "noise_dim", 0), ("dcgan", "noise_dim", 0), ("dcgan", "lr", -1.0),
    ("dcgan", "lr", 0.0), ("gan", "lr", math.nan), ("gan", "lr", math.inf),
    ("gan", "dropout", 1.5), ("gan", "dropout", 1.0), ("gan", "beta_1", 1.0),
    ("gan", "beta_1", -0.1), ("gan", "real_label", 0.0), ("gan", "real_label", 1.1),
    ("gan", "ema", 1.0), ("gan", "ema", -0.5), ("dcgan", "loss", "wasserstein"),
    ("ae", "sampler", "foo"), ("ae", "latent_dim", 0), ("ae", "components", 0),
    ("ae", "sampler_images", 0), ("ae", "sampler_seed", -1), ("ae", "lr", -1e-3),
    ("vae", "latent_dim", 0), ("vae", "lr", math.nan),
])
def test_known_bad_settings_are_refused(name, field, bad):
    with pytest.raises(ValueError, match=f"^{field}="):
        models.get(name).Config(**{field: bad})


@pytest.mark.parametrize(("name", "field", "good"), [
    ("gan", "beta_1", 0.0), ("gan", "dropout", 0.0), ("gan", "real_label", 1.0),
    ("gan", "ema", 0.999), ("dcgan", "loss", "hinge"), ("dcgan", "loss", "ls"),
    ("ae", "sampler", "gaussian"), ("ae", "sampler_seed", 0), ("vae", "latent_dim", 1),
])
def test_values_at_the_edges_of_the_ranges_are_accepted(name, field, good):
    assert getattr(models.get(name).Config(**{field: good}), field) == good


def test_unknown_choices_list_the_allowed_ones():
    with pytest.raises(ValueError, match=r"loss='no_such_loss' .*one of ns, ls, hinge$"):
        models.get("dcgan").Config(loss="no_such_loss")
    with pytest.raises(ValueError, match=r"sampler='foo' .*one of gmm, gaussian$"):
        models.get("ae").Config(sampler="foo")


def test_label_smoothing_needs_a_loss_with_a_real_target():
    with pytest.raises(ValueError, match="real_label=0.9 .*hinge"):
        models.get("gan").Config(loss="hinge", real_label=0.9)
    assert models.get("gan").Config(loss="ls", real_label=0.9).real_label == 0.9


def test_a_mixture_needs_as_many_fit_images_as_components():
    with pytest.raises(ValueError, match="components=20 .*sampler_images=10"):
        models.get("ae").Config(components=20, sampler_images=10)
    assert models.get("ae").Config(sampler="gaussian", components=20, sampler_images=10)


def test_dcgan_config_is_gans_with_the_same_defaults_but_averaging():
    gan, dcgan = models.get("gan").Config, models.get("dcgan").Config
    assert issubclass(dcgan, gan)
    # dcgan averages its generator by default: measured better on MNIST (models/dcgan.py)
    assert dataclasses.asdict(dcgan()) == {**dataclasses.asdict(gan()), "ema": 0.999}
    assert gan().ema == 0.0


def test_interval_says_what_it_allows():
    assert checks.FRACTION.allowed == "a finite number in [0, 1)"
    assert checks.POSITIVE.allowed == "a finite number > 0"
    assert checks.COUNT.allowed == "an integer >= 1"
    assert checks.Interval(0, 1, low_open=True).allowed == "a finite number in (0, 1]"
