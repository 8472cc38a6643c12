import os
import pickle

import pytest
import torch

from seqarena.checkpoint import OPTIMIZER, WEIGHTS, Checkpoints
from seqarena.errors import DataError
from seqarena.models import ModelConfig, build_model
from seqarena.tasks import load_task
from seqarena.train import TrainConfig, fit, seed_everything

CONFIG = TrainConfig(steps=24, batch_size=16, eval_every=6, lr=3e-3, seed=5)


class Interrupted(Exception):
    pass


def stream(task, stop_after=None):
    for count, batch in enumerate(task.batches(CONFIG.batch_size, torch.Generator().manual_seed(CONFIG.seed))):
        if count == stop_after:
            raise Interrupted
        yield batch


def train(checkpoints=None, stop_after=None):
    task = load_task("adding", length=10, n_train=256, n_val=64, n_test=64)
    seed_everything(CONFIG.seed)
    # dropout makes the RNG state part of what a resume must restore
    model = build_model(task.spec, ModelConfig(mixer="lstm", d_model=16, n_layers=1, dropout=0.2))
    result = fit(model, stream(task, stop_after), lambda m: task.evaluate(m, "val"), CONFIG,
                 checkpoints=checkpoints)
    return result, model


def test_a_run_interrupted_and_resumed_ends_like_an_uninterrupted_one(tmp_path):
    reference, reference_model = train()
    checkpoints = Checkpoints(tmp_path / "run", every=5)
    with pytest.raises(Interrupted):
        train(checkpoints, stop_after=13)
    assert [path.name for path in checkpoints.folders()] == ["step-000000010"]
    # a new process would rebuild model and data from scratch: so does this
    resumed, resumed_model = train(checkpoints)
    assert resumed.resumed_from == 10
    for name, tensor in reference_model.state_dict().items():
        torch.testing.assert_close(resumed_model.state_dict()[name], tensor, rtol=0, atol=0)
    assert resumed.history == reference.history and resumed.best_val == reference.best_val


def test_checkpoints_are_written_whole_and_only_the_newest_is_kept(tmp_path):
    checkpoints = Checkpoints(tmp_path / "run", every=4)
    train(checkpoints)
    folder = checkpoints.latest()
    assert [path.name for path in checkpoints.folders()] == ["step-000000020"]
    assert not [path for path in (tmp_path / "run").iterdir() if path.name.endswith(".tmp")]
    assert {path.name for path in folder.iterdir()} >= {WEIGHTS, OPTIMIZER, "state.json", "rng.safetensors"}


class Payload:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_crafted_pickle_in_a_checkpoint_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    checkpoints = Checkpoints(tmp_path / "run", every=4)
    train(checkpoints)
    with open(checkpoints.latest() / OPTIMIZER, "wb") as handle:
        pickle.dump({"state": Payload()}, handle)
    with pytest.raises(DataError, match="cannot be loaded safely"):
        train(checkpoints)
    assert not (tmp_path / "pwned").exists()


def test_a_weights_file_that_is_not_safetensors_is_refused(tmp_path):
    checkpoints = Checkpoints(tmp_path / "run", every=4)
    train(checkpoints)
    (checkpoints.latest() / WEIGHTS).write_bytes(pickle.dumps(Payload()))
    with pytest.raises(DataError, match="cannot be loaded safely"):
        train(checkpoints)


def test_a_checkpoint_of_a_step_already_saved_replaces_it(tmp_path):
    """An earlier attempt (or an orphaned worker) cut off after renaming its folder must not fail the run."""
    from seqarena.checkpoint import TrainState

    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    checkpoints = Checkpoints(tmp_path / "run", every=1)
    state = TrainState(step=5)
    first = checkpoints.save(model, None, optimizer, state)
    with torch.no_grad():
        model.weight.fill_(1.0)
    again = checkpoints.save(model, None, optimizer, state)
    assert again == first and checkpoints.folders() == [first]
