"""The dependent-step count (measure/dependency.py): a chain of ops is as long as it is, whatever runs beside it."""

import multiprocessing
import os
import time

import torch

from seqarena.measure.dependency import dependent_steps
from seqarena.measure.scaling import ScalingOptions, probe_model, random_batch


def loop_recurrence(steps):
    """h_t = tanh(W h_{t-1} + x_t), one step at a time, written into a preallocated buffer."""
    weight, inputs = torch.randn(4, 4), torch.randn(steps, 4)
    outputs = torch.zeros(steps, 4)

    def run():
        state = torch.zeros(4)
        for t in range(steps):
            state = torch.tanh(weight @ state + inputs[t])
            outputs[t] = state
        return outputs.sum()

    return run


def test_a_loop_recurrence_adds_its_ops_per_token_and_a_buffer_written_in_it_is_as_deep_as_its_last_write():
    short, long = dependent_steps(loop_recurrence(4)), dependent_steps(loop_recurrence(20))
    # per token: matmul, add, tanh, and the write into the buffer waits on tanh
    assert (long - short) / 16 == 3


def test_reading_a_weight_through_a_view_again_and_again_does_not_lengthen_the_chain():
    weight, inputs = torch.randn(8, 8), torch.randn(64, 8)

    def run():
        return [inputs[t] @ weight.t() for t in range(64)]

    assert dependent_steps(run) == 1


def test_a_cumulative_sum_counts_as_a_parallel_prefix_scan():
    assert dependent_steps(lambda: torch.randn(1, 1024).cumsum(dim=1)) == 1 + 10


def test_oneDNN_fused_lstm_counts_its_hidden_recurrence_per_layer():
    lstm, inputs = torch.nn.LSTM(8, 8, num_layers=2, batch_first=True), torch.randn(1, 50, 8)
    assert dependent_steps(lambda: lstm(inputs)) >= 2 * 50


def per_token(model, short=8, long=72):
    options = ScalingOptions(batch=1, d_model=16, layers=1)
    counts = []
    for length in (short, long):
        torch.manual_seed(0)
        built, batch = probe_model(model, length, options), random_batch(length, options, torch.device("cpu"))
        counts.append(dependent_steps(lambda built=built, batch=batch: built(batch)))
    return (counts[1] - counts[0]) / (long - short)


def spin(until, parent):
    while time.time() < until and os.getppid() == parent:
        sum(range(10_000))


def test_recurrences_add_a_dependent_step_per_token_and_attention_and_scans_none_even_beside_a_cpu_hog():
    hog = multiprocessing.get_context("spawn").Process(target=spin, args=(time.time() + 300, os.getpid()),
                                                       daemon=True)
    idle = {model: per_token(model) for model in ("gru", "transformer", "mingru")}
    hog.start()
    try:
        loaded = {model: per_token(model) for model in ("gru", "transformer", "mingru")}
    finally:
        hog.terminate()
        hog.join()
    assert loaded == idle
    assert idle["gru"] >= 1 and idle["transformer"] == 0 and idle["mingru"] < 0.2
