"""Dependent steps: the longest chain of operations a forward pass must run one after another, the depth of the
dataflow graph of the ops torch dispatches. It counts what the computation is, not how long it took, so no load on
the machine can change it: a recurrence adds at least one dependent step per token (h_t needs h_{t-1}), attention
and a parallel scan add none or log T.

Each dispatched op ends one step after the latest of its inputs. Depths are kept per storage, so a write into a
slice of a buffer (an output assembled step by step) makes the whole buffer as deep as that write, and a view
(select, transpose, an in-place squeeze: metadata, no arithmetic) is free. Two kinds of op hide a chain inside one
call and are counted from their operands, as measure/flops.py counts their FLOPs: a fused recurrent layer (oneDNN's,
cuDNN's) and the compiled scans of Mamba, GLA and mLSTM are T dependent steps per layer, since each computes h_t from
h_{t-1} for t = 1..T; a cumulative op (cumsum, logcumsumexp) is ceil(log2 T) steps, the depth of a parallel prefix scan
(Blelloch 1990), whatever loop the CPU kernel runs. Stacked layers are counted one after another, as the kernels run
them; the wavefront through them is shorter, but every recurrence still waits at least one step per token, and that is
all the rule reads."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


def fused_layer_steps(args: tuple) -> int:
    """oneDNN's LSTM layer: input (T, B, d_in), one layer."""
    return args[0].shape[0]


def cudnn_steps(args: tuple) -> int:
    """cuDNN's whole RNN/LSTM/GRU: input (T, B, d), or (B, T, d) when batch_first (argument 10); num_layers is
    argument 9."""
    inputs, layers, batch_first = args[0], args[9], args[10]
    return inputs.shape[1 if batch_first else 0] * layers


def selective_scan_steps(args: tuple) -> int:
    """Mamba's compiled scan (models/compiled_scan.py): a loop over the T positions of delta (B, T, E)."""
    return args[0].shape[1]


def head_scan_steps(args: tuple) -> int:
    """The compiled scans of GLA and mLSTM (models/compiled_gla.py, compiled_mlstm.py): a loop over the T positions
    of q (B, H, T, d)."""
    return args[0].shape[2]


def prefix_steps(args: tuple) -> int:
    """A cumulative op over `dim` (argument 1): the depth of a parallel prefix scan of that many elements."""
    size = args[0].shape[args[1]] if args[0].dim() else 1
    return max(1, math.ceil(math.log2(max(size, 2))))


# op -> its dependent steps from its operands; every other op is one step
HIDDEN_CHAINS: dict[str, Callable[[tuple], int]] = {
    "aten.mkldnn_rnn_layer.default": fused_layer_steps,
    "aten._cudnn_rnn.default": cudnn_steps,
    "seqarena.selective_scan.default": selective_scan_steps,
    "seqarena.gated_linear_scan.default": head_scan_steps,
    "seqarena.matrix_memory_scan.default": head_scan_steps,
    "aten.cumsum.default": prefix_steps,
    "aten.cumprod.default": prefix_steps,
    "aten.logcumsumexp.default": prefix_steps,
    "aten.cummax.default": prefix_steps,
    "aten.cummin.default": prefix_steps,
}


def storage_key(tensor: torch.Tensor) -> int:
    return tensor.untyped_storage().data_ptr()


class DependencyDepth(TorchDispatchMode):
    """Within it, `longest` is the depth of the deepest op dispatched so far."""

    def __init__(self) -> None:
        super().__init__()
        self.depth: dict[int, int] = {}
        self.longest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        inputs = [leaf for leaf in tree_leaves((args, kwargs)) if isinstance(leaf, torch.Tensor)]
        start = max((self.depth.get(storage_key(tensor), 0) for tensor in inputs), default=0)
        result = func(*args, **kwargs)
        free = func.is_view or torch.Tag.inplace_view in func.tags
        end = start if free else start + HIDDEN_CHAINS.get(str(func), lambda _: 1)(args)
        read = {storage_key(tensor) for tensor in inputs}
        for tensor in written(func, args, kwargs):
            self.depth[storage_key(tensor)] = end
        for tensor in (leaf for leaf in tree_leaves(result) if isinstance(leaf, torch.Tensor)):
            if storage_key(tensor) not in read:
                self.depth[storage_key(tensor)] = end
        self.longest = max(self.longest, end)
        return result


def written(func, args: tuple, kwargs: dict) -> list[torch.Tensor]:
    """The tensors an op writes in place (its schema marks them a!), positional or keyword."""
    tensors = []
    for position, argument in enumerate(func._schema.arguments):
        if argument.alias_info is None or not argument.alias_info.is_write:
            continue
        value = args[position] if position < len(args) else kwargs.get(argument.name)
        tensors += [leaf for leaf in tree_leaves(value) if isinstance(leaf, torch.Tensor)]
    return tensors


def dependent_steps(run: Callable[[], object]) -> int:
    """The longest chain of dependent ops in one call of `run` (run it without gradients: a forward pass)."""
    with torch.no_grad(), DependencyDepth() as mode:
        run()
    return mode.longest
