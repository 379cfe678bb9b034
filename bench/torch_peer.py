#!/usr/bin/env python3
"""PyTorch peer of the node-rnn bench CLI (bench/peer-torch.ts runs it): times torch.nn.LSTM / GRU / RNN on the
cases node-rnn timed, on the CPU or a CUDA device (cuDNN), the same way node-rnn is timed.

    python3 bench/torch_peer.py --probe DEVICE             prints {"torch", "cuda", "cudnn", "device", ...} as JSON
    python3 bench/torch_peer.py --cases IN.json --out OUT.json

IN.json: {"device": "cpu" | "cuda:N", "threads", "warmup", "repeats", "seed", "lr",
          "cases": [{"id", "mode": LSTM|GRU|RNN_TANH|RNN_RELU, "T", "B", "I", "H", "L", "D", "P",
                     "pass": forward|backward|train, "precision": float32|tf32}]}
OUT.json (rewritten after every case): {"meta": {...}, "results": [{"id", "ms", "timesMs", "eventMs", "error"}]}

Per case: seq-first input [T, B, I] and output gradient g; forward = eval() under no_grad(); backward = y.backward(g)
alone, after an untimed forward; train = forward, y.backward(g), SGD step (lr), zero_grad(). `warmup` untimed runs,
then `repeats` runs each timed with time.perf_counter() around the run and, on CUDA, torch.cuda.synchronize()
(as node-rnn's are timed: a host clock around a call that returns when the device is done); the median is "ms".
On CUDA each run is also timed with CUDA events (median: "eventMs"). precision 'tf32' allows TF32 (matmul and
cuDNN), 'float32' forbids it (the bench sends no other precision). On the CPU torch.set_num_threads(threads).
"""
import argparse
import json
import statistics
import sys
import time


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--probe", metavar="DEVICE", help="print torch's versions and whether DEVICE is usable, as JSON")
    ap.add_argument("--cases", metavar="FILE", help="the cases to time (JSON)")
    ap.add_argument("--out", metavar="FILE", help="where to write the results (JSON)")
    args = ap.parse_args()
    if not args.probe and not (args.cases and args.out):
        ap.error("give --probe DEVICE, or --cases FILE and --out FILE")
    return args


def meta_of(torch, device):
    meta = {"torch": torch.__version__, "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None}
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError("torch.cuda.is_available() is False (torch %s, built for CUDA %s)" % (torch.__version__, torch.version.cuda))
        meta["device"] = torch.cuda.get_device_name(torch.device(device))
    else:
        meta["device"] = "cpu"
        meta["threads"] = torch.get_num_threads()
    return meta


def build(torch, c, dev):
    kwargs = dict(num_layers=c["L"], bidirectional=c["D"] == 2)
    if c["mode"] == "LSTM":
        model = torch.nn.LSTM(c["I"], c["H"], proj_size=c["P"], **kwargs)
    elif c["mode"] == "GRU":
        model = torch.nn.GRU(c["I"], c["H"], **kwargs)
    else:
        model = torch.nn.RNN(c["I"], c["H"], nonlinearity="relu" if c["mode"] == "RNN_RELU" else "tanh", **kwargs)
    return model.to(dev)


def time_case(torch, c, spec, dev):
    on_cuda = dev.type == "cuda"
    tf32 = c["precision"] == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    model = build(torch, c, dev)
    out_features = c["D"] * (c["P"] if c["P"] > 0 else c["H"])
    x = torch.randn(c["T"], c["B"], c["I"], device=dev)
    g = torch.randn(c["T"], c["B"], out_features, device=dev)
    opt = torch.optim.SGD(model.parameters(), lr=spec["lr"])
    sync = torch.cuda.synchronize if on_cuda else (lambda: None)
    state = {}

    if c["pass"] == "forward":
        model.eval()

        def run():
            with torch.no_grad():
                model(x)
        prepare = finish = None
    elif c["pass"] == "backward":
        model.train()

        def prepare():
            state["y"] = model(x)[0]
            sync()

        def run():
            state["y"].backward(g)

        def finish():
            state.pop("y", None)
            model.zero_grad(set_to_none=True)
    else:
        model.train()

        def run():
            y = model(x)[0]
            y.backward(g)
            opt.step()
            opt.zero_grad(set_to_none=True)
        prepare = finish = None

    times, events = [], []
    start = torch.cuda.Event(enable_timing=True) if on_cuda else None
    end = torch.cuda.Event(enable_timing=True) if on_cuda else None
    try:
        for i in range(spec["warmup"] + spec["repeats"]):
            if prepare:
                prepare()
            if on_cuda:
                start.record()
            t0 = time.perf_counter()
            run()
            if on_cuda:
                end.record()
            sync()
            ms = (time.perf_counter() - t0) * 1e3
            if finish:
                finish()
            if i >= spec["warmup"]:
                times.append(ms)
                if on_cuda:
                    events.append(start.elapsed_time(end))
        return {"ms": statistics.median(times), "timesMs": times, "eventMs": statistics.median(events) if events else None}
    finally:
        del model, x, g, opt
        state.clear()
        if on_cuda:
            torch.cuda.empty_cache()


def main():
    args = parse_args()
    try:
        import torch
    except Exception as e:  # noqa: BLE001
        print("cannot import torch: %s" % e, file=sys.stderr)
        return 3
    if args.probe:
        try:
            print(json.dumps(meta_of(torch, args.probe)))
        except Exception as e:  # noqa: BLE001
            print(str(e), file=sys.stderr)
            return 4
        return 0

    with open(args.cases) as f:
        spec = json.load(f)
    device = spec["device"]
    if device == "cpu":
        torch.set_num_threads(int(spec["threads"]))
    meta = meta_of(torch, device)
    meta["timing"] = ("perf_counter around each run" + (" + torch.cuda.synchronize(); CUDA events as eventMs" if device != "cpu" else "")
                      + "; median of repeats")
    dev = torch.device(device)
    torch.manual_seed(int(spec.get("seed", 0)))
    results = []

    def save():
        with open(args.out, "w") as f:
            json.dump({"meta": meta, "results": results}, f)

    save()
    for c in spec["cases"]:
        try:
            r = time_case(torch, c, spec, dev)
        except Exception as e:  # noqa: BLE001
            r = {"error": (str(e).splitlines() or [repr(e)])[0]}
        r["id"] = c["id"]
        results.append(r)
        print("torch %s: %s" % (c["id"], ("%.3f ms" % r["ms"]) if "ms" in r else "FAILED: " + r["error"]), file=sys.stderr, flush=True)
        save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
