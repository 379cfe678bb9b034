#!/usr/bin/env python3
"""Loads the character-level LSTM trained in Node (examples/train-charlm.ts) into the same PyTorch model.

    pip install torch safetensors
    node dist/examples/train-charlm.js --out charlm.safetensors
    python3 examples/load_in_pytorch.py charlm.safetensors [--prompt 'MARCIUS:\\n'] [--length 200]

The file holds the weights under PyTorch's parameter names (embed.weight, rnn.weight_ih_l0, ..., head.bias)
and, as metadata, the vocabulary (a JSON array of characters; index = id) and the hyperparameters. This
script rebuilds the model, loads the weights with a strict load_state_dict, recomputes the held-out loss
(when examples/data/corpus.txt is next to it) to compare with the one Node reported, checks the greedy
continuation Node saved, and prints a greedy and a sampled continuation.
"""
import argparse
import json
import os
import sys

try:
    import torch
    import torch.nn.functional as F
    from safetensors import safe_open
    from safetensors.torch import load_file
    from torch import nn
except ImportError as missing:  # the model below needs both: say how to get them instead of a bare traceback
    sys.exit(f"load_in_pytorch.py needs PyTorch and safetensors ({missing}); install them with:\n"
             "    pip install torch safetensors")


class CharLM(nn.Module):
    """Embedding -> LSTM (batch_first) -> Linear, with the attribute names used in Node."""

    def __init__(self, vocab_size, embed_dim, hidden_size, num_layers):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.rnn = nn.LSTM(embed_dim, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens, state=None):
        out, state = self.rnn(self.embed(tokens), state)
        return self.head(out), state


def held_out_loss(model, ids, start, seq_len):
    """Mean cross-entropy over ids[start:] cut into windows of seq_len, each from a zero state (as in Node)."""
    val = ids[start:]
    windows = (len(val) - 1) // seq_len
    x = torch.tensor([val[i * seq_len:(i + 1) * seq_len] for i in range(windows)], dtype=torch.long)
    y = torch.tensor([val[i * seq_len + 1:(i + 1) * seq_len + 1] for i in range(windows)], dtype=torch.long)
    logits, _ = model(x)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).item()


def generate(model, stoi, itos, prompt, length, temperature, generator=None):
    """Reads the prompt, then picks one character at a time (argmax when temperature is 0)."""
    x = torch.tensor([[stoi[c] for c in prompt]], dtype=torch.long)
    logits, state = model(x)
    last = logits[0, -1]
    out = []
    for _ in range(length):
        if temperature <= 0:
            nxt = int(torch.argmax(last))
        else:
            probs = torch.softmax(last / temperature, dim=-1)
            nxt = int(torch.multinomial(probs, 1, generator=generator))
        out.append(itos[nxt])
        logits, state = model(torch.tensor([[nxt]], dtype=torch.long), state)
        last = logits[0, -1]
    return "".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", help="the .safetensors file written by train-charlm")
    parser.add_argument("--prompt", default="MARCIUS:\n")
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    prompt = args.prompt.replace("\\n", "\n")

    with safe_open(args.file, framework="pt") as f:
        meta = f.metadata() or {}
    itos = json.loads(meta["vocab"])
    hp = json.loads(meta["hyperparameters"])
    stoi = {c: i for i, c in enumerate(itos)}
    missing = sorted(set(prompt) - set(stoi))
    if missing:
        parser.error(f"the prompt has characters the model has never seen: {missing}")

    model = CharLM(len(itos), hp["embedDim"], hp["hiddenSize"], hp["numLayers"])
    state = load_file(args.file)
    model.load_state_dict(state)  # strict: every name and shape must match
    model.eval()
    print(f"loaded {len(state)} tensors into {model}")

    with torch.no_grad():
        corpus = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "corpus.txt")
        if os.path.exists(corpus):
            with open(corpus, encoding="utf-8") as fh:
                ids = [stoi[c] for c in fh.read()]
            loss = held_out_loss(model, ids, hp["valStart"], hp["seqLen"])
            print(f"held-out loss in PyTorch: {loss:.4f} nats/char (Node: {float(meta['val_loss']):.4f})")

        if "check_greedy" in meta:
            ours = generate(model, stoi, itos, meta["check_prompt"], len(meta["check_greedy"]), 0)
            same = ours == meta["check_greedy"]
            where = next((i for i, (a, b) in enumerate(zip(ours, meta["check_greedy"])) if a != b), None)
            print("greedy continuation: same as Node's" if same else
                  f"greedy continuation: differs from Node's at character {where} (a near-tie flipped by float rounding)")

        print(f"\ngreedy continuation of {prompt!r}:\n----\n{prompt}{generate(model, stoi, itos, prompt, args.length, 0)}\n----")
        g = torch.Generator().manual_seed(args.seed)
        sampled = generate(model, stoi, itos, prompt, args.length, args.temperature, g)
        print(f"\nsampled (temperature {args.temperature}, seed {args.seed}):\n----\n{prompt}{sampled}\n----")


if __name__ == "__main__":
    main()
