"""A classifier started from another classification run (`config.init_from`): from a
1,000-class run as `jcnn.pretrained` writes one, with `init_exclude` re-initialising the
head, checked leaf by leaf before any step."""
import ml_collections
import numpy as np
import pytest

from jcnn import runs, tasks
from jcnn.tasks import init_from
from jcnn.training.setup import set_up
from tests.helpers import flat_leaves, fresh_params, tiny_config, write_imported_run


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
  return write_imported_run(tmp_path_factory.mktemp("imported") / "run")


def _set_up(tmp_path, **fields):
  config = tiny_config(train_examples=64, eval_examples=32, **fields)
  task = tasks.get(config.task)
  tasks.validate(config)
  with runs.Run.create(tmp_path / "finetune", config, tasks.identity(config)) as run:
    return set_up(config, task, run)


def test_init_exclude_reinitialises_exactly_the_head_and_copies_the_rest_bitwise(
    imported, tmp_path):
  setup = _set_up(tmp_path, init_from=str(imported), init_exclude="^output/")
  started = flat_leaves(setup.state.params)
  source = flat_leaves(tasks.restore(runs.Run.open(imported)).variables["params"])
  fresh = flat_leaves(fresh_params())
  assert source["output/kernel"].shape == (84, 1000)
  assert started.keys() == fresh.keys()
  for path, value in started.items():
    expected = fresh[path] if path.startswith("output/") else source[path]
    np.testing.assert_array_equal(value, expected, err_msg=path)  # bitwise
    if path.endswith("kernel"):  # random in both (biases start at zero in both)
      assert not np.array_equal(value, source[path] if path.startswith("output/")
                                else fresh[path]), path
  assert setup.training.dataset_info["mean"] == [0.25]  # the source's normalisation
  assert setup.training.dataset_info["std"] == [0.5]
  assert len(setup.training.dataset_info["class_names"]) == 10


def test_batch_statistics_are_copied_too(tmp_path):
  kwargs = dict(batch_norm=True, lrn=False)
  source = write_imported_run(tmp_path / "imported", "cifar_convnet", model_kwargs=kwargs)
  setup = _set_up(tmp_path, model="cifar_convnet", model_kwargs=kwargs, resize=32,
                  init_from=str(source), init_exclude="^fc/")
  stats = flat_leaves(tasks.restore(runs.Run.open(source)).variables["batch_stats"])
  started = flat_leaves(setup.state.batch_stats)
  assert started.keys() == stats.keys() and "bn1/var" in stats
  for path, value in started.items():
    np.testing.assert_array_equal(value, stats[path])
    assert not np.array_equal(value, 1.0 if path.endswith("var") else 0.0)  # not fresh


def test_a_head_of_another_shape_is_named_with_both_shapes(imported, tmp_path):
  with pytest.raises(ValueError) as error:
    _set_up(tmp_path, init_from=str(imported))
  message = str(error.value)
  assert "output/bias is (1000,) there, (10,) here; re-initialise it with " \
         "config.init_exclude" in message and "\n" not in message


def test_an_init_exclude_that_matches_nothing_is_refused(imported, tmp_path):
  with pytest.raises(ValueError, match=r"config.init_exclude: '\^fc/' matches no parameter "
                                       r"path \(they run from 'c1/bias' to 'output/kernel'\)"):
    _set_up(tmp_path, init_from=str(imported), init_exclude="^fc/")


def test_a_model_kwarg_of_the_source_must_be_set_alike(tmp_path):
  kwargs = dict(batch_norm=True, lrn=False)
  source = write_imported_run(tmp_path / "imported", "cifar_convnet", model_kwargs=kwargs)
  with pytest.raises(ValueError, match=r"trained cifar_convnet with model_kwargs.batch_norm="
                                       r"True; set it alike here \(this run: None\)"):
    _set_up(tmp_path, model="cifar_convnet", model_kwargs=dict(lrn=False), resize=32,
            init_from=str(source), init_exclude="^fc/")


@pytest.mark.parametrize("fields, message", [
    (dict(init_exclude="fc"), "config.init_exclude='fc' needs config.init_from"),
    (dict(init_from="x", init_exclude="[fc"), r"config.init_exclude='\[fc' is not a regular "
                                              "expression"),
])
def test_bad_init_fields_are_refused_in_one_line(fields, message):
  with pytest.raises(ValueError, match=message) as error:
    tasks.validate(tiny_config(**fields))
  assert "\n" not in str(error.value)


def test_a_detectors_init_exclude_keeps_the_matched_backbone_layers_fresh():
  fresh, trained = np.zeros((3, 3, 1, 4), np.float32), np.ones((3, 3, 1, 4), np.float32)
  params = {"body": {"conv1": {"kernel": fresh}, "conv2": {"kernel": fresh}},
            "rpn": {"conv": {"kernel": fresh}}}
  pretrained = {"params": {"conv1": {"kernel": trained}, "conv2": {"kernel": trained},
                           "fc": {"kernel": trained}}}
  config = ml_collections.ConfigDict(dict(init_from="classifier", model="small_vgg",
                                          head=(64,), init_exclude="^body/conv2/"))
  out = init_from.backbone_and_head(params, pretrained, config)
  np.testing.assert_array_equal(out["body"]["conv1"]["kernel"], trained)
  np.testing.assert_array_equal(out["body"]["conv2"]["kernel"], fresh)
  np.testing.assert_array_equal(out["rpn"]["conv"]["kernel"], fresh)
  config.init_exclude = "^conv2/"  # the classifier's path, not the detector's
  with pytest.raises(ValueError, match=r"config.init_exclude: '\^conv2/' matches no parameter"):
    init_from.backbone_and_head(params, pretrained, config)
