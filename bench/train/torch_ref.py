"""PyTorch reference for bench/train: the same 3-block CNN, forward + backward + SGD step.

Prints one JSON line: {"img_per_s": ..., "threads": ..., "torch": ..., "blas": ...}, blas
naming the BLAS library this process loaded (blas_in_use).
Run by bench/train/main.go; not part of catdog itself.
"""
import argparse
import json
import time

import torch
import torch.nn as nn


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
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    m = net(a.size)
    x = torch.rand(a.batch, 3, a.size, a.size)
    y = (torch.rand(a.batch, 1) > 0.5).float()
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
                      "blas": blas_in_use()}))


if __name__ == "__main__":
    main()
