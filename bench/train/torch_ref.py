"""PyTorch reference for bench/train: the same 3-block CNN, forward + backward + SGD step;
or, with --spec, one rung of catdog's ladder built from its layer spec by bench/parity's
torch_ref.build (the same layers by construction), trained with torch.optim's Adam or SGD
with momentum, binary cross-entropy on the logit, in training mode (dropout, batch norm).

Prints one JSON line: {"img_per_s": ..., "threads": ..., "torch": ..., "blas": ...}, blas
naming the BLAS library this process loaded (blas_in_use).
Run by bench/train/main.go; not part of catdog itself.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def blas_in_use():
    """The BLAS this process has mapped, from /proc/self/maps: "openblas" (Debian's
    libopenblas0-pthread or -openmp, through the libblas.so.3 alternative, or a bundled
    libopenblas), "mkl", "reference" (Debian's libblas3, netlib's), or "unknown"."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if ".so" in line}
    except OSError:
        return "unknown"
    if any("openblas" in p for p in libs):
        return "openblas"
    if any("libmkl" in p for p in libs):
        return "mkl"
    if any(p.endswith("/blas/libblas.so.3") or "libblas.so" in p for p in libs):
        return "reference"
    return "unknown"


def blas_core():
    """The kernels OpenBLAS picked for this CPU ("SkylakeX", "Haswell", "Zen"...), from its
    openblas_get_corename, or "" when the BLAS is not OpenBLAS."""
    try:
        with open("/proc/self/maps") as f:
            libs = sorted({line.split()[-1] for line in f if "libopenblas" in line})
        if not libs:
            return ""
        import ctypes

        lib = ctypes.CDLL(libs[0])
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return ""


def torch_isa():
    """What PyTorch's CPU kernels use: ATen's vector instructions (from its build summary)
    and whether convolutions go through oneDNN (MKL-DNN), which picks its own at run time."""
    cap = ""
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage:" in line:
            cap = line.split(":", 1)[1].strip()
    return {"aten": cap, "onednn": bool(torch.backends.mkldnn.is_available())}


def net(size):
    layers = []
    c = 3
    for f in (32, 64, 128):
        layers += [nn.Conv2d(c, f, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        c = f
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * (size // 8) ** 2, 128), nn.ReLU(), nn.Linear(128, 1), nn.Sigmoid())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--spec", default="", help="catdog's layer spec (finetune.SpecString) of a rung; default: the 3-block CNN")
    p.add_argument("--optimizer", default="adam", help="adam or sgd (with --spec)")
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--momentum", type=float, default=0.9)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    x = torch.rand(a.batch, 3, a.size, a.size)
    y = (torch.rand(a.batch, 1) > 0.5).float()
    if a.spec:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "parity"))
        from torch_ref import build  # bench/parity's builder
        m = build(a.spec, (3, a.size, a.size))
        m.train()
        if a.optimizer == "adam":
            opt = torch.optim.Adam(m.parameters(), lr=a.lr, eps=1e-7)
        else:
            opt = torch.optim.SGD(m.parameters(), lr=a.lr, momentum=a.momentum)

        def loss_fn(out, target):
            return F.binary_cross_entropy_with_logits(out, target)
    else:
        m = net(a.size)
        opt = torch.optim.SGD(m.parameters(), lr=0.01)
        loss_fn = nn.BCELoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(m(x), y)
        loss.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    t = time.perf_counter()
    for _ in range(a.iters):
        step()
    dt = time.perf_counter() - t
    print(json.dumps({"img_per_s": a.batch * a.iters / dt, "threads": torch.get_num_threads(), "torch": torch.__version__,
                      "blas": blas_in_use(), "blas_core": blas_core(), **torch_isa()}))


if __name__ == "__main__":
    main()
