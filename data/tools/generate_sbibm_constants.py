#!/usr/bin/env python3
"""Regenerate the fixed constants of two sbibm tasks from the sbibm 1.1.0 source distribution.

Writes, under data/sbibm/:
  bernoulli_glm/design_matrix.csv             100 x 10 design matrix X = [1, 9 lags of the stimulus]
  slcp_distractors/mixture_locs.csv           20 x 92 locations of the Student-t mixture components
  slcp_distractors/mixture_scale_tril.csv.bz2 20*92 x 92 lower-triangular scale factors, component by component
  slcp_distractors/permutation.csv            the permutation of the 100 output dimensions
  slcp_distractors/obs<k>/observation.csv     sbibm's observation_distractors.csv, k = 1..5
  bernoulli_glm_raw/obs<k>/observation.csv    sbibm's observation_raw.csv, k = 1..5

The values are read from the files sbibm itself loads at simulation time (legacy-format
torch pickles: gmm.torch, permutation_idx.torch, design_matrix.pt), with a small reader
below that needs only numpy, not torch or pyro. The script also checks what the Rust code
assumes: mixture weights uniform, df = 2, the design matrix's lag structure, and that each
vendored bernoulli_glm observation equals (spike count, X[:, 1:]^T y) of its raw spike train.

Usage:
  pip download --no-deps --no-binary :all: sbibm==1.1.0 && tar xzf sbibm-1.1.0.tar.gz
  python3 data/tools/generate_sbibm_constants.py sbibm-1.1.0   # needs numpy
"""

import bz2
import csv
import pickle
import struct
import sys
from pathlib import Path

import numpy as np

STORAGE_DTYPES = {
    "DoubleStorage": np.float64,
    "FloatStorage": np.float32,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
}


class Opaque:
    """Stand-in for any pickled class (pyro distributions, torch.Size): keeps its state."""

    def __init__(self, *args, **kwargs):
        self.args = args
        self.state = None

    def __setstate__(self, state):
        self.state = state


class StorageType:
    def __init__(self, name):
        self.name = name


def load_legacy_torch(path):
    """Read a file written by torch.save in the pre-1.6 (non-zip) format into numpy arrays."""
    storages = {}

    def rebuild_tensor(storage, offset, size, stride, *rest):
        return ("tensor", storage[1], offset, tuple(size), tuple(stride))

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
                return rebuild_tensor
            if name.endswith("Storage"):
                return StorageType(name)
            if module == "collections" and name == "OrderedDict":
                import collections

                return collections.OrderedDict
            return type(name, (Opaque,), {})

        def persistent_load(self, pid):
            _, storage_type, key, _location, size, _view = pid
            storages.setdefault(key, [storage_type.name, size, None])
            return ("storage", key)

    with open(path, "rb") as f:
        for _ in range(3):  # magic number, protocol version, system info
            pickle.load(f)
        obj = Unpickler(f, encoding="latin1").load()
        for key in pickle.load(f):
            (count,) = struct.unpack("<q", f.read(8))
            dtype = np.dtype(STORAGE_DTYPES[storages[key][0]])
            storages[key][2] = np.frombuffer(f.read(count * dtype.itemsize), dtype=dtype)

    def resolve(x):
        if isinstance(x, tuple) and len(x) == 5 and x[0] == "tensor":
            data = storages[x[1]][2]
            strides = [s * data.itemsize for s in x[4]]
            return np.lib.stride_tricks.as_strided(data[x[2]:], shape=x[3], strides=strides).copy()
        if isinstance(x, dict):
            return {k: resolve(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return type(x)(resolve(v) for v in x)
        if isinstance(x, Opaque) and x.state is not None:
            x.state = resolve(x.state)
        return x

    return resolve(obj)


def write_csv(path, header, rows, compress=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(header)] + [",".join(repr(float(v)) for v in row) for row in rows]
    text = "\n".join(lines) + "\n"
    if compress:
        path.write_bytes(bz2.compress(text.encode()))
    else:
        path.write_text(text)


def read_observation(path):
    with open(path) as f:
        rows = list(csv.reader(f))
    return np.array([float(v) for v in rows[1]])


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    tasks = Path(sys.argv[1]) / "sbibm" / "tasks"
    out = Path(__file__).resolve().parent.parent / "sbibm"

    # bernoulli_glm: design matrix
    design = load_legacy_torch(tasks / "bernoulli_glm" / "files" / "design_matrix.pt").astype(np.float64)
    stimulus = load_legacy_torch(tasks / "bernoulli_glm" / "files" / "stimulus_I.pt").astype(np.float64)
    assert design.shape == (100, 10) and np.all(design[:, 0] == 1.0)
    for lag in range(9):
        assert np.all(design[lag:, 1 + lag] == stimulus[: 100 - lag]) and np.all(design[:lag, 1 + lag] == 0.0)
    write_csv(out / "bernoulli_glm" / "design_matrix.csv", [f"column_{j + 1}" for j in range(10)], design)

    # slcp_distractors: Student-t mixture and permutation
    gmm = load_legacy_torch(tasks / "slcp" / "files" / "gmm.torch")
    probs = gmm.state["_mixture_distribution"].state["probs"]
    student = gmm.state["_component_distribution"].state["base_dist"].state
    assert np.allclose(probs, 1.0 / 20.0) and np.all(student["df"] == 2.0)
    locs = student["loc"]
    scale_tril = student["_unbroadcasted_scale_tril"]
    assert locs.shape == (20, 92) and scale_tril.shape == (20, 92, 92)
    assert np.all(np.triu(scale_tril, 1) == 0.0)
    permutation = load_legacy_torch(tasks / "slcp" / "files" / "permutation_idx.torch")
    assert sorted(permutation.tolist()) == list(range(100))
    names = [f"dim_{j + 1}" for j in range(92)]
    write_csv(out / "slcp_distractors" / "mixture_locs.csv", names, locs)
    write_csv(out / "slcp_distractors" / "mixture_scale_tril.csv.bz2", names, scale_tril.reshape(20 * 92, 92), True)
    write_csv(out / "slcp_distractors" / "permutation.csv", ["index"], permutation.reshape(-1, 1))

    # Observations of the two variants (observations 1..5, like the other vendored tasks)
    for k in range(1, 6):
        files = tasks / "slcp" / "files" / f"num_observation_{k}"
        x = read_observation(files / "observation_distractors.csv")
        slcp = read_observation(files / "observation.csv")
        assert x.shape == (100,) and np.allclose(x[np.argsort(permutation)[:8]], slcp)
        write_csv(out / "slcp_distractors" / f"obs{k}" / "observation.csv", [f"data_{j + 1}" for j in range(100)], [x])

        files = tasks / "bernoulli_glm" / "files" / f"num_observation_{k}"
        y = read_observation(files / "observation_raw.csv")
        summary = read_observation(files / "observation.csv")
        assert y.shape == (100,) and set(y.tolist()) <= {0.0, 1.0}
        assert np.allclose(np.concatenate([[y.sum()], design[:, 1:].T @ y]), summary, atol=1e-4)
        write_csv(out / "bernoulli_glm_raw" / f"obs{k}" / "observation.csv", [f"data_{j + 1}" for j in range(100)], [y])
    print(f"wrote sbibm constants under {out}")


if __name__ == "__main__":
    main()
