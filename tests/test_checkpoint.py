import os
import pickle

import pytest
import torch

from seqarena.checkpoint import OPTIMIZER, WEIGHTS, Checkpoints
from seqarena.errors import StorageError
from seqarena.models import build_model
from seqarena.settings import ModelConfig, TrainConfig
from seqarena.tasks import load_task
from seqarena.train import fit, seed_everything

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
    assert [path.name for path in checkpoints.folders()] == ["step-000000005", "step-000000010"]
    # a new process would rebuild model and data from scratch: so does this
    resumed, resumed_model = train(checkpoints)
    assert resumed.resumed_from == 10
    for name, tensor in reference_model.state_dict().items():
        torch.testing.assert_close(resumed_model.state_dict()[name], tensor, rtol=0, atol=0)
    assert resumed.history == reference.history and resumed.best_val == reference.best_val


def test_checkpoints_are_written_whole_and_only_the_two_newest_are_kept(tmp_path):
    checkpoints = Checkpoints(tmp_path / "run", every=4)
    train(checkpoints)
    folder = checkpoints.newest_first()[0]
    assert [path.name for path in checkpoints.folders()] == ["step-000000016", "step-000000020"]
    assert not [path for path in (tmp_path / "run").iterdir() if path.name.endswith(".tmp")]
    assert {path.name for path in folder.iterdir()} >= {WEIGHTS, OPTIMIZER, "state.json", "rng.safetensors"}


class Payload:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_crafted_pickle_in_a_checkpoint_is_refused_and_the_run_resumes_from_the_one_before(tmp_path,
                                                                                           monkeypatch):
    monkeypatch.chdir(tmp_path)
    reference, _ = train()
    checkpoints = Checkpoints(tmp_path / "run", every=4)
    with pytest.raises(Interrupted):
        train(checkpoints, stop_after=22)
    with open(checkpoints.newest_first()[0] / OPTIMIZER, "wb") as handle:
        pickle.dump({"state": Payload()}, handle)
    with pytest.warns(UserWarning, match="cannot be loaded safely"):
        resumed, _ = train(checkpoints)
    assert not (tmp_path / "pwned").exists()
    assert resumed.resumed_from == 16 and resumed.history == reference.history


def test_with_every_checkpoint_damaged_the_run_starts_afresh_from_untouched_weights(tmp_path):
    """The newest checkpoint's weights may load before its optimiser state fails: the fresh start must not keep
    them."""
    reference, reference_model = train()
    checkpoints = Checkpoints(tmp_path / "run", every=4)
    with pytest.raises(Interrupted):
        train(checkpoints, stop_after=22)
    for folder in checkpoints.folders():
        (folder / OPTIMIZER).write_bytes(pickle.dumps(Payload()))
    with pytest.warns(UserWarning, match="cannot be loaded safely"):
        resumed, resumed_model = train(checkpoints)
    assert resumed.resumed_from == 0 and resumed.history == reference.history
    for name, tensor in reference_model.state_dict().items():
        torch.testing.assert_close(resumed_model.state_dict()[name], tensor, rtol=0, atol=0)


def test_a_checkpoint_that_cannot_be_written_stops_the_run_with_a_storage_error_and_keeps_the_older(tmp_path,
                                                                                                   monkeypatch):
    import errno

    from seqarena import checkpoint
    from seqarena.checkpoint import TrainState

    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    checkpoints = Checkpoints(tmp_path / "run", every=1)
    kept = checkpoints.save(model, None, optimizer, TrainState(step=1))

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint, "save_file", full)
    with pytest.raises(StorageError, match=r"cannot write a checkpoint into .*No space left on device"):
        checkpoints.save(model, None, optimizer, TrainState(step=2))
    assert checkpoints.folders() == [kept] and sorted(p.name for p in (tmp_path / "run").iterdir()) == [kept.name]


def test_only_the_writer_of_several_processes_saves_checkpoints(tmp_path):
    from seqarena.checkpoint import TrainState

    model = torch.nn.Linear(3, 2)
    reader = Checkpoints(tmp_path / "run", every=1, writer=False)
    assert reader.save(model, None, torch.optim.AdamW(model.parameters()), TrainState(step=1)) is None
    assert reader.folders() == []


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


class Constant(torch.nn.Module):
    """A model whose loss never moves: its validation stops improving after the first evaluation."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.tensor(1.0))

    def forward(self, batch):
        return self.weight * 0 + 1.0


def zeros(stop_after=None):
    count = 0
    while count != stop_after:
        count += 1
        yield {"x": torch.zeros(1, 1)}
    raise Interrupted


def test_a_run_resumed_in_its_cooldown_decays_as_the_uninterrupted_one_did(tmp_path):
    config = TrainConfig(steps=100, eval_every=5, patience=2, cooldown=10, lr=0.1, warmup=0)
    reference = fit(Constant(), zeros(), lambda m: {"loss": 1.0}, config)
    checkpoints = Checkpoints(tmp_path / "run", every=4)
    with pytest.raises(Interrupted):
        fit(Constant(), zeros(stop_after=18), lambda m: {"loss": 1.0}, config, checkpoints=checkpoints)
    resumed = fit(Constant(), zeros(), lambda m: {"loss": 1.0}, config, checkpoints=checkpoints)
    # patience ran out at step 15: the checkpoint of step 16 is inside the cooldown
    assert resumed.resumed_from == 16 and resumed.steps == reference.steps == 25
    assert [record["lr"] for record in resumed.history] == [record["lr"] for record in reference.history]
