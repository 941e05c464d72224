"""PyTorch's side of the network tests (tests/system/test_network_torch.py and test_network_conv.py): the loss
of a network's outputs as PyTorch computes it, one definition for both. Called only by tests that have
imported torch (they skip without it); symopt itself never imports torch."""

from __future__ import annotations


def torch_loss(kind: str, outputs, y):
    """PyTorch's mean loss of the network ``outputs`` (a float64 tensor, rows x outputs) on the targets ``y`` (a
    NumPy array): ``"cross_entropy"`` (softmax over the outputs, ``y`` class labels), ``"log"`` (the logit in
    the one output, ``y`` 0/1 labels) or ``"squared"`` (summed over the outputs, averaged over the rows)."""
    import torch

    F = torch.nn.functional
    target = torch.tensor(y)
    if kind == "cross_entropy":
        return F.cross_entropy(outputs, target.long())
    if kind == "log":
        return F.binary_cross_entropy_with_logits(outputs[:, 0], target)
    if kind == "squared":
        return ((outputs - target) ** 2).sum(dim=1).mean()
    raise ValueError(f"torch_loss: no PyTorch loss for kind {kind!r}; the kinds are cross_entropy, log, squared")
