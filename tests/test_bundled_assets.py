"""The asset registry: every reader finds what ships with a model through `ganlens.bundled`."""

from __future__ import annotations

from ganlens import bundled
from ganlens.directions import load_bundled
from ganlens.invert.cache import default_method
from ganlens.models import load
from ganlens.scoring import choose_guards


def test_the_registry_lists_the_files_that_ship_with_synthfaces64():
    ships = bundled.shipped_with("synthfaces64")
    assert ships["predictor"] == "synthfaces64" and ships["guard"] == "synthfaces64-independent"
    assert ships["encoder"] and ships["controls"] == ["encoders", "boundary"]
    assert ships["direction_sets"] == {"boundary": len(load_bundled("synthfaces64")),
                                       "gradient": len(load_bundled("synthfaces64", "gradient"))}
    assert ships["direction_sets"]["boundary"] == 13
    every = [bundled.generator_file("synthfaces64"), bundled.encoder_file("synthfaces64"),
             *(bundled.controls_file("synthfaces64", m) for m in bundled.CONTROL_METHODS),
             *(stem.with_suffix(s) for stem in bundled.PREDICTORS.values() for s in (".safetensors", ".json"))]
    assert all(p is not None and p.is_file() and p.parent == bundled.ASSETS for p in every)


def test_a_model_without_assets_ships_nothing_and_readers_fall_back():
    assert bundled.shipped_with("random-tiny") == {"predictor": None, "guard": None, "encoder": False,
                                                   "controls": [], "direction_sets": {}}
    G = load("random-tiny")
    assert default_method(G) == "optim" and load_bundled("random-tiny") == {}
    assert choose_guards(["auto"], "random-tiny", ["age"]) == []


def test_a_derived_model_reads_with_its_parents_predictors():
    assert bundled.parent_model("synthfaces64-control") == "synthfaces64"
    assert bundled.predictor_name("synthfaces64-control") == "synthfaces64"
    assert bundled.guard_name("synthfaces64-control") == "synthfaces64-independent"
    assert bundled.parent_model("mine-control") == "mine-control"  # "mine" ships nothing to inherit
    assert bundled.predictor_name("mine-control") is None and bundled.encoder_file("synthfaces64-control") is None
