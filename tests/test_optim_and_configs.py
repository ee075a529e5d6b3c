import pytest

from ferjax.configs import pieces, sun_attention, sun_baseline, sun_gap
from ferjax.train import optim


def test_triangular_schedule_matches_the_formula_by_hand():
    s = optim.triangular_cyclical_schedule(1e-4, 0.05, 10_000)
    assert float(s(0)) == pytest.approx(1e-4)
    assert float(s(10_000)) == pytest.approx(0.05)
    assert float(s(5_000)) == pytest.approx(1e-4 + 0.5 * (0.05 - 1e-4))
    assert float(s(20_000)) == pytest.approx(1e-4)
    assert float(s(25_000)) == pytest.approx(float(s(5_000)))


def test_cosine_schedule_warms_up_and_decays():
    s = optim.make_schedule({"kind": "cosine", "lr": 1.0, "warmup_steps": 10}, 110)
    assert float(s(0)) == 0.0 and float(s(10)) == pytest.approx(1.0)
    assert float(s(110)) == pytest.approx(0.0, abs=1e-6)


def test_bad_optimiser_and_schedule_names_are_named():
    with pytest.raises(ValueError, match="config.train.schedule.kind='linear'"):
        optim.make_schedule({"kind": "linear"}, 10)
    with pytest.raises(ValueError, match="config.train.optimizer.name='adagrad'"):
        optim.make_optimizer({"name": "adagrad"}, optim.make_schedule(
            {"kind": "constant", "lr": 0.1}, 1))


def test_config_arguments_are_typed_and_checked():
    c = sun_attention.get_config("variant=symmetric,beta=2,steps=7,cv")
    assert c.model.symmetric and c.model.beta == 2.0 and c.train.num_steps == 7
    assert c.protocol == "kfold"
    assert sun_baseline.get_config("classes=7").data.label_space == "seven"
    assert sun_gap.get_config(None).model.name == "sun_gap"
    with pytest.raises(ValueError, match="unknown config argument 'varient'"):
        sun_attention.get_config("varient=symmetric")
    with pytest.raises(ValueError, match="variant='mirror'"):
        sun_attention.get_config("variant=mirror")
    with pytest.raises(ValueError, match="classes=6"):
        sun_attention.get_config("classes=6")


def test_parse_arg_rejects_values_of_the_wrong_type():
    with pytest.raises(ValueError):
        pieces.parse_arg("steps=many", {"steps": 3})
    with pytest.raises(ValueError, match="is not a boolean"):
        pieces.parse_arg("cv=maybe", {"cv": False})
    assert pieces.parse_arg("", {"a": 1}).a == 1


def test_default_workdir_is_stable_and_safe():
    from ferjax import launch
    assert str(launch.default_workdir("configs/sun_attention.py")) == "runs/sun_attention"
    assert str(launch.default_workdir("configs/sun_attention.py:variant=symmetric,cv")) == \
        "runs/sun_attention-variant=symmetric_cv"


def test_sun_real_data_has_the_papers_preprocessing_and_sizes():
    from ferjax.configs import sun_attention, sun_baseline
    front = sun_attention.get_config("data=rafd,data_config=front").data
    assert dict(front.builder_kwargs) == {"image_size": (160, 125), "grey": True, "crop": "detect",
                                          "crop_margin": 0.2, "mask": False,
                                          "illumination": "isotropic"}
    assert tuple(front.crop_size) == (144, 112)  # 13 px of horizontal jitter, as the paper
    pose = sun_baseline.get_config("data=rafd,data_config=pose").data
    assert pose.builder_kwargs.image_size == 284 and tuple(pose.crop_size) == (272, 272)
    assert pose.builder_kwargs.crop == "none" and pose.builder_kwargs.illumination == "isotropic"


def test_real_data_preprocessing_is_settable_from_the_command_line(monkeypatch):
    from absl import flags
    from ml_collections import config_flags
    argv = ["prog", "--config=configs/jalal_self_attention.py:data=kdef",
            "--config.data.builder_kwargs.crop=detect",
            "--config.data.builder_kwargs.illumination=isotropic"]
    monkeypatch.setattr("sys.argv", argv)  # config_flags reads the overrides from sys.argv
    fv = flags.FlagValues()
    config = config_flags.DEFINE_config_file("config", None, "", flag_values=fv)
    fv(argv)
    kwargs = config.value.data.builder_kwargs
    assert (kwargs.crop, kwargs.illumination, kwargs.mask) == ("detect", "isotropic", False)


def test_emotional_dan_z_scores_per_pixel_and_augments_z_scored_images():
    from ferjax.configs import emotional_dan
    data = emotional_dan.get_config(None).data
    assert data.normalisation == "per_pixel"
    assert data.augment.photometric_space == "standardised" and data.augment.brightness == 0.3
