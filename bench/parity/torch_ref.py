"""PyTorch reference for bench/parity: trains one of catdog's from-scratch architectures on
the same prepared arrays and split, with the same recipe, and prints one JSON line.

The network is built from catdog's own layer spec (finetune.SpecString), so the layers are
the same by construction; the initialisation (He or Glorot uniform weights, zero biases),
the optimiser (catdog's Adam: bias-corrected step size, epsilon 1e-7 outside the square
root; or SGD with momentum), the learning-rate schedule (warm-up, cosine), the batch, the
epochs, early stopping on the validation loss keeping the best epoch's weights, batch norm
(momentum 0.1, epsilon 1e-5, unbiased running variance) and the augmentation (flip, turn,
zoom, shift with bilinear resampling and clamped edges, contrast about each channel's mean)
follow catdog's definitions. Only the random draws differ: that is what the seeds average
over. With --init-from and --draws (bench/parity -paired) not even those: the initial
weights are catdog's (params.bin, catdog's order and layout) and every draw (sample order,
augmentation, dropout masks) is taken from the stream catdog's run is given, in catdog's
order, so the two runs of a seed differ only by float rounding. Run by bench/parity/main.go;
never part of catdog itself.
"""
import argparse
import json
import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Residual(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)
        self.proj = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        s = self.proj(x) if self.proj is not None else x
        return F.relu(h + s)


class Stream:
    """The random stream bench/parity gives catdog's run (Config.Rand) in -paired mode:
    SplitMix64 from a seed, read through Go's math/rand/v2 (Float64 keeps the low 53 bits,
    Perm is Fisher-Yates with Lemire's bounded draws), so every draw is catdog's."""

    G, C1, C2, MASK = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, (1 << 64) - 1

    def __init__(self, seed):
        self.state = seed & self.MASK

    def next(self):
        self.state = (self.state + self.G) & self.MASK
        z = self.state
        z = ((z ^ (z >> 30)) * self.C1) & self.MASK
        z = ((z ^ (z >> 27)) * self.C2) & self.MASK
        return z ^ (z >> 31)

    def float64s(self, n):
        k = np.arange(1, n + 1, dtype=np.uint64)
        z = np.uint64(self.state) + k * np.uint64(self.G)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(self.C1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(self.C2)
        z = z ^ (z >> np.uint64(31))
        self.state = (self.state + n * self.G) & self.MASK
        return (z & np.uint64((1 << 53) - 1)).astype(np.float64) / float(1 << 53)

    def uint64n(self, n):
        if n & (n - 1) == 0:
            return self.next() & (n - 1)
        prod = self.next() * n
        if prod & self.MASK < n:
            thresh = ((1 << 64) - n) % n
            while prod & self.MASK < thresh:
                prod = self.next() * n
        return prod >> 64

    def perm(self, n):
        p = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.uint64n(i + 1)
            p[i], p[j] = p[j], p[i]
        return np.array(p, dtype=np.int64)


class Mask(nn.Module):
    """Dropout with catdog's masks (gops.FillMask): one Uint64 from the stream per mask and
    step, the seed of a SplitMix64 stream of its own whose i-th Float64 drops value i when
    below the rate; kept values are scaled by 1/(1-rate) in float32."""

    def __init__(self, p, stream):
        super().__init__()
        self.p, self.stream = p, stream

    def forward(self, h):
        if not self.training:
            return h
        u = Stream(self.stream.next()).float64s(h.numel()).reshape(tuple(h.shape))
        m = np.where(u < self.p, np.float32(0), np.float32(1 / (1 - self.p))).astype(np.float32)
        return h * torch.from_numpy(m)


class GAP(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


class ReLU6(nn.Module):
    def forward(self, x):
        return torch.clamp(x, 0, 6)


class Sample:
    """The shape of one sample as build goes through the layers: (c, h, w) for feature
    maps; flat, the length, once they are flattened or pooled to a vector."""

    def __init__(self, shape):
        self.c, self.h, self.w = shape
        self.flat = None


def conv(s, args, stream):
    n, k, pad = int(args[0]), int(args[1]), int(args[2])
    m = nn.Conv2d(s.c, n, k, padding=pad)
    s.c, s.h, s.w = n, s.h + 2 * pad - k + 1, s.w + 2 * pad - k + 1
    return m


def dwconv(s, args, stream):
    k, pad = int(args[0]), int(args[1])
    m = nn.Conv2d(s.c, s.c, k, padding=pad, groups=s.c)
    s.h, s.w = s.h + 2 * pad - k + 1, s.w + 2 * pad - k + 1
    return m


def maxpool(s, args, stream):
    k = int(args[0])
    s.h, s.w = s.h // k, s.w // k
    return nn.MaxPool2d(k, k)


def dropout(s, args, stream):
    return nn.Dropout(float(args[0])) if stream is None else Mask(float(args[0]), stream)


def batchnorm(s, args, stream):
    if s.flat is None:
        return nn.BatchNorm2d(s.c, eps=1e-5, momentum=0.1)
    return nn.BatchNorm1d(s.flat, eps=1e-5, momentum=0.1)


def flatten(s, args, stream):
    if s.flat is None:
        s.flat = s.c * s.h * s.w
    return nn.Flatten()


def gap(s, args, stream):
    s.flat = s.c
    return GAP()


def dense(s, args, stream):
    n = int(args[0])
    m = nn.Linear(s.flat, n)
    s.flat = n
    return m


def residual(s, args, stream):
    n = int(args[0])
    m = Residual(s.c, n)
    s.c = n
    return m


# LAYERS is the mirror of catdog's table of layer kinds (finetune/kinds.go): for each kind,
# as finetune.SpecString writes its items, the function that makes its module from the
# sample's shape (which it updates), the item's arguments and the dropout stream. A kind
# added there is added here; finetune's TestTorchMirror checks that both know the same
# kinds and compute the same.
LAYERS = {
    "conv": conv,
    "dwconv": dwconv,
    "relu": lambda s, args, stream: nn.ReLU(),
    "relu6": lambda s, args, stream: ReLU6(),
    "maxpool": maxpool,
    "dropout": dropout,
    "batchnorm": batchnorm,
    "flatten": flatten,
    "gap": gap,
    "dense": dense,
    "sigmoid": lambda s, args, stream: nn.Sigmoid(),
    "softmax": lambda s, args, stream: nn.Softmax(dim=1),
    "residual": residual,
}


def build(spec, shape, stream=None):
    """Builds catdog's layer spec (as finetune.SpecString writes it) for samples of shape
    (C, H, W); the final sigmoid or softmax is left out (the loss takes logits). With a
    stream, dropout draws its masks from it."""
    s = Sample(shape)
    items = spec.split(",")
    layers = []
    for i, item in enumerate(items):
        f = item.split(":")
        if f[0] not in LAYERS:
            raise SystemExit("unknown layer %r" % item)
        m = LAYERS[f[0]](s, f[1:], stream)
        if not (f[0] in ("sigmoid", "softmax") and i == len(items) - 1):
            layers.append(m)
    return nn.Sequential(*layers)


def softmax_output(spec):
    """Whether catdog's layer spec ends with softmax (three classes or more: categorical
    cross-entropy on the logits) rather than sigmoid (binary cross-entropy)."""
    return spec.split(",")[-1].split(":")[-1] == "softmax"


def loss_of(z, labels, softmax, reduction="mean"):
    """catdog's loss of logits z against integer labels: cross-entropy for a softmax output,
    binary cross-entropy on the one logit otherwise; and the number of right answers."""
    if softmax:
        y = torch.from_numpy(labels.astype(np.int64))
        return F.cross_entropy(z, y, reduction=reduction), (z.argmax(dim=1) == y).sum().item()
    z = z.squeeze(1)
    y = torch.from_numpy(labels.astype(np.float32))
    return F.binary_cross_entropy_with_logits(z, y, reduction=reduction), ((z > 0).float() == y).sum().item()


def initialise(model, scheme, gen):
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            if isinstance(m, nn.Conv2d):
                rf = m.kernel_size[0] * m.kernel_size[1]
                fan_in, fan_out = m.in_channels // m.groups * rf, m.out_channels // m.groups * rf
            else:
                fan_in, fan_out = m.in_features, m.out_features
            lim = math.sqrt(6 / fan_in) if scheme == "he-uniform" else math.sqrt(6 / (fan_in + fan_out))
            with torch.no_grad():
                m.weight.uniform_(-lim, lim, generator=gen)
                m.bias.zero_()


def load_catdog(model, d):
    """Copies catdog's initial weights (params.json: names and shapes in catdog's order;
    params.bin: their float32 values) into model: convolutions and dense layers (weight,
    bias; dense weights transposed), batch norms (scale, shift, running mean and variance)."""
    meta = json.load(open(d + "/params.json"))
    flat = np.fromfile(d + "/params.bin", dtype="<f4")
    tensors = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            tensors += [(m.weight, False), (m.bias, False)]
        elif isinstance(m, nn.Linear):
            tensors += [(m.weight, True), (m.bias, False)]
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            tensors += [(m.weight, False), (m.bias, False), (m.running_mean, False), (m.running_var, False)]
    if len(tensors) != len(meta):
        raise SystemExit("%s: %d catdog weights for %d PyTorch tensors" % (d, len(meta), len(tensors)))
    off = 0
    with torch.no_grad():
        for (t, transpose), p in zip(tensors, meta):
            n = int(np.prod(p["shape"]))
            v = torch.from_numpy(flat[off:off + n].reshape(p["shape"]).copy())
            off += n
            if transpose:
                v = v.t()
            if tuple(v.shape) != tuple(t.shape):
                raise SystemExit("%s: catdog's %s has shape %s, PyTorch's tensor %s" % (d, p["name"], p["shape"], list(t.shape)))
            t.copy_(v)
    if off != len(flat):
        raise SystemExit("%s: params.bin holds %d values, params.json names %d" % (d, len(flat), off))


class Optimiser:
    """catdog's optimiser (finetune/optim.go), step for step."""

    def __init__(self, params, a, steps_per_epoch):
        self.p = [p for p in params if p.requires_grad]
        self.a = a
        self.t = 0
        self.m = [torch.zeros_like(p) for p in self.p]
        self.v = [torch.zeros_like(p) for p in self.p]
        self.warm = a.warmup * steps_per_epoch
        self.total = a.epochs * steps_per_epoch

    def rate(self):
        t, a = self.t, self.a
        if self.warm > 0 and t <= self.warm:
            return a.lr * t / self.warm
        if a.schedule == "cosine" and self.total > self.warm:
            p = min(1.0, (t - self.warm) / (self.total - self.warm))
            return a.lr * 0.5 * (1 + math.cos(math.pi * p))
        return a.lr

    @torch.no_grad()
    def step(self):
        self.t += 1
        rate = self.rate()
        if self.a.optimizer == "adam":
            b1, b2, eps = 0.9, 0.999, 1e-7
            lr = rate * math.sqrt(1 - b2 ** self.t) / (1 - b1 ** self.t)
            for p, m, v in zip(self.p, self.m, self.v):
                g = p.grad
                m.mul_(b1).add_(g, alpha=1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                p.sub_(lr * m / (v.sqrt() + eps))
        else:
            mu = self.a.momentum
            for p, vel in zip(self.p, self.m):
                vel.mul_(mu).sub_(rate * p.grad)
                p.add_(vel)


def augment(batch, u):
    """catdog's DefaultAugment on a uint8 batch (n, S, S, 3), from six uniform draws per
    image (u, shape (n, 6)): flip with probability 0.5, turn within ±15°, zoom 0.9-1.1,
    shift within ±10 %, contrast ±20 % (finetune/augment.go)."""
    n, size = batch.shape[0], batch.shape[1]
    out = np.empty_like(batch)
    c = (size - 1) / 2
    for i in range(n):
        flip = u[i, 0] < 0.5
        angle = (2 * u[i, 1] - 1) * 15 * math.pi / 180
        zoom = 0.9 + u[i, 2] * 0.2
        sx, sy = (2 * u[i, 3] - 1) * 0.1 * size, (2 * u[i, 4] - 1) * 0.1 * size
        contrast = 1 + (2 * u[i, 5] - 1) * 0.2
        img = batch[i]
        identical = not flip and angle == 0 and zoom == 1 and sx == 0 and sy == 0
        warp = angle != 0 or zoom != 1 or sx != 0 or sy != 0
        if warp:
            cos, sin = math.cos(angle) / zoom, math.sin(angle) / zoom
            vv, uu = np.mgrid[0:size, 0:size].astype(np.float64)
            dx, dy = uu - c - sx, vv - c - sy
            fx = np.clip((cos * dx + sin * dy + c).astype(np.float32), 0, size - 1)
            fy = np.clip((-sin * dx + cos * dy + c).astype(np.float32), 0, size - 1)
            x0, y0 = fx.astype(np.int64), fy.astype(np.int64)
            x1, y1 = np.minimum(x0 + 1, size - 1), np.minimum(y0 + 1, size - 1)
            ax, ay = (fx - x0)[..., None], (fy - y0)[..., None]
            src = img.astype(np.float32)
            top = src[y0, x0] + ax * (src[y0, x1] - src[y0, x0])
            bot = src[y1, x0] + ax * (src[y1, x1] - src[y1, x0])
            img = (top + ay * (bot - top) + 0.5).astype(np.uint8)
            if flip:
                img = img[:, ::-1]
        elif flip:
            img = img[:, ::-1]
        img = np.ascontiguousarray(img)
        if contrast != 1 and not (identical and contrast == 1):
            mean = img.reshape(-1, 3).astype(np.float64).mean(axis=0)
            v = np.arange(256, dtype=np.float64)[None, :]
            lut = np.clip(np.round(mean[:, None] + (v - mean[:, None]) * contrast), 0, 255).astype(np.uint8)
            img = np.stack([lut[ch][img[..., ch]] for ch in range(3)], axis=-1)
        out[i] = img
    return out


def to_tensor(imgs):
    return torch.from_numpy(np.ascontiguousarray(imgs.transpose(0, 3, 1, 2))).float() * (1.0 / 255)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--spec", required=True)
    p.add_argument("--aug", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--init", default="he-uniform")
    p.add_argument("--optimizer", default="adam")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--schedule", default="constant")
    p.add_argument("--warmup", type=int, default=0)
    p.add_argument("--patience", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--first-steps", type=int, default=20, help="how many of the first steps' losses to print")
    p.add_argument("--init-from", default="", help="folder with catdog's initial weights (params.json, params.bin)")
    p.add_argument("--draws", type=int, default=-1, help="seed of the stream catdog's run draws from (-paired)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)

    with open(a.data + "/manifest.json") as f:  # the array names: datasets.Manifest.ArrayFiles
        dogs_vs_cats = json.load(f)["classes"] == ["dog", "cat"]
    stem = "dogs_vs_cats_" if dogs_vs_cats else ""
    photos = np.load(a.data + "/" + stem + "photos.npy", mmap_mode="r")
    labels = np.load(a.data + "/" + stem + "labels.npy")
    split = {s: np.load("%s/split_%s.npy" % (a.data, s)) for s in ("train", "valid", "test")}
    size = photos.shape[1]
    stream = Stream(a.draws) if a.draws >= 0 else None
    model = build(a.spec, (3, size, size), stream)
    if a.init_from:
        load_catdog(model, a.init_from)
    else:
        initialise(model, a.init, gen)
    train = split["train"]
    steps = len(train) // a.batch
    opt = Optimiser(model.parameters(), a, steps)

    softmax = softmax_output(a.spec)

    def evaluate(rows):
        model.eval()
        loss, right = 0.0, 0
        with torch.no_grad():
            for i in range(0, len(rows), 64):
                r = rows[i:i + 64]
                l, ok = loss_of(model(to_tensor(photos[r])), labels[r], softmax, reduction="sum")
                loss += l.item()
                right += ok
        return loss / len(rows), right / len(rows)

    history, best, best_loss, best_epoch, bad = [], None, None, 0, 0
    first = []  # the first steps' losses
    start = time.perf_counter()
    for epoch in range(1, a.epochs + 1):
        model.train()
        perm = stream.perm(len(train)) if stream else rng.permutation(len(train))
        tl = 0.0
        for b in range(steps):
            r = train[perm[b * a.batch:(b + 1) * a.batch]]
            imgs = np.asarray(photos[r])
            if a.aug:
                imgs = augment(imgs, stream.float64s(6 * len(r)).reshape(len(r), 6) if stream else rng.random((len(r), 6)))
            x = to_tensor(imgs)
            for q in model.parameters():
                q.grad = None
            loss, _ = loss_of(model(x), labels[r], softmax)
            loss.backward()
            opt.step()
            tl += loss.item()
            if len(first) < a.first_steps:
                first.append(loss.item())
        vl, va = evaluate(split["valid"])
        history.append({"epoch": epoch, "train_loss": tl / steps, "valid_loss": vl, "valid_acc": va})
        if best_loss is None or vl < best_loss:
            best_loss, best_epoch, bad = vl, epoch, 0
            best = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            bad += 1
            if a.patience > 0 and bad >= a.patience and epoch < a.epochs:
                break
    model.load_state_dict(best)
    tl, ta = evaluate(split["test"])
    print(json.dumps({"test_acc": ta, "test_loss": tl, "test_n": len(split["test"]), "best_epoch": best_epoch,
                      "epochs": history, "first_losses": first, "seconds": time.perf_counter() - start, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
