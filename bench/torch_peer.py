#!/usr/bin/env python3
"""PyTorch (cuDNN) forward timings on the shapes of bench/gpu-shapes.json: the peer of bench/gpu-bench.ts.

    python3 bench/torch_peer.py [--json FILE] [--quick] [--no-tf32] [--shapes FILE] [--target-ms N] [--warmup N] [--min-repeats N]

Every shape runs in float32 with TF32 off (torch.backends.cuda.matmul.allow_tf32 and
torch.backends.cudnn.allow_tf32 False); the shapes whose mode is in the file's tf32Modes run again with both
True. Per shape: torch.nn.LSTM / GRU / RNN(tanh) on the GPU in eval mode under torch.no_grad() (cuDNN's
inference forward), `warmup` untimed forwards, one probe forward, then R = ceil(target / probe) forwards (at
least min-repeats) between two CUDA events; the mean per forward is reported. The JSON records carry the same
keys as gpu-bench's (mode, T, B, I, H, L, D, tf32, ms) so that scripts/gpu-check.sh can join them.
"""
import argparse
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE (rewritten after every shape)")
    ap.add_argument("--quick", action="store_true", help="only the shapes marked quick in the shape file")
    ap.add_argument("--no-tf32", dest="tf32", action="store_false", help="skip the TF32 pass")
    ap.add_argument("--shapes", default=os.path.join(HERE, "gpu-shapes.json"), help="shape list (default: %(default)s)")
    ap.add_argument("--target-ms", type=float, default=300.0, help="timed time per shape (default: %(default)s)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed forwards per shape (default: %(default)s)")
    ap.add_argument("--min-repeats", type=int, default=5, help="(default: %(default)s)")
    return ap.parse_args()


def load_shapes(path, quick):
    with open(path) as f:
        raw = json.load(f)
    shapes = [s for s in raw["shapes"] if not quick or s.get("quick") is True]
    for s in shapes:
        if s["mode"] not in ("LSTM", "GRU", "RNN"):
            raise ValueError("unknown mode %r in %s" % (s["mode"], path))
        if s["D"] not in (1, 2):
            raise ValueError("D must be 1 or 2 in %r" % (s,))
    return raw.get("tf32Modes", ["LSTM"]), shapes


def shape_label(s):
    return "%-4s T%d B%d I%d H%d%s%s" % (s["mode"], s["T"], s["B"], s["I"], s["H"],
                                         " L%d" % s["L"] if s["L"] > 1 else "", " bi" if s["D"] == 2 else "")


def set_tf32(torch, on):
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


def time_shape(torch, s, args):
    dev = torch.device("cuda")
    cls = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "RNN": torch.nn.RNN}[s["mode"]]
    kwargs = dict(num_layers=s["L"], bidirectional=s["D"] == 2)
    if s["mode"] == "RNN":
        kwargs["nonlinearity"] = "tanh"
    model = cls(s["I"], s["H"], **kwargs).to(dev).eval()
    x = torch.randn(s["T"], s["B"], s["I"], device=dev)
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    try:
        with torch.no_grad():
            for _ in range(max(args.warmup, 1)):
                model(x)
            torch.cuda.synchronize()
            start.record()
            model(x)
            end.record()
            end.synchronize()
            probe = max(start.elapsed_time(end), 1e-3)
            repeats = min(10000, max(args.min_repeats, int(math.ceil(args.target_ms / probe))))
            start.record()
            for _ in range(repeats):
                model(x)
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / repeats, repeats
    finally:
        del model, x
        torch.cuda.empty_cache()


def main():
    args = parse_args()
    try:
        tf32_modes, shapes = load_shapes(args.shapes, args.quick)
    except Exception as e:  # noqa: BLE001
        print("torch_peer: cannot read the shape list %s: %s" % (args.shapes, e), file=sys.stderr)
        return 1
    try:
        import torch
    except Exception as e:  # noqa: BLE001
        print("torch_peer: cannot import torch: %s" % e, file=sys.stderr)
        return 1
    if not torch.cuda.is_available():
        print("torch_peer: torch.cuda.is_available() is False (torch %s, built for CUDA %s): no usable GPU or driver"
              % (torch.__version__, torch.version.cuda), file=sys.stderr)
        return 1
    torch.backends.cudnn.enabled = True
    if not torch.backends.cudnn.is_available():
        print("torch_peer: cuDNN is not available; the timings would not be cuDNN's", file=sys.stderr)
        return 1
    torch.manual_seed(0)

    name = torch.cuda.get_device_name(0)
    meta = {
        "tool": "torch",
        "device": name,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "targetMs": args.target_ms,
        "warmup": args.warmup,
        "minRepeats": args.min_repeats,
        "quick": args.quick,
        "timing": "CUDA events around R forwards (eval, no_grad, cuDNN)",
    }
    records = []

    def save():
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"meta": meta, "records": records}, f, indent=1)
                f.write("\n")

    save()
    print("torch %s cuDNN %s forward on %s; mean ms per forward, ~%g ms timed per shape"
          % (torch.__version__, torch.backends.cudnn.version(), name, args.target_ms))
    print("%-32s %-5s %10s %9s %7s" % ("shape", "tf32", "ms", "us/step", "repeats"))

    passes = [(False, shapes)]
    if args.tf32:
        passes.append((True, [s for s in shapes if s["mode"] in tf32_modes]))
    errors = 0
    for tf32, pass_shapes in passes:
        set_tf32(torch, tf32)
        for s in pass_shapes:
            rec = {"kind": "cudnn-forward", "dtype": "float32", "tf32": tf32,
                   "mode": s["mode"], "T": s["T"], "B": s["B"], "I": s["I"], "H": s["H"], "L": s["L"], "D": s["D"]}
            try:
                ms, repeats = time_shape(torch, s, args)
                rec.update(ms=ms, per_step_us=ms * 1000.0 / (s["T"] * s["L"] * s["D"]), repeats=repeats)
                print("%-32s %-5s %10.3f %9.2f %7d" % (shape_label(s), "on" if tf32 else "off", ms, rec["per_step_us"], repeats))
            except Exception as e:  # noqa: BLE001
                errors += 1
                rec.update(ms=None, per_step_us=None, repeats=0, error=str(e))
                print("%-32s %-5s FAILED: %s" % (shape_label(s), "on" if tf32 else "off", str(e).splitlines()[0] if str(e) else repr(e)))
            records.append(rec)
            save()
    set_tf32(torch, False)
    if args.json:
        print("wrote %d records to %s" % (len(records), args.json))
    if errors:
        print("torch_peer: %d shape(s) failed" % errors, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
