#!/usr/bin/env python3
"""Trains the `inr` networks exported by GpuProof --export with PyTorch, for GPU machines where DJL's CUDA build of
libtorch 2.7.1 cannot run (DJL 0.35.1's JNI library fails on other libtorch versions). Same network, loss (masked MSE;
the grad/freq terms are off by default and not ported), AdamW, cosine schedule and quantization-aware phase as
io.weightstream.inr.DjlInrTrainer; GpuProof --import then quantizes and decodes the weights with the pure-Java codec.

    python3 inr_torch.py DIR [--devices cuda,cpu] [--steps N]
"""
import argparse, math, os, time
import numpy as np
import torch

BETA1, BETA2, EPS, FINAL_LR = 0.9, 0.999, 1e-8, 0.01


def load(d):
    meta = {}
    for line in open(os.path.join(d, "meta.properties")):
        if "=" in line and not line.startswith("#"):
            k, v = line.rstrip("\n").split("=", 1)
            meta[k] = v.replace("\\:", ":")
    f = lambda n: np.fromfile(os.path.join(d, n), dtype="<f4") if os.path.exists(os.path.join(d, n)) else None
    return meta, f("encoding.f32"), f("coords.f32"), f("target.f32"), f("mask.f32")


def train(d, device, steps_override, opts=None):
    meta, enc, coords, target, mask = load(d)
    i = lambda k: int(meta[k])
    blocks, rows, cols, points = i("blocks"), i("rows"), i("cols"), i("points")
    block_rows = rows // blocks
    depth, width, mod_width, omega0 = i("depth"), i("width"), i("modWidth"), float(meta["omega0"])
    steps = steps_override or i("steps")
    lr0, wd, qa, bits = float(meta["lr"]), float(meta["weightDecay"]), float(meta["quantAware"]), i("bits")
    grid, edge_bits = "plan", 0
    if opts is not None:
        lr0 = opts.lr or lr0
        qa = qa if opts.qa is None else opts.qa
        grid, edge_bits = opts.grid, opts.edge_bits
    params_spec = [(n, int(s.split("x")[0]), int(s.split("x")[1]))
                   for n, s in (p.split(":") for p in meta["parameters"].split(","))]
    dev = torch.device(device)
    E = torch.tensor(enc, device=dev).reshape(points, -1)
    C = torch.tensor(coords, device=dev).reshape(points, -1)
    T = torch.tensor(target, device=dev).reshape(blocks, block_rows, cols)
    M = None if mask is None else torch.tensor(mask, device=dev).reshape(blocks, block_rows, cols)
    body = float(meta["bodyElements"])
    g = torch.Generator().manual_seed(int(meta["seed"]))
    fan = {n: r for n, r, c in params_spec}
    P = []
    for n, r, c in params_spec:
        if n.startswith("mod.2"):
            b = 0.0
        elif n == "mod.1.weight":
            b = math.sqrt(6.0 / r)
        elif n.endswith(".bias"):
            b = 1.0 / math.sqrt(fan[n[:-5] + ".weight"])
        elif n == "syn.0.weight":
            b = 1.0 / r
        else:
            b = math.sqrt(6.0 / r) / omega0
        w = ((torch.rand(blocks, r, c, generator=g) * 2 - 1) * b).to(dev).requires_grad_(True)
        P.append(w)
    m1 = [torch.zeros_like(p) for p in P]
    m2 = [torch.zeros_like(p) for p in P]
    edge = {n for n, r, c in params_spec if n.startswith("mod.") or n.startswith("syn.0.") or n.startswith("out.")}
    # the codec's plan (exported by GpuProof): bits and grid kind per tensor; the options above override it
    plan_bits = [int(b) for b in meta["parameterBits"].split(",")] if "parameterBits" in meta else None
    plan_cols = [c == "true" for c in meta["parameterColumns"].split(",")] if "parameterColumns" in meta else None
    if opts is not None and (opts.grid != "plan" or opts.edge_bits):
        plan_bits = plan_cols = None

    def in_use(quantized):
        if not quantized:
            return P
        out = []
        for t, ((n, r, c), w) in enumerate(zip(params_spec, P)):
            if plan_bits is not None:
                b, per_col = plan_bits[t], plan_cols[t]
            else:
                b, per_col = ((edge_bits or bits) if n in edge else bits), grid == "column" and r > 1
            levels = float((1 << b) - 1)
            # one grid per block slice, or one per output unit (column) of a weight matrix (float32 here, float16
            # fields in the codec: close enough for training, the codec quantizes the result itself)
            flat = w if per_col else w.reshape(blocks, -1)
            dim = 1 if flat.dim() == 3 else 1
            lo = flat.min(dim=dim, keepdim=True).values
            step = ((flat.max(dim=dim, keepdim=True).values - lo) / levels).clamp_min(1e-30)
            r = ((flat - lo) / step).round() * step + lo
            out.append((flat + (r - flat).detach()).reshape(w.shape))
        return out

    def forward(ps):
        k = 0
        omega = None
        if mod_width > 0:
            hidden = C.matmul(ps[0]) + ps[1]
            omega = (hidden.clamp_min(0).matmul(ps[2]) + ps[3] + 1) * omega0
            k = 4
        h = E
        for _ in range(depth):
            pre = h.matmul(ps[k]) + ps[k + 1]
            k += 2
            h = torch.sin(pre * omega0 if omega is None else pre * omega)
        return (h.matmul(ps[k]) + ps[k + 1]).reshape(blocks, block_rows, cols)

    def sse(err):
        sq = err.square()
        return (sq if M is None else sq * M).sum()

    rel_scale = float(meta["relScale"])
    if dev.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    rel = float("nan")
    for step in range(steps):
        progress = step / steps
        quantized = qa > 0 and progress >= 1 - qa
        lr = lr0 * (FINAL_LR + (1 - FINAL_LR) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))
        err = forward(in_use(quantized)) - T
        s = sse(err)
        (s / body).backward()
        t = step + 1
        c1, c2 = 1 - BETA1 ** t, 1 - BETA2 ** t
        with torch.no_grad():
            for w, a, v in zip(P, m1, m2):
                gr = w.grad
                a.mul_(BETA1).add_(gr, alpha=1 - BETA1)
                v.mul_(BETA2).addcmul_(gr, gr, value=1 - BETA2)
                if wd > 0:
                    w.mul_(1 - lr * wd)
                w.sub_((a / c1) / ((v / c2).sqrt() + EPS) * lr)
                w.grad = None
        if step % 1000 == 0 or step == steps - 1:
            rel = math.sqrt(s.item()) * rel_scale
            print(f"  {device} step {step + 1}/{steps} relL2 {rel:.4f} {time.perf_counter() - start:.1f}s", flush=True)
    with torch.no_grad():
        rel = math.sqrt(sse(forward(in_use(qa > 0)) - T).item()) * rel_scale
    if dev.type == "cuda":
        torch.cuda.synchronize()
    ms = int((time.perf_counter() - start) * 1000)
    name = "gpu" if dev.type == "cuda" else "cpu"
    w = np.concatenate([p.detach().cpu().numpy().astype("<f4").reshape(-1) for p in P])
    w.tofile(os.path.join(d, f"weights-{name}.f32"))
    label = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    with open(os.path.join(d, f"result-{name}.properties"), "w") as f:
        f.write(f"steps={steps}\nmillis={ms}\nrelL2={rel}\ndevice={name}: {label}, torch {torch.__version__}\n")
    mb = rows * cols * 4 / 1e6
    print(f"{meta['tensor']} [{rows}x{cols}] on {label} (bits {bits}, edge {edge_bits}, grid {grid}, qa {qa}, lr {lr0}): {steps} steps, {ms / 1e3:.1f} s, {ms / 1e3 / mb:.2f} s/MB, "
          f"trained relL2 {rel:.4f}", flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--devices", default="cuda,cpu")
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--lr", type=float, default=0)
    ap.add_argument("--qa", type=float, default=None)
    ap.add_argument("--grid", default="plan", help="plan (the codec's, from the export), tensor or column")
    ap.add_argument("--edge-bits", type=int, default=0, help="bits of the modulator, first and output layers")
    ap.add_argument("--only", type=int, default=-1, help="only this problem index")
    a = ap.parse_args()
    for sub in sorted(os.listdir(a.dir), key=lambda x: int(x) if x.isdigit() else -1):
        d = os.path.join(a.dir, sub)
        if os.path.isfile(os.path.join(d, "meta.properties")) and (a.only < 0 or sub == str(a.only)):
            for device in a.devices.split(","):
                if device == "cuda" and not torch.cuda.is_available():
                    print("no CUDA device: skipped")
                    continue
                train(d, device, a.steps, a)
