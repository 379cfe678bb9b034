#!/usr/bin/env python3
"""PyTorch's own error on every reference case when run on CUDA in float32 and in TF32: each forward result and
gradient of the fixture's loss, as the relative error ||torch - ref|| / ||ref|| against the float64 reference
(test/helpers/fixtures.ts's relativeError). test/cuda-backward.test.ts bounds our TF32 gradients by these
(TF32 errors grow with sequence length and relu's kinks; the bar is "as close as PyTorch's own TF32").

    python3 scripts/torch_cuda_errors.py [--fixtures test/fixtures/torch] [--out FILE]

Needs torch with CUDA (the GPU machine). Reads safetensors without the safetensors package.
"""
import argparse
import json
import os
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        start, end = info["data_offsets"]
        buf = bytearray(raw[base + start:base + end])
        t = torch.frombuffer(buf, dtype=DTYPES[info["dtype"]]) if end > start else torch.empty(0, dtype=DTYPES[info["dtype"]])
        tensors[name] = t.reshape(info["shape"]).clone()
    return json.loads(meta["config"]), tensors


def build(c):
    kind = c["module"]
    if kind.endswith("Cell"):
        kw = dict(bias=c["bias"])
        if kind == "RNNCell":
            kw["nonlinearity"] = c.get("nonlinearity", "tanh")
        return getattr(torch.nn, kind)(c["input_size"], c["hidden_size"], **kw)
    kw = dict(num_layers=c["num_layers"], bias=c["bias"], batch_first=c["batch_first"], dropout=0.0,
              bidirectional=c["bidirectional"])
    if kind == "RNN":
        kw["nonlinearity"] = c.get("nonlinearity", "tanh")
    if kind == "LSTM" and c.get("proj_size", 0):
        kw["proj_size"] = c["proj_size"]
    return getattr(torch.nn, kind)(c["input_size"], c["hidden_size"], **kw)


def rel(ours, ref):
    ours, ref = ours.double().cpu().reshape(-1), ref.double().reshape(-1)
    diff = torch.sum((ours - ref) ** 2).item()
    norm = torch.sum(ref ** 2).item()
    return (diff ** 0.5) if norm == 0 else (diff / norm) ** 0.5


def run_case(c, t, tf32):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    dev = "cuda"
    m = build(c).to(dev)
    with torch.no_grad():
        for name, p in m.named_parameters():
            p.copy_(t[name].float())
    x = t["input"].float().to(dev).requires_grad_()
    lstm = c["module"] in ("LSTM", "LSTMCell")
    h0 = t["h0"].float().to(dev).requires_grad_() if c["has_h0"] else None
    c0 = t["c0"].float().to(dev).requires_grad_() if c["has_h0"] and lstm else None
    hx = ((h0, c0) if lstm else h0) if h0 is not None else None
    results = {}
    loss = 0
    if c["module"].endswith("Cell"):
        out = m(x, hx)
        outs = list(out) if lstm else [out]
        for name, o in zip(["h_out", "c_out"], outs):
            results[name] = o
            loss = loss + torch.sum(o * t["grad_" + name].float().to(dev))
    else:
        inp = x
        if c["packed"]:
            inp = torch.nn.utils.rnn.pack_padded_sequence(x, t["lengths"], batch_first=c["batch_first"], enforce_sorted=False)
        out, h = m(inp, hx)
        if c["packed"]:
            out = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=c["batch_first"], total_length=c["seq_len"])[0]
        results["output"] = out
        hs = list(h) if lstm else [h]
        for name, o in zip(["h_n", "c_n"], hs):
            results[name] = o
        for name, o in results.items():
            loss = loss + torch.sum(o * t["grad_" + name].float().to(dev))
    loss.backward()
    errors = {name: rel(o.detach(), t[name]) for name, o in results.items()}
    grads = {"input": x.grad, "h0": h0.grad if h0 is not None else None, "c0": c0.grad if c0 is not None else None}
    for name, p in m.named_parameters():
        grads[name] = p.grad
    for key in t:
        if key.startswith("grad."):
            name = key[len("grad."):]
            errors[key] = rel(grads[name], t[key])
    return errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", default=os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "torch"))
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    files = sorted(f for f in os.listdir(a.fixtures) if f.endswith(".safetensors"))
    cases = {}
    for f in files:
        c, t = load(os.path.join(a.fixtures, f))
        cases[f[:-len(".safetensors")]] = {"float32": run_case(c, t, False), "tf32": run_case(c, t, True)}
    doc = {"meta": {"torch": torch.__version__, "cudnn": torch.backends.cudnn.version(),
                    "device": torch.cuda.get_device_name(0),
                    "what": "PyTorch's relative error vs the float64 reference on CUDA (scripts/torch_cuda_errors.py)"},
           "cases": cases}
    text = json.dumps(doc, indent=1, sort_keys=True)
    if a.out:
        with open(a.out, "w") as fh:
            fh.write(text + "\n")
    worst = {}
    for name, modes in cases.items():
        for mode, errs in modes.items():
            for key, e in errs.items():
                k = (mode, "grad" if key.startswith("grad.") else "forward")
                worst[k] = max(worst.get(k, 0), e)
    for k, v in sorted(worst.items()):
        print("torch worst %s %s relative error: %.2e" % (k[0], k[1], v))
    print("%d cases" % len(cases))


if __name__ == "__main__":
    sys.exit(main())
