#!/usr/bin/env python3
"""Test cases for catdog's keras package: small TensorFlow.js layers models and their outputs.

    python3 keras/testdata/make_cases.py OUTDIR     # writes OUTDIR/<case>/, prints nothing
    python3 keras/testdata/make_cases.py --list     # the case names, one a line

Each case folder holds what a TF.js "layers model" export holds, plus the data to check a
conversion of it:

    model.json       the model, as tfjs-converter (Python Keras models) or tfjs-layers
                     (TF.js, Teachable Machine) write it: topology + weightsManifest
    <shard files>    the weight bytes the manifest names (little-endian; some quantized)
    input.npy        float32 input, Keras layout NHWC, batch 2
    expected.npy     float32 output of the model for input.npy, Keras layout (NHWC for
                     4-D outputs, (N, D) for vectors)
    case.json        {"description": ..., "tolerance": absolute tolerance}

The Go test (package keras) runs this script into a temporary folder, converts each
model.json to ONNX, runs the ONNX model on input.npy and compares with expected.npy
within the case's tolerance.

expected.npy is computed here independently of the Go conversion: each case writes its own
forward pass with torch.nn.functional ops (conv2d, pad, batch_norm, max_pool2d, ...) in
float64 on the same float32 weights (for quantized weights, on the dequantized float32
values), transposing Keras's NHWC / (kh, kw, in, out) layouts to torch's by hand. Keras
semantics followed: "same" padding puts the odd pixel at the bottom/right; MaxPooling "same"
ignores padded cells; AveragePooling "same" does not count them; Flatten and Reshape work in
NHWC order; hard_sigmoid is clip(0.2x + 0.5, 0, 1).

Only numpy, torch and the standard library are used (Debian python3-numpy, python3-torch).
Everything is seeded: two runs write byte-identical files. The tensors are tiny; a run takes
a few seconds on one CPU core.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)

# Precision of the reference forward passes (float64; the Go side runs in float32).
DT = torch.float64

# --------------------------------------------------------------------------------------------
# Torch tensors. The forward passes of the cases work in NCHW; Keras arrays are numpy float32
# in Keras layouts. Each case writes its padding, transposes and ops out by hand.
# --------------------------------------------------------------------------------------------


def tt(a):
    """A numpy array (float32 weights or data) as a torch tensor of the reference dtype."""
    return torch.as_tensor(np.ascontiguousarray(a)).to(DT)


def nchw(x_nhwc):
    return tt(x_nhwc).permute(0, 3, 1, 2)


def nhwc(t):
    return t.permute(0, 2, 3, 1)


def result(t):
    return np.ascontiguousarray(t.detach().cpu().numpy().astype(np.float32))


# --------------------------------------------------------------------------------------------
# Random weights
# --------------------------------------------------------------------------------------------


def unif(rng, shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def kern(rng, shape, fan_in, gain=1.0):
    """Uniform weights of variance gain^2/fan_in: outputs stay O(1) for O(1) inputs."""
    return (rng.uniform(-1.0, 1.0, size=shape) * gain * math.sqrt(3.0 / fan_in)).astype(np.float32)


def bn_params(rng, c, scale=True, center=True, gamma=(0.5, 1.5), beta=(-0.5, 0.5)):
    p = {}
    if scale:
        p["gamma"] = unif(rng, (c,), *gamma)
    if center:
        p["beta"] = unif(rng, (c,), *beta)
    p["moving_mean"] = unif(rng, (c,), -0.5, 0.5)
    p["moving_variance"] = unif(rng, (c,), 0.5, 2.0)
    return p


# --------------------------------------------------------------------------------------------
# Weights manifest and shards
# --------------------------------------------------------------------------------------------

QUANT_BYTES = {"uint8": 1, "uint16": 2, "float16": 2}


def quantize(arr, kind):
    """tfjs-converter's affine quantization (min nudged so that 0 is exact).

    Returns (bytes, dequantized float32 array, quantization dict)."""
    if kind == "float16":
        h = arr.astype("<f2")
        return h.tobytes(), h.astype(np.float32), {"dtype": "float16", "original_dtype": "float32"}
    qmax = {"uint8": 255, "uint16": 65535}[kind]
    lo = min(float(arr.min()), 0.0)
    hi = max(float(arr.max()), 0.0)
    scale = np.float32((hi - lo) / qmax)
    zero = round(-lo / float(scale))
    qmin = np.float32(-zero * float(scale))
    q = np.clip(np.round((arr.astype(np.float64) - float(qmin)) / float(scale)), 0, qmax)
    q = q.astype("<u1" if kind == "uint8" else "<u2")
    deq = q.astype(np.float32) * np.float32(scale) + np.float32(qmin)  # float32 arithmetic
    assert deq.dtype == np.float32
    # float(np.float32) prints the shortest repr that reads back as the same float32.
    info = {"dtype": kind, "scale": float(scale), "min": float(qmin), "original_dtype": "float32"}
    return q.tobytes(), deq, info


class Store:
    """The weights of one model: manifest entries with their bytes, in manifest order."""

    def __init__(self):
        self.entries = []

    def add(self, name, arr, group=1, quant=None):
        """Adds a weight; returns the float32 values a reader must recover (dequantized)."""
        arr = np.asarray(arr, dtype=np.float32)
        spec = {"name": name, "shape": list(arr.shape), "dtype": "float32"}
        if quant is None:
            data, deq = arr.astype("<f4").tobytes(), arr
        else:
            data, deq, info = quantize(arr, quant)
            spec["quantization"] = info
        self.entries.append({"spec": spec, "data": data, "group": group})
        return deq

    def add_all(self, prefix, params, group=1):
        return {k: self.add(prefix + "/" + k, v, group) for k, v in params.items()}

    def reorder(self, key):
        """Reorders the manifest (stable sort by key(spec))."""
        self.entries.sort(key=lambda e: key(e["spec"]))

    def shuffle(self, rng):
        perm = rng.permutation(len(self.entries))
        self.entries = [self.entries[i] for i in perm]


def tfjs_paths(gi, n):
    return ["group%d-shard%dof%d.bin" % (gi, i + 1, n) for i in range(n)]


def write_weights(folder, store, shard_bytes=4 * 1024 * 1024, paths=tfjs_paths):
    """Lays each group's weights out contiguously and cuts it into shard files."""
    manifest = []
    groups = sorted({e["group"] for e in store.entries})
    for gi in groups:
        entries = [e for e in store.entries if e["group"] == gi]
        blob = b"".join(e["data"] for e in entries)
        n = max(1, -(-len(blob) // shard_bytes))
        names = paths(gi, n)
        assert len(names) == n
        for i, p in enumerate(names):
            with open(os.path.join(folder, os.path.basename(p)), "wb") as f:
                f.write(blob[i * shard_bytes:(i + 1) * shard_bytes])
        manifest.append({"paths": names, "weights": [e["spec"] for e in entries]})
    return manifest


# --------------------------------------------------------------------------------------------
# Keras layer configs
# --------------------------------------------------------------------------------------------
# Flavors: "k2" Keras 2.x standalone (no dtype on layers but the first), "tf2" tf.keras 2.x
# (dtype on every layer), "tfjs" tfjs-layers (no dtype, VarianceScaling initializers), "k3"
# Keras 3 (module/registered_name, DTypePolicy).


class Layers:
    def __init__(self, flavor):
        self.flavor = flavor

    def init(self, kind):
        if self.flavor == "k3":
            cls = {"glorot": "GlorotUniform", "zeros": "Zeros", "ones": "Ones"}[kind]
            return {"module": "keras.initializers", "class_name": cls,
                    "config": {"seed": None} if kind == "glorot" else {}, "registered_name": None}
        if kind == "glorot":
            if self.flavor in ("k2", "tfjs"):
                return {"class_name": "VarianceScaling",
                        "config": {"scale": 1 if self.flavor == "tfjs" else 1.0, "mode": "fan_avg",
                                   "distribution": "uniform", "seed": None}}
            return {"class_name": "GlorotUniform", "config": {"seed": None}}
        return {"class_name": {"zeros": "Zeros", "ones": "Ones"}[kind], "config": {}}

    def base(self, name, fields, first=None):
        """A layer config: Keras order (name, trainable, dtype, fields) or tfjs order."""
        if self.flavor == "tfjs":
            c = dict(fields)
            c["name"] = name
            c["trainable"] = True
        else:
            c = {"name": name, "trainable": True}
            if self.flavor == "tf2":
                c["dtype"] = "float32"
            elif self.flavor == "k3":
                c["dtype"] = {"module": "keras", "class_name": "DTypePolicy",
                              "config": {"name": "float32"}, "registered_name": None}
            c.update(fields)
        if first is not None:  # first layer of a Sequential
            c["batch_input_shape"] = [None] + list(first)
            c["dtype"] = "float32"
        return c

    def conv2d(self, name, filters, k, strides=1, padding="valid", dilation=1, activation="linear",
               use_bias=True, first=None):
        f = {"filters": filters, "kernel_size": pair(k), "strides": pair(strides), "padding": padding,
             "data_format": "channels_last", "dilation_rate": pair(dilation)}
        if self.flavor in ("tf2", "k3"):
            f["groups"] = 1
        f.update({"activation": activation, "use_bias": use_bias,
                  "kernel_initializer": self.init("glorot"), "bias_initializer": self.init("zeros"),
                  "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
                  "kernel_constraint": None, "bias_constraint": None})
        return "Conv2D", self.base(name, f, first)

    def depthwise(self, name, k, strides=1, padding="valid", depth_multiplier=1, activation="linear",
                  use_bias=True, dilation=1, first=None):
        f = {"kernel_size": pair(k), "strides": pair(strides), "padding": padding,
             "data_format": "channels_last", "dilation_rate": pair(dilation)}
        if self.flavor in ("tf2", "k3"):
            f["groups"] = 1
        f.update({"activation": activation, "use_bias": use_bias, "bias_initializer": self.init("zeros"),
                  "bias_regularizer": None, "activity_regularizer": None, "bias_constraint": None,
                  "depth_multiplier": depth_multiplier, "depthwise_initializer": self.init("glorot"),
                  "depthwise_regularizer": None, "depthwise_constraint": None})
        return "DepthwiseConv2D", self.base(name, f, first)

    def separable(self, name, filters, k, strides=1, padding="valid", depth_multiplier=1,
                  activation="linear", use_bias=True, first=None):
        f = {"filters": filters, "kernel_size": pair(k), "strides": pair(strides), "padding": padding,
             "data_format": "channels_last", "dilation_rate": [1, 1]}
        if self.flavor in ("tf2", "k3"):
            f["groups"] = 1
        f.update({"activation": activation, "use_bias": use_bias, "bias_initializer": self.init("zeros"),
                  "bias_regularizer": None, "activity_regularizer": None, "bias_constraint": None,
                  "depth_multiplier": depth_multiplier, "depthwise_initializer": self.init("glorot"),
                  "pointwise_initializer": self.init("glorot"), "depthwise_regularizer": None,
                  "pointwise_regularizer": None, "depthwise_constraint": None,
                  "pointwise_constraint": None})
        return "SeparableConv2D", self.base(name, f, first)

    def dense(self, name, units, activation="linear", use_bias=True, first=None):
        f = {"units": units, "activation": activation, "use_bias": use_bias,
             "kernel_initializer": self.init("glorot"), "bias_initializer": self.init("zeros"),
             "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
             "kernel_constraint": None, "bias_constraint": None}
        return "Dense", self.base(name, f, first)

    def batchnorm(self, name, epsilon=1e-3, momentum=0.99, center=True, scale=True, axis=-1):
        f = {"axis": axis, "momentum": momentum, "epsilon": epsilon, "center": center, "scale": scale,
             "beta_initializer": self.init("zeros"), "gamma_initializer": self.init("ones"),
             "moving_mean_initializer": self.init("zeros"), "moving_variance_initializer": self.init("ones"),
             "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
             "gamma_constraint": None}
        if self.flavor == "k3":
            f["synchronized"] = False
        return "BatchNormalization", self.base(name, f)

    def activation(self, name, activation):
        return "Activation", self.base(name, {"activation": activation})

    def relu(self, name, max_value=None, negative_slope=0.0, threshold=0.0):
        if self.flavor == "tfjs":  # tfjs-layers' ReLU has maxValue only
            return "ReLU", self.base(name, {"max_value": max_value})
        return "ReLU", self.base(name, {"max_value": max_value, "negative_slope": negative_slope,
                                        "threshold": threshold})

    def leaky_relu(self, name, alpha=0.3):
        return "LeakyReLU", self.base(name, {"alpha": alpha})

    def pool(self, cls, name, pool_size, strides, padding, first=None):
        f = {"pool_size": pair(pool_size), "padding": padding,
             "strides": None if strides is None else pair(strides), "data_format": "channels_last"}
        return cls, self.base(name, f, first)

    def global_pool(self, cls, name):
        f = {"data_format": "channels_last"}
        if self.flavor in ("tf2", "k3"):
            f["keepdims"] = False
        return cls, self.base(name, f)

    def zero_padding(self, name, padding):
        return "ZeroPadding2D", self.base(name, {"padding": padding, "data_format": "channels_last"})

    def flatten(self, name):
        return "Flatten", self.base(name, {"data_format": "channels_last"})

    def reshape(self, name, target_shape):
        return "Reshape", self.base(name, {"target_shape": list(target_shape)})

    def dropout(self, name, rate):
        return "Dropout", self.base(name, {"rate": rate, "noise_shape": None, "seed": None})

    def merge(self, cls, name):
        return cls, self.base(name, {})

    def concatenate(self, name, axis=-1):
        return "Concatenate", self.base(name, {"axis": axis})


def pair(v):
    return [v, v] if isinstance(v, int) else list(v)


def seq_layer(layer):
    cls, cfg = layer
    return {"class_name": cls, "config": cfg}


def sequential(name, layers):
    return "Sequential", {"name": name, "layers": [seq_layer(l) for l in layers]}


NESTED = ("Model", "Functional", "Sequential")


class Ref:
    """A Keras tensor: (layer, node index, tensor index), with its shape for Keras 3."""

    def __init__(self, layer, node=0, tensor=0, shape=None):
        self.layer, self.node, self.tensor, self.shape = layer, node, tensor, shape


class Graph:
    """A Keras functional model config."""

    def __init__(self, L, name):
        self.L, self.name = L, name
        self.layers, self.inputs = [], []

    def input(self, name, shape):
        shape = list(shape)
        if self.L.flavor == "k3":
            cfg = {"batch_shape": [None] + shape, "dtype": "float32", "sparse": False, "name": name}
            entry = {"module": "keras.layers", "class_name": "InputLayer", "config": cfg,
                     "registered_name": None, "name": name, "inbound_nodes": []}
        else:
            cfg = {"batch_input_shape": [None] + shape, "dtype": "float32", "sparse": False}
            if self.L.flavor == "tf2":
                cfg["ragged"] = False
            cfg["name"] = name
            entry = {"name": name, "class_name": "InputLayer", "config": cfg, "inbound_nodes": []}
            if self.L.flavor == "tfjs":
                entry = {"class_name": "InputLayer", "config": cfg, "name": name, "inbound_nodes": []}
        self.layers.append(entry)
        r = Ref(name, 0, 0, shape)
        self.inputs.append(r)
        return r

    def __call__(self, layer, inputs, shape=None):
        """Calls a layer on a Ref or (merge layers) a list of Refs; shape: output shape (Keras 3)."""
        cls, cfg = layer
        name = cfg["name"]
        refs = inputs if isinstance(inputs, list) else [inputs]
        if self.L.flavor == "k3":
            tensors = [{"class_name": "__keras_tensor__",
                        "config": {"shape": [None] + list(r.shape), "dtype": "float32",
                                   "keras_history": [r.layer, r.node, r.tensor]}} for r in refs]
            node = {"args": [tensors if isinstance(inputs, list) else tensors[0]], "kwargs": {}}
            in_shape = [[None] + list(r.shape) for r in refs]
            entry = {"module": "keras.layers", "class_name": cls, "config": cfg, "registered_name": None,
                     "build_config": {"input_shape": in_shape if isinstance(inputs, list) else in_shape[0]},
                     "name": name, "inbound_nodes": [node]}
        else:
            node = [[r.layer, r.node, r.tensor, {}] for r in refs]
            if self.L.flavor == "tfjs":
                entry = {"class_name": cls, "config": cfg, "name": name, "inbound_nodes": [node]}
            else:
                entry = {"name": name, "class_name": cls, "config": cfg, "inbound_nodes": [node]}
        self.layers.append(entry)
        # Keras numbers the nodes of a nested model from 1: node 0 is the model's own
        # (input -> output) node, left out of the outer config (Keras's _should_skip_first_node).
        out_node = 0
        if cls in NESTED:
            first = cfg["layers"][0] if cfg.get("layers") else {}
            if cls != "Sequential" or first.get("class_name") == "InputLayer":
                out_node = 1
        return Ref(name, out_node, 0, shape)

    def config(self, outputs):
        outputs = outputs if isinstance(outputs, list) else [outputs]
        c = {"name": self.name}
        if self.L.flavor == "k3":
            c["trainable"] = True
        c["layers"] = self.layers
        c["input_layers"] = [[r.layer, r.node, r.tensor] for r in self.inputs]
        c["output_layers"] = [[r.layer, r.node, r.tensor] for r in outputs]
        return c


# --------------------------------------------------------------------------------------------
# model.json
# --------------------------------------------------------------------------------------------

TRAINING_CONFIG = {
    "optimizer_config": {"class_name": "Adam", "config": {"lr": 0.001, "beta_1": 0.9, "beta_2": 0.999,
                                                          "decay": 0.0, "epsilon": 1e-07}},
    "loss": "categorical_crossentropy", "metrics": ["accuracy"], "sample_weight_mode": None,
    "loss_weights": None,
}


def py_model(keras_version, cls, config, training=False, k3=False,
             converter="TensorFlow.js Converter v3.18.0", header=True):
    """model.json of tfjs-converter (tensorflowjs_converter --input_format keras)."""
    mc = {"class_name": cls, "config": config}
    if k3:
        mc = {"module": "keras", "class_name": cls, "config": config, "registered_name": "Functional"}
    topo = {"keras_version": keras_version, "backend": "tensorflow", "model_config": mc}
    if training:
        topo["training_config"] = TRAINING_CONFIG
    if not header:  # the first tfjs-converter releases (2018) wrote only these two keys
        return {"modelTopology": topo, "weightsManifest": None}
    return {"format": "layers-model", "generatedBy": "keras v" + keras_version, "convertedBy": converter,
            "modelTopology": topo, "weightsManifest": None}


def tfjs_model(cls, config, version="3.21.0"):
    """model.json of tfjs-layers' model.save() (TF.js in the browser, Teachable Machine)."""
    topo = {"class_name": cls, "config": config, "keras_version": "tfjs-layers " + version,
            "backend": "tensor_flow.js"}
    return {"modelTopology": topo, "weightsManifest": None, "format": "layers-model",
            "generatedBy": "TensorFlow.js tfjs-layers v" + version, "convertedBy": None}


class Case:
    def __init__(self, name, description, model, store, x, y, tolerance=1e-4,
                 shard_bytes=4 * 1024 * 1024, paths=tfjs_paths, compact=False):
        self.name, self.description, self.model, self.store = name, description, model, store
        self.x, self.y, self.tolerance = x, y, tolerance
        self.shard_bytes, self.paths, self.compact = shard_bytes, paths, compact

    def write(self, root):
        folder = os.path.join(root, self.name)
        os.makedirs(folder, exist_ok=True)
        model = dict(self.model)
        model["weightsManifest"] = write_weights(folder, self.store, self.shard_bytes, self.paths)
        seps = (",", ":") if self.compact else (", ", ": ")
        with open(os.path.join(folder, "model.json"), "w") as f:
            f.write(json.dumps(model, separators=seps, allow_nan=False))
        assert self.x.dtype == np.float32 and self.y.dtype == np.float32
        assert np.all(np.isfinite(self.y))
        np.save(os.path.join(folder, "input.npy"), self.x)
        np.save(os.path.join(folder, "expected.npy"), self.y)
        with open(os.path.join(folder, "case.json"), "w") as f:
            json.dump({"description": self.description, "tolerance": self.tolerance}, f, indent=1)
            f.write("\n")


# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------

CASES = []


def case(fn):
    CASES.append((fn.__name__[len("case_"):], fn))
    return fn


@case
def case_conv_same_stride2():
    rng = np.random.default_rng(101)
    L = Layers("k2")
    g = Graph(L, "model_1")
    i = g.input("input_1", [8, 8, 3])
    h = g(L.conv2d("conv2d_1", 6, 3, strides=2, padding="same", activation="relu"), i)
    o = g(L.conv2d("conv2d_2", 4, 3, strides=2, padding="same"), h)
    s = Store()
    k1 = s.add("conv2d_1/kernel", kern(rng, (3, 3, 3, 6), 27))
    b1 = s.add("conv2d_1/bias", unif(rng, (6,), -0.3, 0.3))
    k2 = s.add("conv2d_2/kernel", kern(rng, (3, 3, 6, 4), 54))
    b2 = s.add("conv2d_2/bias", unif(rng, (4,), -0.3, 0.3))
    x = unif(rng, (2, 8, 8, 3))

    t = nchw(x)
    # 8 -> 4: pad_total 1 -> (top 0, bottom 1); 4 -> 2: pad_total 1 -> (0, 1)
    t = F.relu(F.conv2d(F.pad(t, (0, 1, 0, 1)), tt(k1).permute(3, 2, 0, 1), tt(b1), stride=2))
    t = F.conv2d(F.pad(t, (0, 1, 0, 1)), tt(k2).permute(3, 2, 0, 1), tt(b2), stride=2)
    y = result(nhwc(t))
    assert y.shape == (2, 2, 2, 4)
    return Case("conv_same_stride2",
                "Keras 2.1.4 Model: Conv2D 3x3 stride 2 'same' relu on 8x8, then on 4x4 (even sizes: "
                "padding at the bottom/right only)",
                py_model("2.1.4", "Model", g.config(o)), s, x, y)


@case
def case_conv_same_stride2_odd():
    rng = np.random.default_rng(102)
    L = Layers("tfjs")
    layers = [L.conv2d("conv2d_Conv2D1", 5, 3, strides=2, padding="same", activation="relu", first=(9, 9, 3)),
              L.conv2d("conv2d_Conv2D2", 4, 4, strides=2, padding="same")]
    s = Store()
    k1 = s.add("conv2d_Conv2D1/kernel", kern(rng, (3, 3, 3, 5), 27))
    b1 = s.add("conv2d_Conv2D1/bias", unif(rng, (5,), -0.3, 0.3))
    k2 = s.add("conv2d_Conv2D2/kernel", kern(rng, (4, 4, 5, 4), 80))
    b2 = s.add("conv2d_Conv2D2/bias", unif(rng, (4,), -0.3, 0.3))
    x = unif(rng, (2, 9, 9, 3))

    t = nchw(x)
    # 9 -> 5, k3: pad_total 2 -> (1, 1); 5 -> 3, k4: pad_total 3 -> (1, 2)
    t = F.relu(F.conv2d(F.pad(t, (1, 1, 1, 1)), tt(k1).permute(3, 2, 0, 1), tt(b1), stride=2))
    t = F.conv2d(F.pad(t, (1, 2, 1, 2)), tt(k2).permute(3, 2, 0, 1), tt(b2), stride=2)
    y = result(nhwc(t))
    assert y.shape == (2, 3, 3, 4)
    return Case("conv_same_stride2_odd",
                "tfjs-layers Sequential: Conv2D 3x3 stride 2 'same' relu on 9x9 (pads 1/1), then an "
                "even 4x4 kernel stride 2 'same' on 5x5 (pads 1 top/left, 2 bottom/right)",
                tfjs_model(*sequential("sequential_1", layers)), s, x, y, compact=True)


@case
def case_conv_valid_dilated():
    rng = np.random.default_rng(103)
    L = Layers("tf2")
    inp = {"class_name": "InputLayer",
           "config": {"batch_input_shape": [None, 10, 10, 4], "dtype": "float32", "sparse": False,
                      "ragged": False, "name": "conv2d_input"}}
    layers = [L.conv2d("conv2d", 6, 3, padding="valid", dilation=2, use_bias=False),
              L.conv2d("conv2d_1", 3, 1),
              L.conv2d("conv2d_2", 2, (3, 2), padding="same", dilation=(2, 1))]
    _, cfg = sequential("sequential", layers)
    cfg["layers"].insert(0, inp)
    s = Store()
    k1 = s.add("conv2d/kernel", kern(rng, (3, 3, 4, 6), 36))
    k2 = s.add("conv2d_1/kernel", kern(rng, (1, 1, 6, 3), 6))
    b2 = s.add("conv2d_1/bias", unif(rng, (3,), -0.3, 0.3))
    k3 = s.add("conv2d_2/kernel", kern(rng, (3, 2, 3, 2), 18))
    b3 = s.add("conv2d_2/bias", unif(rng, (2,), -0.3, 0.3))
    x = unif(rng, (2, 10, 10, 4))

    t = nchw(x)
    t = F.conv2d(t, tt(k1).permute(3, 2, 0, 1), None, dilation=2)                # 10 -> 6
    t = F.conv2d(t, tt(k2).permute(3, 2, 0, 1), tt(b2))                          # 1x1
    # kernel (3, 2), dilation (2, 1), 'same': height span 5 -> pads (2, 2); width span 2 -> (0, 1)
    t = F.conv2d(F.pad(t, (0, 1, 2, 2)), tt(k3).permute(3, 2, 0, 1), tt(b3), dilation=(2, 1))
    y = result(nhwc(t))
    assert y.shape == (2, 6, 6, 2)
    return Case("conv_valid_dilated",
                "tf.keras Sequential (InputLayer listed first): Conv2D 3x3 'valid' dilation 2 without "
                "bias, Conv2D 1x1, Conv2D kernel (3, 2) 'same' dilation (2, 1)",
                py_model("2.4.0", "Sequential", cfg), s, x, y)


@case
def case_depthwise():
    rng = np.random.default_rng(104)
    L = Layers("tfjs")
    layers = [L.depthwise("depthwise_conv2d_DepthwiseConv2D1", 3, strides=2, padding="same",
                          depth_multiplier=2, first=(8, 7, 3)),
              L.depthwise("depthwise_conv2d_DepthwiseConv2D2", 3, padding="same", use_bias=False)]
    s = Store()
    d1 = s.add("depthwise_conv2d_DepthwiseConv2D1/depthwise_kernel", kern(rng, (3, 3, 3, 2), 9))
    b1 = s.add("depthwise_conv2d_DepthwiseConv2D1/bias", unif(rng, (6,), -0.3, 0.3))
    d2 = s.add("depthwise_conv2d_DepthwiseConv2D2/depthwise_kernel", kern(rng, (3, 3, 6, 1), 9))
    x = unif(rng, (2, 8, 7, 3))

    t = nchw(x)
    # torch grouped conv: output channel o = c*dm + m reads input channel c with K[:, :, c, m]
    w1 = tt(d1).permute(2, 3, 0, 1).reshape(6, 1, 3, 3)
    # height 8 -> 4: pads (0, 1); width 7 -> 4: pads (1, 1)
    t = F.conv2d(F.pad(t, (1, 1, 0, 1)), w1, tt(b1), stride=2, groups=3)
    w2 = tt(d2).permute(2, 3, 0, 1).reshape(6, 1, 3, 3)
    t = F.conv2d(F.pad(t, (1, 1, 1, 1)), w2, None, groups=6)
    y = result(nhwc(t))
    assert y.shape == (2, 4, 4, 6)
    return Case("depthwise",
                "tfjs-layers Sequential (weights in ./model.weights.bin): DepthwiseConv2D 3x3 stride 2 "
                "'same' depth_multiplier 2 with bias on 8x7 (channel c*2+m), DepthwiseConv2D 3x3 no bias",
                tfjs_model(*sequential("sequential_1", layers)), s, x, y,
                paths=lambda gi, n: ["./model.weights.bin"], compact=True)


@case
def case_separable():
    rng = np.random.default_rng(105)
    L = Layers("tf2")
    g = Graph(L, "model")
    i = g.input("input_1", [7, 7, 4])
    h = g(L.separable("separable_conv2d", 5, 3, padding="same", depth_multiplier=2, activation="relu"), i)
    o = g(L.separable("separable_conv2d_1", 3, 3, strides=2, padding="same", use_bias=False), h)
    s = Store()
    d1 = s.add("separable_conv2d/depthwise_kernel", kern(rng, (3, 3, 4, 2), 9))
    p1 = s.add("separable_conv2d/pointwise_kernel", kern(rng, (1, 1, 8, 5), 8))
    b1 = s.add("separable_conv2d/bias", unif(rng, (5,), -0.3, 0.3))
    d2 = s.add("separable_conv2d_1/depthwise_kernel", kern(rng, (3, 3, 5, 1), 9))
    p2 = s.add("separable_conv2d_1/pointwise_kernel", kern(rng, (1, 1, 5, 3), 5))
    x = unif(rng, (2, 7, 7, 4))

    t = nchw(x)
    t = F.conv2d(F.pad(t, (1, 1, 1, 1)), tt(d1).permute(2, 3, 0, 1).reshape(8, 1, 3, 3), None, groups=4)
    t = F.relu(F.conv2d(t, tt(p1).permute(3, 2, 0, 1), tt(b1)))
    # 7 -> 4 with stride 2: pads (1, 1)
    t = F.conv2d(F.pad(t, (1, 1, 1, 1)), tt(d2).permute(2, 3, 0, 1).reshape(5, 1, 3, 3), None,
                 stride=2, groups=5)
    t = F.conv2d(t, tt(p2).permute(3, 2, 0, 1), None)
    y = result(nhwc(t))
    assert y.shape == (2, 4, 4, 3)
    return Case("separable",
                "tf.keras Functional: SeparableConv2D 3x3 'same' depth_multiplier 2 with bias and relu, "
                "then SeparableConv2D stride 2 'same' without bias",
                py_model("2.4.0", "Functional", g.config(o)), s, x, y)


@case
def case_batchnorm_relu6():
    rng = np.random.default_rng(106)
    L = Layers("k2")
    g = Graph(L, "model_1")
    i = g.input("input_1", [6, 6, 3])
    h = g(L.conv2d("conv1", 8, 3, padding="same", use_bias=False), i)
    h = g(L.batchnorm("conv1_bn", epsilon=1e-3), h)
    h = g(L.activation("conv1_relu", "relu6"), h)
    h = g(L.batchnorm("bn_noscale", epsilon=1e-3, scale=False), h)
    o = g(L.batchnorm("bn_nocenter", epsilon=1e-5, center=False, axis=3), h)
    s = Store()
    k = s.add("conv1/kernel", kern(rng, (3, 3, 3, 8), 27, gain=3.0))
    sign = np.where(rng.uniform(size=8) < 0.25, -1.0, 1.0).astype(np.float32)
    p1 = bn_params(rng, 8, gamma=(2.0, 5.0), beta=(0.5, 3.0))
    p1["gamma"] = p1["gamma"] * sign
    p1 = s.add_all("conv1_bn", p1)
    p2 = s.add_all("bn_noscale", bn_params(rng, 8, scale=False))
    p3 = s.add_all("bn_nocenter", bn_params(rng, 8, center=False))
    x = unif(rng, (2, 6, 6, 3))

    t = nchw(x)
    t = F.conv2d(F.pad(t, (1, 1, 1, 1)), tt(k).permute(3, 2, 0, 1))
    t = F.batch_norm(t, tt(p1["moving_mean"]), tt(p1["moving_variance"]), tt(p1["gamma"]),
                     tt(p1["beta"]), training=False, eps=1e-3)
    frac_hi, frac_lo = float((t > 6).double().mean()), float((t < 0).double().mean())
    assert frac_hi > 0.05 and frac_lo > 0.05, (frac_hi, frac_lo)
    t = torch.clamp(t, 0.0, 6.0)
    t = F.batch_norm(t, tt(p2["moving_mean"]), tt(p2["moving_variance"]), None, tt(p2["beta"]),
                     training=False, eps=1e-3)
    t = F.batch_norm(t, tt(p3["moving_mean"]), tt(p3["moving_variance"]), tt(p3["gamma"]), None,
                     training=False, eps=1e-5)
    y = result(nhwc(t))
    return Case("batchnorm_relu6",
                "Keras 2.2.4 Model: Conv2D + BatchNormalization (eps 1e-3) + Activation relu6 (values "
                "cross 0 and 6) + BatchNormalization scale=False (no gamma) + BatchNormalization "
                "center=False (no beta, eps 1e-5, axis 3)",
                py_model("2.2.4", "Model", g.config(o)), s, x, y)


@case
def case_activations():
    rng = np.random.default_rng(107)
    L = Layers("tf2")
    g = Graph(L, "model")
    i = g.input("input_1", [5, 5, 3])
    h = g(L.conv2d("conv2d", 4, 1), i)
    branches = [
        L.relu("re_lu", max_value=6.0),
        L.relu("re_lu_1", negative_slope=0.1),
        L.leaky_relu("leaky_re_lu", alpha=0.2),
        L.activation("activation", "sigmoid"),
        L.activation("activation_1", "tanh"),
        L.activation("activation_2", "swish"),
        L.activation("activation_3", "elu"),
        L.activation("activation_4", "hard_sigmoid"),
        L.activation("activation_5", "softplus"),
        L.activation("activation_6", "relu"),
        L.activation("activation_7", "linear"),
    ]
    outs = [g(b, h) for b in branches]
    cat = g(L.concatenate("concatenate"), outs)
    sm = g(L.activation("activation_8", "softmax"), cat)
    o = g(L.concatenate("concatenate_1"), [cat, sm])
    s = Store()
    k = s.add("conv2d/kernel", kern(rng, (1, 1, 3, 4), 3, gain=6.0))
    b = s.add("conv2d/bias", unif(rng, (4,), -1.0, 1.0))
    x = unif(rng, (2, 5, 5, 3))

    t = nchw(x)
    t = F.conv2d(t, tt(k).permute(3, 2, 0, 1), tt(b))
    assert float((t > 6).double().mean()) > 0.03 and float((t < -2).double().mean()) > 0.1
    parts = [
        F.hardtanh(t, 0.0, 6.0),
        F.leaky_relu(t, 0.1),
        F.leaky_relu(t, 0.2),
        torch.sigmoid(t),
        torch.tanh(t),
        t * torch.sigmoid(t),
        F.elu(t, alpha=1.0),
        torch.clamp(0.2 * t + 0.5, 0.0, 1.0),
        F.softplus(t),
        F.relu(t),
        t,
    ]
    c = torch.cat(parts, dim=1)                       # channels: branch-major, as Concatenate(-1)
    y = result(nhwc(torch.cat([c, F.softmax(c, dim=1)], dim=1)))
    assert y.shape == (2, 5, 5, 88)
    return Case("activations",
                "tf.keras Functional: Conv2D 1x1 (values about -10..10) into 11 branches: ReLU(max_value 6), "
                "ReLU(negative_slope 0.1), LeakyReLU(0.2), sigmoid, tanh, swish, elu, hard_sigmoid, "
                "softplus, relu, linear; Concatenate; softmax over those 44 channels concatenated after them",
                py_model("2.6.0", "Functional", g.config(o)), s, x, y)


@case
def case_relu_threshold():
    rng = np.random.default_rng(116)
    L = Layers("tf2")
    g = Graph(L, "model")
    i = g.input("input_1", [5, 5, 3])
    a = g(L.relu("re_lu", max_value=4.0, negative_slope=0.1, threshold=0.5), i)
    b = g(L.relu("re_lu_1", threshold=1.5), i)
    o = g(L.concatenate("concatenate"), [a, b])
    s = Store()
    x = unif(rng, (2, 5, 5, 3), -3.0, 8.0)
    for thr in (0.5, 1.5):  # keep clear of the jumps at the thresholds
        near = np.abs(x - thr) < 0.05
        x[near] = np.float32(thr + 0.2)
    x = x.astype(np.float32)

    t = nchw(x)
    # Keras: x >= max -> max; threshold <= x < max -> x; else negative_slope * (x - threshold)
    ra = torch.where(t >= 0.5, torch.clamp(t, max=4.0), 0.1 * (t - 0.5))
    rb = torch.where(t >= 1.5, t, torch.zeros_like(t))
    y = result(nhwc(torch.cat([ra, rb], dim=1)))
    return Case("relu_threshold",
                "tf.keras Functional without weights: ReLU(max_value 4, negative_slope 0.1, threshold 0.5) "
                "and ReLU(threshold 1.5) on the input, concatenated",
                py_model("2.6.0", "Functional", g.config(o)), s, x, y)


@case
def case_pooling():
    rng = np.random.default_rng(108)
    L = Layers("tfjs")
    g = Graph(L, "model1")
    i = g.input("input1", [7, 7, 4])
    mp1 = g(L.pool("MaxPooling2D", "max_pooling2d_MaxPooling2D1", 2, None, "same"), i)
    ap = g(L.pool("AveragePooling2D", "average_pooling2d_AveragePooling2D1", 3, 2, "same"), mp1)
    fl = g(L.flatten("flatten_Flatten1"), ap)
    mp2 = g(L.pool("MaxPooling2D", "max_pooling2d_MaxPooling2D2", 2, 1, "valid"), mp1)
    gmp = g(L.global_pool("GlobalMaxPooling2D", "global_max_pooling2d_GlobalMaxPooling2D1"), mp2)
    ap2 = g(L.pool("AveragePooling2D", "average_pooling2d_AveragePooling2D2", 3, 2, "same"), i)
    fl2 = g(L.flatten("flatten_Flatten2"), ap2)
    mp3 = g(L.pool("MaxPooling2D", "max_pooling2d_MaxPooling2D3", 3, 2, "same"), i)
    fl3 = g(L.flatten("flatten_Flatten3"), mp3)
    o = g(L.concatenate("concatenate_Concatenate1"), [fl, gmp, fl2, fl3])
    s = Store()
    x = unif(rng, (2, 7, 7, 4), -1.0, 0.4)  # mostly negative: a zero pad would win a max

    t = nchw(x)
    ninf = -math.inf
    # MaxPooling2D 2x2, strides null (= 2), 'same': 7 -> 4, pads (0, 1) with -inf
    m1 = F.max_pool2d(F.pad(t, (0, 1, 0, 1), value=ninf), 2, 2)
    # AveragePooling2D 3x3 stride 2 'same': 4 -> 2, pads (0, 1), padded cells not counted
    sums = F.avg_pool2d(F.pad(m1, (0, 1, 0, 1)), 3, 2, divisor_override=1)
    cnt = F.avg_pool2d(F.pad(torch.ones_like(m1[:, :1]), (0, 1, 0, 1)), 3, 2, divisor_override=1)
    a1 = sums / cnt
    m2 = F.max_pool2d(m1, 2, 1)                                       # 4 -> 3
    gm = torch.amax(m2, dim=(2, 3))
    # 7 -> 4 with a 3x3 window, stride 2: pads (1, 1)
    sums2 = F.avg_pool2d(F.pad(t, (1, 1, 1, 1)), 3, 2, divisor_override=1)
    cnt2 = F.avg_pool2d(F.pad(torch.ones_like(t[:, :1]), (1, 1, 1, 1)), 3, 2, divisor_override=1)
    a2 = sums2 / cnt2
    m3 = F.max_pool2d(F.pad(t, (1, 1, 1, 1), value=ninf), 3, 2)
    flat = lambda v: nhwc(v).reshape(v.shape[0], -1)  # noqa: E731  (Flatten: H, W, C order)
    y = result(torch.cat([flat(a1), gm, flat(a2), flat(m3)], dim=1))
    assert y.shape == (2, 16 + 4 + 64 + 64)
    return Case("pooling",
                "tfjs-layers Model: MaxPooling2D 2x2 'same' strides null on 7x7 (pad -inf), "
                "AveragePooling2D 3x3 stride 2 'same' (padded cells not counted), MaxPooling2D 2x2 'valid' "
                "stride 1, GlobalMaxPooling2D, and 3x3 stride 2 'same' avg/max pooling padded on all "
                "sides; flattened and concatenated",
                tfjs_model("Model", g.config(o)), s, x, y, compact=True)


@case
def case_pooling_gap():
    rng = np.random.default_rng(109)
    L = Layers("k2")
    layers = [L.conv2d("conv2d_1", 6, 3, padding="same", activation="relu", first=(6, 6, 5)),
              L.global_pool("GlobalAveragePooling2D", "global_average_pooling2d_1"),
              L.dense("dense_1", 3, activation="softmax")]
    s = Store()
    k = s.add("conv2d_1/kernel", kern(rng, (3, 3, 5, 6), 45))
    b = s.add("conv2d_1/bias", unif(rng, (6,), 0.0, 0.5))
    dk = s.add("dense_1/kernel", kern(rng, (6, 3), 6, gain=2.0))
    db = s.add("dense_1/bias", unif(rng, (3,), -0.3, 0.3))
    x = unif(rng, (2, 6, 6, 5))

    t = nchw(x)
    t = F.relu(F.conv2d(F.pad(t, (1, 1, 1, 1)), tt(k).permute(3, 2, 0, 1), tt(b)))
    t = t.mean(dim=(2, 3))
    y = result(F.softmax(t @ tt(dk) + tt(db), dim=1))
    assert y.shape == (2, 3)
    return Case("pooling_gap",
                "Keras 2.2.4 Sequential: Conv2D relu, GlobalAveragePooling2D -> (N, C), Dense 3 softmax",
                py_model("2.2.4", *sequential("sequential_1", layers)), s, x, y, tolerance=2e-5)


@case
def case_zeropad_mobilenetv2():
    rng = np.random.default_rng(110)
    L = Layers("k2")
    g = Graph(L, "mobilenetv2_1.00_8")
    i = g.input("input_1", [8, 6, 3])
    h = g(L.zero_padding("Conv1_pad", [[0, 1], [0, 1]]), i)
    h = g(L.conv2d("Conv1", 4, 3, strides=2, padding="valid", use_bias=False), h)
    h = g(L.zero_padding("pad_int", 1), h)
    o = g(L.zero_padding("pad_pair", [1, 2]), h)
    s = Store()
    k = s.add("Conv1/kernel", kern(rng, (3, 3, 3, 4), 27))
    x = unif(rng, (2, 8, 6, 3))

    t = nchw(x)
    t = F.pad(t, (0, 1, 0, 1))                                # 8x6 -> 9x7
    t = F.conv2d(t, tt(k).permute(3, 2, 0, 1), None, stride=2)  # -> 4x3
    t = F.pad(t, (1, 1, 1, 1))                                # int 1: all sides -> 6x5
    t = F.pad(t, (2, 2, 1, 1))                                # [1, 2]: height 1, width 2 -> 8x9
    y = result(nhwc(t))
    assert y.shape == (2, 8, 9, 4)
    return Case("zeropad_mobilenetv2",
                "Keras 2.2.4 Model on 8x6: ZeroPadding2D [[0,1],[0,1]] + Conv2D 3x3 stride 2 'valid' "
                "(MobileNetV2's stem), ZeroPadding2D 1 (int), ZeroPadding2D [1, 2] (height 1, width 2)",
                py_model("2.2.4", "Model", g.config(o)), s, x, y)


@case
def case_branches():
    rng = np.random.default_rng(111)
    L = Layers("tf2")
    g = Graph(L, "model")
    i = g.input("input_1", [6, 6, 4])
    a = g(L.conv2d("conv_a", 4, 3, padding="same", activation="relu"), i)
    b = g(L.conv2d("conv_b", 4, 1), i)
    ab = g(L.merge("Add", "add"), [a, b])
    c = g(L.conv2d("conv_c", 3, 3, padding="same"), i)
    cat = g(L.concatenate("concatenate"), [ab, c])
    gc = g(L.conv2d("gate_conv", 7, 1), i)
    gate = g(L.activation("gate", "sigmoid"), gc)
    m = g(L.merge("Multiply", "multiply"), [cat, gate])
    e = g(L.conv2d("expand", 14, 1, use_bias=False), m)
    e = g(L.batchnorm("expand_BN", axis=[3]), e)
    e = g(L.relu("expand_relu", max_value=6.0), e)
    d = g(L.depthwise("depthwise", 3, padding="same", use_bias=False), e)
    d = g(L.batchnorm("depthwise_BN", axis=[3]), d)
    d = g(L.relu("depthwise_relu", max_value=6.0), d)
    p = g(L.conv2d("project", 7, 1, use_bias=False), d)
    p = g(L.batchnorm("project_BN", axis=[3]), p)
    o = g(L.merge("Add", "add_1"), [m, p])
    s = Store()
    ka = s.add("conv_a/kernel", kern(rng, (3, 3, 4, 4), 36))
    ba = s.add("conv_a/bias", unif(rng, (4,), -0.3, 0.3))
    kb = s.add("conv_b/kernel", kern(rng, (1, 1, 4, 4), 4))
    bb = s.add("conv_b/bias", unif(rng, (4,), -0.3, 0.3))
    kc = s.add("conv_c/kernel", kern(rng, (3, 3, 4, 3), 36))
    bc = s.add("conv_c/bias", unif(rng, (3,), -0.3, 0.3))
    kg = s.add("gate_conv/kernel", kern(rng, (1, 1, 4, 7), 4, gain=2.0))
    bg = s.add("gate_conv/bias", unif(rng, (7,), -0.3, 0.3))
    ke = s.add("expand/kernel", kern(rng, (1, 1, 7, 14), 7, gain=2.0))
    pe = s.add_all("expand_BN", bn_params(rng, 14, gamma=(1.0, 3.0)))
    kd = s.add("depthwise/depthwise_kernel", kern(rng, (3, 3, 14, 1), 9, gain=2.0))
    pd = s.add_all("depthwise_BN", bn_params(rng, 14))
    kp = s.add("project/kernel", kern(rng, (1, 1, 14, 7), 14))
    pp = s.add_all("project_BN", bn_params(rng, 7))
    s.shuffle(rng)  # manifest order need not follow the layers
    x = unif(rng, (2, 6, 6, 4))

    t = nchw(x)
    w = lambda k: tt(k).permute(3, 2, 0, 1)  # noqa: E731
    ta = F.relu(F.conv2d(F.pad(t, (1, 1, 1, 1)), w(ka), tt(ba)))
    tb = F.conv2d(t, w(kb), tt(bb))
    tc = F.conv2d(F.pad(t, (1, 1, 1, 1)), w(kc), tt(bc))
    tcat = torch.cat([ta + tb, tc], dim=1)
    tm = tcat * torch.sigmoid(F.conv2d(t, w(kg), tt(bg)))
    te = F.conv2d(tm, w(ke))
    te = F.batch_norm(te, tt(pe["moving_mean"]), tt(pe["moving_variance"]), tt(pe["gamma"]),
                      tt(pe["beta"]), training=False, eps=1e-3)
    te = torch.clamp(te, 0.0, 6.0)
    td = F.conv2d(F.pad(te, (1, 1, 1, 1)), tt(kd).permute(2, 3, 0, 1).reshape(14, 1, 3, 3), groups=14)
    td = F.batch_norm(td, tt(pd["moving_mean"]), tt(pd["moving_variance"]), tt(pd["gamma"]),
                      tt(pd["beta"]), training=False, eps=1e-3)
    td = torch.clamp(td, 0.0, 6.0)
    tp = F.conv2d(td, w(kp))
    tp = F.batch_norm(tp, tt(pp["moving_mean"]), tt(pp["moving_variance"]), tt(pp["gamma"]),
                      tt(pp["beta"]), training=False, eps=1e-3)
    y = result(nhwc(tm + tp))
    assert y.shape == (2, 6, 6, 7)
    return Case("branches",
                "tf.keras Functional, manifest shuffled, BatchNormalization axis [3]: Add of two convs, "
                "Concatenate with a third, Multiply by a sigmoid gate, then an inverted-residual block "
                "(1x1 expand, BN, ReLU 6, depthwise, BN, ReLU 6, 1x1 project, BN, Add)",
                py_model("2.6.0", "Functional", g.config(o)), s, x, y)


@case
def case_nested_tm():
    rng = np.random.default_rng(112)
    L = Layers("tfjs")
    g = Graph(L, "model1")
    i = g.input("input_1", [8, 8, 3])
    h = g(L.zero_padding("Conv1_pad", [[0, 1], [0, 1]]), i)
    h = g(L.conv2d("Conv1", 8, 3, strides=2, padding="valid", use_bias=False), h)
    h = g(L.batchnorm("bn_Conv1", epsilon=1e-3, momentum=0.999), h)
    r = g(L.relu("Conv1_relu", max_value=6), h)
    h = g(L.depthwise("expanded_conv_depthwise", 3, padding="same", use_bias=False), r)
    h = g(L.batchnorm("expanded_conv_depthwise_BN", epsilon=1e-3, momentum=0.999), h)
    h = g(L.relu("expanded_conv_depthwise_relu", max_value=6), h)
    h = g(L.conv2d("expanded_conv_project", 8, 1, padding="same", use_bias=False), h)
    h = g(L.batchnorm("expanded_conv_project_BN", epsilon=1e-3, momentum=0.999), h)
    h = g(L.merge("Add", "expanded_conv_add"), [r, h])
    o = g(L.relu("out_relu", max_value=6), h)
    base = sequential("sequential_1", [("Model", g.config(o)),
                                       L.global_pool("GlobalAveragePooling2D",
                                                     "global_average_pooling2d_GlobalAveragePooling2D1")])
    head = sequential("sequential_3", [L.dense("dense_Dense1", 10, activation="relu", first=(8,)),
                                       L.dense("dense_Dense2", 3, activation="softmax", use_bias=False)])
    top = sequential("sequential_4", [base, head])
    s = Store()
    k1 = s.add("Conv1/kernel", kern(rng, (3, 3, 3, 8), 27, gain=2.0))
    p1 = s.add_all("bn_Conv1", bn_params(rng, 8, gamma=(1.0, 3.0), beta=(0.0, 2.0)))
    kd = s.add("expanded_conv_depthwise/depthwise_kernel", kern(rng, (3, 3, 8, 1), 9))
    pd = s.add_all("expanded_conv_depthwise_BN", bn_params(rng, 8, gamma=(1.0, 3.0)))
    kp = s.add("expanded_conv_project/kernel", kern(rng, (1, 1, 8, 8), 8))
    pp = s.add_all("expanded_conv_project_BN", bn_params(rng, 8))
    dk1 = s.add("dense_Dense1/kernel", kern(rng, (8, 10), 8, gain=1.5))
    db1 = s.add("dense_Dense1/bias", unif(rng, (10,), 0.0, 0.3))
    dk2 = s.add("dense_Dense2/kernel", kern(rng, (10, 3), 10, gain=0.7))
    # Teachable Machine: moving statistics at the end of the manifest
    s.reorder(lambda spec: spec["name"].endswith(("/moving_mean", "/moving_variance")))
    x = unif(rng, (2, 8, 8, 3))

    t = nchw(x)
    t = F.conv2d(F.pad(t, (0, 1, 0, 1)), tt(k1).permute(3, 2, 0, 1), None, stride=2)   # 9 -> 4
    t = F.batch_norm(t, tt(p1["moving_mean"]), tt(p1["moving_variance"]), tt(p1["gamma"]),
                     tt(p1["beta"]), training=False, eps=1e-3)
    tr = torch.clamp(t, 0.0, 6.0)
    t = F.conv2d(F.pad(tr, (1, 1, 1, 1)), tt(kd).permute(2, 3, 0, 1).reshape(8, 1, 3, 3), groups=8)
    t = F.batch_norm(t, tt(pd["moving_mean"]), tt(pd["moving_variance"]), tt(pd["gamma"]),
                     tt(pd["beta"]), training=False, eps=1e-3)
    t = torch.clamp(t, 0.0, 6.0)
    t = F.conv2d(t, tt(kp).permute(3, 2, 0, 1))
    t = F.batch_norm(t, tt(pp["moving_mean"]), tt(pp["moving_variance"]), tt(pp["gamma"]),
                     tt(pp["beta"]), training=False, eps=1e-3)
    t = torch.clamp(tr + t, 0.0, 6.0)
    v = t.mean(dim=(2, 3))
    v = F.relu(F.linear(v, tt(dk1).t(), tt(db1)))
    y = result(F.softmax(F.linear(v, tt(dk2).t()), dim=1))
    assert y.shape == (2, 3)
    return Case("nested_tm",
                "Teachable Machine layout (tfjs-layers 1.7.4): Sequential[Sequential[Model(ZeroPadding2D, "
                "Conv2D, BN, ReLU max 6, DepthwiseConv2D, BN, Conv2D 1x1, BN, Add, ReLU 6), "
                "GlobalAveragePooling2D], Sequential[Dense 10 relu, Dense 3 softmax no bias]]; "
                "moving_mean/variance at the end of the manifest; weights.bin",
                tfjs_model(*top, version="1.7.4"), s, x, y, tolerance=2e-5,
                paths=lambda gi, n: ["weights.bin"], compact=True)


@case
def case_nested_functional():
    rng = np.random.default_rng(113)
    L = Layers("tf2")
    inner = Graph(L, "model1")
    i = inner.input("input_1", [6, 6, 3])
    h = inner(L.conv2d("conv1", 4, 3, padding="same"), i)
    h = inner(L.batchnorm("bn1"), h)
    h = inner(L.relu("relu1", max_value=6.0), h)
    io = inner(L.global_pool("GlobalAveragePooling2D", "gap"), h)
    head_in = {"class_name": "InputLayer",
               "config": {"batch_input_shape": [None, 4], "dtype": "float32", "sparse": False,
                          "ragged": False, "name": "dense_input"}}
    head = sequential("head", [L.dense("dense", 5, activation="relu"), L.dense("dense_1", 2)])
    head[1]["layers"].insert(0, head_in)
    g = Graph(L, "outer")
    x_in = g.input("image", [6, 6, 3])
    f = g(("Functional", inner.config(io)), x_in)
    o = g(head, f)
    assert f.node == 1 and o.node == 1  # nested models: node indices count from 1
    s = Store()
    k = s.add("model1/conv1/kernel", kern(rng, (3, 3, 3, 4), 27))
    b = s.add("model1/conv1/bias", unif(rng, (4,), -0.3, 0.3))
    p = s.add_all("model1/bn1", bn_params(rng, 4, gamma=(1.0, 3.0), beta=(0.0, 1.0)))
    dk = s.add("head/dense/kernel", kern(rng, (4, 5), 4, gain=1.5))
    db = s.add("head/dense/bias", unif(rng, (5,), 0.0, 0.3))
    dk1 = s.add("head/dense_1/kernel", kern(rng, (5, 2), 5))
    db1 = s.add("head/dense_1/bias", unif(rng, (2,), -0.3, 0.3))
    x = unif(rng, (2, 6, 6, 3))

    t = nchw(x)
    t = F.conv2d(F.pad(t, (1, 1, 1, 1)), tt(k).permute(3, 2, 0, 1), tt(b))
    t = F.batch_norm(t, tt(p["moving_mean"]), tt(p["moving_variance"]), tt(p["gamma"]), tt(p["beta"]),
                     training=False, eps=1e-3)
    v = torch.clamp(t, 0.0, 6.0).mean(dim=(2, 3))
    v = F.relu(v @ tt(dk) + tt(db))
    y = result(v @ tt(dk1) + tt(db1))
    assert y.shape == (2, 2)
    return Case("nested_functional",
                "tf.keras Functional calling a nested Functional 'model1' and a nested Sequential 'head' "
                "(InputLayer first); inbound/output node index 1 for nested models, as Keras writes; "
                "weight names prefixed with the nested model's name ('model1/conv1/kernel')",
                py_model("2.6.0", "Functional", g.config(o)), s, x, y)


@case
def case_flatten_dense_reshape():
    rng = np.random.default_rng(114)
    L = Layers("tf2")
    layers = [L.conv2d("conv2d", 2, 3, first=(6, 5, 3)),
              L.flatten("flatten"),
              L.dense("dense", 12, activation="relu"),
              L.reshape("reshape", [2, 2, 3]),
              L.conv2d("conv2d_1", 3, 1),
              L.reshape("reshape_1", [12]),
              L.dropout("dropout", 0.25),
              L.dense("dense_1", 4)]
    s = Store()
    k = s.add("conv2d/kernel", kern(rng, (3, 3, 3, 2), 27))
    b = s.add("conv2d/bias", unif(rng, (2,), -0.3, 0.3))
    dk = s.add("dense/kernel", kern(rng, (24, 12), 24, gain=1.5))
    db = s.add("dense/bias", unif(rng, (12,), 0.0, 0.5))
    k1 = s.add("conv2d_1/kernel", kern(rng, (1, 1, 3, 3), 3))
    b1 = s.add("conv2d_1/bias", unif(rng, (3,), -0.3, 0.3))
    dk1 = s.add("dense_1/kernel", kern(rng, (12, 4), 12))
    db1 = s.add("dense_1/bias", unif(rng, (4,), -0.3, 0.3))
    x = unif(rng, (2, 6, 5, 3))

    t = nchw(x)
    t = F.conv2d(t, tt(k).permute(3, 2, 0, 1), tt(b))        # -> (N, 2, 4, 3)
    v = t.permute(0, 2, 3, 1).reshape(2, 24)                  # Flatten in H, W, C order
    v = F.relu(v @ tt(dk) + tt(db))
    t = v.reshape(2, 2, 2, 3).permute(0, 3, 1, 2)             # Reshape (2, 2, 3) is NHWC
    t = F.conv2d(t, tt(k1).permute(3, 2, 0, 1), tt(b1))
    v = t.permute(0, 2, 3, 1).reshape(2, 12)                  # Reshape (12,) from NHWC
    y = result(v @ tt(dk1) + tt(db1))                         # Dropout: identity at inference
    return Case("flatten_dense_reshape",
                "tf.keras 2.2.4-tf Sequential on 6x5: Conv2D, Flatten (H, W, C order), Dense 12 relu, "
                "Reshape [2, 2, 3] (NHWC), Conv2D 1x1, Reshape [12], Dropout, Dense 4",
                py_model("2.2.4-tf", *sequential("sequential", layers)), s, x, y)


@case
def case_quantized():
    rng = np.random.default_rng(115)
    L = Layers("tf2")
    g = Graph(L, "model")
    i = g.input("input_1", [6, 6, 3])
    h = g(L.conv2d("conv2d", 4, 3, padding="same", activation="relu"), i)
    h = g(L.conv2d("conv2d_1", 4, 3, strides=2, padding="same"), h)
    h = g(L.flatten("flatten"), h)
    o = g(L.dense("dense", 5), h)
    s = Store()
    k = s.add("conv2d/kernel", kern(rng, (3, 3, 3, 4), 27), quant="uint8")
    b = s.add("conv2d/bias", unif(rng, (4,), -0.3, 0.3), quant="float16")
    k1 = s.add("conv2d_1/kernel", kern(rng, (3, 3, 4, 4), 36), quant="uint16")
    b1 = s.add("conv2d_1/bias", unif(rng, (4,), -0.3, 0.3), quant="uint8")
    dk = s.add("dense/kernel", kern(rng, (36, 5), 36), quant="float16")
    db = s.add("dense/bias", unif(rng, (5,), -0.3, 0.3))  # left float32
    x = unif(rng, (2, 6, 6, 3))

    t = nchw(x)
    t = F.relu(F.conv2d(F.pad(t, (1, 1, 1, 1)), tt(k).permute(3, 2, 0, 1), tt(b)))
    t = F.conv2d(F.pad(t, (0, 1, 0, 1)), tt(k1).permute(3, 2, 0, 1), tt(b1), stride=2)  # 6 -> 3
    v = t.permute(0, 2, 3, 1).reshape(2, 36)
    y = result(v @ tt(dk) + tt(db))
    return Case("quantized",
                "tf.keras Functional with quantized weights: uint8 (value = q*scale + min), uint16 (2 "
                "bytes LE, odd offsets) and float16, plus one float32 weight, in one shard; expected "
                "output from the dequantized float32 values",
                py_model("2.6.0", "Functional", g.config(o)), s, x, y)


@case
def case_sharded():
    rng = np.random.default_rng(117)
    L = Layers("tf2")
    g = Graph(L, "model")
    i = g.input("input_1", [6, 6, 3])
    h = g(L.conv2d("conv2d", 8, 3, padding="same", activation="relu"), i)
    h = g(L.conv2d("conv2d_1", 6, 3, padding="same"), h)
    h = g(L.global_pool("GlobalAveragePooling2D", "global_average_pooling2d"), h)
    o = g(L.dense("dense", 3), h)
    s = Store()
    k = s.add("conv2d/kernel", kern(rng, (3, 3, 3, 8), 27), group=1)         # 864 bytes
    b = s.add("conv2d/bias", unif(rng, (8,), 0.0, 0.3), group=1)             # 32
    k1 = s.add("conv2d_1/kernel", kern(rng, (3, 3, 8, 6), 72, gain=2.0), group=1)  # 1728: 2624 in all
    b1 = s.add("conv2d_1/bias", unif(rng, (6,), -0.3, 0.3), group=2)
    dk = s.add("dense/kernel", kern(rng, (6, 3), 6, gain=2.0), group=2)
    db = s.add("dense/bias", unif(rng, (3,), -0.3, 0.3), group=2)
    x = unif(rng, (2, 6, 6, 3))

    t = nchw(x)
    t = F.relu(F.conv2d(F.pad(t, (1, 1, 1, 1)), tt(k).permute(3, 2, 0, 1), tt(b)))
    t = F.conv2d(F.pad(t, (1, 1, 1, 1)), tt(k1).permute(3, 2, 0, 1), tt(b1))
    y = result(t.mean(dim=(2, 3)) @ tt(dk) + tt(db))
    return Case("sharded",
                "tf.keras Functional with two weight groups: group 1 (2624 bytes) cut into shards of "
                "1024, 1024 and 576 bytes (a kernel spans all three), group 2 in one shard",
                py_model("2.6.0", "Functional", g.config(o)), s, x, y, shard_bytes=1024)


@case
def case_mobilenet_v1_head():
    rng = np.random.default_rng(118)
    L = Layers("k2")
    g = Graph(L, "model_1")
    i = g.input("input_1", [6, 6, 3])
    h = g(L.conv2d("conv1", 8, 3, strides=2, padding="same", use_bias=False), i)
    h = g(L.batchnorm("conv1_bn"), h)
    h = g(L.activation("conv1_relu", "relu6"), h)
    h = g(L.global_pool("GlobalAveragePooling2D", "global_average_pooling2d_1"), h)
    h = g(L.reshape("reshape_1", [1, 1, 8]), h)
    h = g(L.dropout("dropout", 1e-3), h)
    h = g(L.conv2d("conv_preds", 10, 1, padding="same"), h)
    h = g(L.activation("act_softmax", "softmax"), h)
    o = g(L.reshape("reshape_2", [10]), h)
    s = Store()
    k = s.add("conv1/kernel", kern(rng, (3, 3, 3, 8), 27, gain=2.0), group=1)
    p = s.add_all("conv1_bn", bn_params(rng, 8, gamma=(1.0, 3.0), beta=(0.0, 2.0)), group=2)
    kp = s.add("conv_preds/kernel", kern(rng, (1, 1, 8, 10), 8, gain=0.8), group=3)
    bp = s.add("conv_preds/bias", unif(rng, (10,), -0.3, 0.3), group=3)
    x = unif(rng, (2, 6, 6, 3))

    t = nchw(x)
    t = F.conv2d(F.pad(t, (0, 1, 0, 1)), tt(k).permute(3, 2, 0, 1), None, stride=2)   # 6 -> 3
    t = F.batch_norm(t, tt(p["moving_mean"]), tt(p["moving_variance"]), tt(p["gamma"]), tt(p["beta"]),
                     training=False, eps=1e-3)
    t = F.hardtanh(t, 0.0, 6.0)
    t = t.mean(dim=(2, 3), keepdim=True)                                             # (N, 8, 1, 1)
    t = F.conv2d(t, tt(kp).permute(3, 2, 0, 1), tt(bp))
    y = result(F.softmax(t, dim=1).reshape(2, 10))
    return Case("mobilenet_v1_head",
                "Keras 2.1.4 Model ending like MobileNet v1, as the first tfjs-converter wrote it (no format "
                "keys, a group per layer, shard names without .bin, training_config): Conv2D stride 2, BN, "
                "relu6, GlobalAveragePooling2D, Reshape [1,1,8], Dropout, Conv2D 1x1, softmax, Reshape [10]",
                py_model("2.1.4", "Model", g.config(o), training=True, header=False), s, x, y,
                tolerance=2e-5, paths=lambda gi, n: ["group%d-shard%dof%d" % (gi, j + 1, n) for j in range(n)])


@case
def case_keras3_inbound():
    rng = np.random.default_rng(119)
    L = Layers("k3")
    g = Graph(L, "functional")
    i = g.input("input_layer", [8, 8, 3])
    a = g(L.conv2d("conv2d", 4, 3, padding="same", activation="relu"), i, shape=[8, 8, 4])
    b = g(L.conv2d("conv2d_1", 4, 1), i, shape=[8, 8, 4])
    h = g(L.merge("Add", "add"), [a, b], shape=[8, 8, 4])
    o = g(L.batchnorm("batch_normalization"), h, shape=[8, 8, 4])
    s = Store()
    ka = s.add("conv2d/kernel", kern(rng, (3, 3, 3, 4), 27))
    ba = s.add("conv2d/bias", unif(rng, (4,), -0.3, 0.3))
    kb = s.add("conv2d_1/kernel", kern(rng, (1, 1, 3, 4), 3))
    bb = s.add("conv2d_1/bias", unif(rng, (4,), -0.3, 0.3))
    p = s.add_all("batch_normalization", bn_params(rng, 4))
    x = unif(rng, (2, 8, 8, 3))

    t = nchw(x)
    ta = F.relu(F.conv2d(F.pad(t, (1, 1, 1, 1)), tt(ka).permute(3, 2, 0, 1), tt(ba)))
    tb = F.conv2d(t, tt(kb).permute(3, 2, 0, 1), tt(bb))
    t = F.batch_norm(ta + tb, tt(p["moving_mean"]), tt(p["moving_variance"]), tt(p["gamma"]),
                     tt(p["beta"]), training=False, eps=1e-3)
    y = result(nhwc(t))
    return Case("keras3_inbound",
                "Keras 3 Functional: inbound_nodes as {args: [__keras_tensor__ ...], kwargs}, Add with a "
                "list of tensors as its first arg, InputLayer batch_shape, DTypePolicy dtypes",
                py_model("3.6.0", "Functional", g.config(o), k3=True), s, x, y)


@case
def case_legacy_sequential_list():
    rng = np.random.default_rng(120)
    L = Layers("k2")
    layers = [L.conv2d("conv2d_1", 4, 3, activation="relu", first=(6, 6, 3)),
              L.pool("MaxPooling2D", "max_pooling2d_1", 2, 2, "valid"),
              L.flatten("flatten_1"),
              L.dense("dense_1", 3, activation="softmax")]
    s = Store()
    k = s.add("conv2d_1/kernel", kern(rng, (3, 3, 3, 4), 27))
    b = s.add("conv2d_1/bias", unif(rng, (4,), 0.0, 0.3))
    dk = s.add("dense_1/kernel", kern(rng, (16, 3), 16, gain=2.0))
    db = s.add("dense_1/bias", unif(rng, (3,), -0.3, 0.3))
    x = unif(rng, (2, 6, 6, 3))

    t = nchw(x)
    t = F.relu(F.conv2d(t, tt(k).permute(3, 2, 0, 1), tt(b)))     # 6 -> 4
    t = F.max_pool2d(t, 2, 2)                                      # 4 -> 2
    v = t.permute(0, 2, 3, 1).reshape(2, 16)
    y = result(F.softmax(v @ tt(dk) + tt(db), dim=1))
    # Keras <= 2.2.2 wrote a Sequential's config as the bare list of its layers
    return Case("legacy_sequential_list",
                "Keras 2.1.4 Sequential whose config is the bare list of layers (no name/layers dict): "
                "Conv2D relu, MaxPooling2D 2x2 'valid', Flatten, Dense 3 softmax",
                py_model("2.1.4", "Sequential", [seq_layer(l) for l in layers]), s, x, y, tolerance=2e-5)


# --------------------------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir", nargs="?", help="folder to write the case folders into")
    ap.add_argument("--list", action="store_true", help="print the case names, one a line")
    args = ap.parse_args(argv)
    if args.list:
        for name, _ in CASES:
            print(name)
        return 0
    if not args.outdir:
        ap.error("OUTDIR is required")
    os.makedirs(args.outdir, exist_ok=True)
    for name, fn in CASES:
        c = fn()
        assert c.name == name, (c.name, name)
        c.write(args.outdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
