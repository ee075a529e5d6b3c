"""Real-data defaults of the experiment configs: budgets in epochs, native sizes of small faces,
and FERSynth defaults left as they are."""

import pytest

from ferjax.configs import sun_attention, sun_baseline, sun_gap
from ferjax.train import loop


def test_sun_on_fer2013_trains_epochs_at_48_pixels_with_the_whole_face():
    c = sun_attention.get_config("data=fer2013,classes=7")
    assert c.data.builder_kwargs.image_size == 48 and tuple(c.data.crop_size) == (48, 48)
    assert c.data.builder_kwargs.crop == "none" and c.data.batch_augment.translate == 4
    assert (c.train.num_steps, c.train.num_epochs, c.train.batch_size) == (0, 10.0, 64)
    assert loop.num_train_steps(c.train, 28_709) == 4_486
    assert c.train.schedule.kind == "cosine" and c.train.ema_decay > 0 and c.eval.tta == "flip"
    # An explicit step count still wins over the epochs.
    assert loop.num_train_steps(sun_attention.get_config("data=fer2013,steps=7").train,
                                28_709) == 7


def test_sun_on_face_detected_datasets_keeps_the_papers_size_and_trains_epochs():
    c = sun_baseline.get_config("data=rafd,data_config=front")
    assert tuple(c.data.crop_size) == (144, 112) and c.data.builder_kwargs.crop == "detect"
    assert c.train.num_steps == 0 and c.train.num_epochs == 50.0
    assert sun_gap.get_config("data=rafdb").train.num_epochs == 20.0


@pytest.mark.parametrize("module", [sun_attention, sun_baseline, sun_gap])
def test_sun_fersynth_defaults_are_unchanged(module):
    c = module.get_config(None)
    assert (c.train.num_steps, c.train.batch_size) == (300, 32)
    assert dict(c.train.schedule) == {"kind": "constant", "lr": 1e-3}
    assert c.train.ema_decay == 0.0 and c.eval.tta == "none"
    assert c.data.batch_augment.translate == 0 and tuple(c.data.crop_size) == (144, 112)


def test_other_configs_train_epochs_on_real_data_and_keep_fersynth_steps():
    from ferjax.configs import emotional_dan, feratt, jalal_self_attention
    jalal = jalal_self_attention.get_config("data=fer2013")
    assert jalal.data.builder_kwargs.image_size == 48 and tuple(jalal.data.crop_size) == (48, 48)
    assert (jalal.train.num_steps, jalal.train.num_epochs) == (0, 10.0)
    assert tuple(jalal_self_attention.get_config("data=kdef").data.crop_size) == (224, 224)
    assert jalal_self_attention.get_config("paper").train.num_epochs == 700.0
    assert jalal_self_attention.get_config(None).train.num_steps == 400
    dan = emotional_dan.get_config("data=ckplus")
    assert dan.stagewise.stage_steps == 0 and dan.train.num_epochs == 50.0
    assert emotional_dan.get_config("data=affectnet,paper").train.num_epochs == 40.0
    fersynth_dan = emotional_dan.get_config(None)
    assert fersynth_dan.stagewise.stage_steps == 300 and fersynth_dan.train.num_epochs == 40.0
    assert feratt.get_config("data=ckplus").train.num_epochs == 50.0
    assert feratt.get_config("data=ckplus,epochs=3").train.num_epochs == 3.0
    assert feratt.get_config(None).train.num_steps == 400
