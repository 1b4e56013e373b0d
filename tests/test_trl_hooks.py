"""The studio overrides no TRL step whose shape it has not checked.

A token-cache hit hands rows a trainer prepared before to DPO, KTO, ORPO and SimPO (CPO) trainers, whose
TRL 1.x has no option to skip tokenizing: ``studio.methods.base.as_prepared`` replaces exactly one step
(PREPARE_HOOKS). This test fails as soon as an installed TRL renames that step, changes its parameters or
stops calling it from the trainer's constructor, instead of a run tokenizing again or breaking mid-way.
"""

import inspect

import pytest

from studio.errors import StudioError
from studio.methods.base import PREPARE_HOOKS, as_prepared, hook_parameters


def trainers():
    from trl import DPOTrainer, KTOTrainer
    from trl.experimental.cpo import CPOTrainer
    from trl.experimental.orpo import ORPOTrainer

    return {"dpo": (DPOTrainer, "_prepare_dataset"), "kto": (KTOTrainer, "_prepare_dataset"),
            "orpo": (ORPOTrainer, "tokenize_row"), "simpo": (CPOTrainer, "tokenize_row")}


@pytest.mark.parametrize("method", ["dpo", "kto", "orpo", "simpo"])
def test_each_overridden_trl_step_keeps_its_name_parameters_and_caller(method):
    trainer_cls, hook = trainers()[method]
    name = f"{trainer_cls.__name__}.{hook}"
    assert hook_parameters(trainer_cls, hook) == PREPARE_HOOKS[hook], f"TRL changed {name}"
    assert f"self.{hook}" in inspect.getsource(trainer_cls.__init__), f"{name} is no longer called"
    prepared = as_prepared(trainer_cls, hook)
    assert issubclass(prepared, trainer_cls) and set(vars(prepared)) & set(PREPARE_HOOKS) == {hook}


def test_a_changed_step_is_refused_with_a_sentence():
    class Changed:
        def _prepare_dataset(self, dataset, processing_class, args):  # TRL dropped dataset_name, say
            return dataset

    said = r"Changed._prepare_dataset takes \(self, dataset, processing_class, args\).*install TRL"
    with pytest.raises(StudioError, match=said):
        as_prepared(Changed)
