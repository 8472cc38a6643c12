from seqarena.catalog import MODELS, TASK_DOMAINS, is_recurrent, members, model_info
from seqarena.models import MIXERS
from seqarena.tasks import TASKS


def test_every_catalogued_model_and_task_has_a_builder_and_no_builder_is_uncatalogued():
    assert list(MIXERS) == list(MODELS)
    assert all(MIXERS[name].family == MODELS[name].family for name in MODELS)
    assert list(TASKS) == list(TASK_DOMAINS) and all(TASKS[name].domain == TASK_DOMAINS[name] for name in TASKS)


def test_families_group_the_registered_models():
    assert members("recurrent") == ("rnn", "lstm", "gru") and is_recurrent("mingru") and not is_recurrent("zero")
    assert model_info("reformer").reversible and model_info("transformer").default_positional == "sinusoidal"
