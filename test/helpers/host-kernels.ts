// The device-kernel contract (lib/autograd/device-kernels.ts) implemented in plain TypeScript over Float32Arrays,
// written from the contract rather than from lib/autograd/ops/, so the device path of every op can run and be
// compared with the CPU ops on machines without a GPU. It also checks what the native binding checks (extents,
// indices), so a device path that would pass it bad sizes fails here too.
import { strict as assert } from 'node:assert';
import type { Buf, TensorKernels } from '../../lib/autograd/device-kernels';

function host(b: Buf): Float32Array {
  assert.ok(b instanceof Float32Array, 'host kernels take Float32Arrays');
  return b;
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Calls `f(k, offsets...)` for every index of `shape` in row-major order, with each stride set's offset. */
function forEachIndex(shape: readonly number[], strides: readonly (readonly number[])[], f: (k: number, offsets: number[]) => void): void {
  assert.equal(strides.every((s) => s.length === shape.length), true, 'strides match the shape');
  assert.ok(shape.length <= 8, 'at most 8 dims');
  const n = numel(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    f(k, strides.map((s) => s.reduce((acc, st, d) => acc + st * idx[d], 0)));
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

function checkExtent(length: number, offset: number, shape: readonly number[], strides: readonly number[]): void {
  if (numel(shape) === 0) return;
  const last = offset + shape.reduce((acc, s, d) => acc + (s - 1) * strides[d], 0);
  assert.ok(strides.every((s) => s >= 0) && last < length, `view reaches ${last} of a buffer of ${length}`);
}

// -log σ(x), written independently of lib/nn/functional/
const softplusNeg = (v: number) => (v >= 0 ? Math.log1p(Math.exp(-v)) : -v + Math.log1p(Math.exp(v)));

const unaryF = [(x: number) => -x, Math.tanh, (x: number) => 1 / (1 + Math.exp(-x)), (x: number) => (x > 0 ? x : x === x ? 0 : x), Math.exp, Math.log];

export const hostKernels: TensorKernels & { allocated: number } = {
  device: 'cpu',
  allocated: 0,
  alloc(n) {
    this.allocated++;
    return new Float32Array(n).fill(NaN); // "uninitialised": a kernel that skips an element shows it
  },
  upload: (values) => Float32Array.from(values),
  fill: (b, v) => void host(b).fill(v),
  free: (b) => void host(b),
  stridedCopy(dst, dOff, dStr, src, sOff, sStr, shape) {
    const d = host(dst);
    const s = host(src);
    checkExtent(d.length, dOff, shape, dStr);
    checkExtent(s.length, sOff, shape, sStr);
    forEachIndex(shape, [dStr, sStr], (_k, [i, j]) => (d[dOff + i] = s[sOff + j]));
  },
  unary(op, out, x) {
    const o = host(out);
    const xs = host(x);
    assert.equal(o.length, xs.length);
    for (let i = 0; i < o.length; i++) o[i] = unaryF[op](xs[i]);
  },
  unaryBackward(op, gx, g, x, y) {
    const o = host(gx);
    const gs = host(g);
    const xs = x && host(x);
    const ys = y && host(y);
    for (let i = 0; i < o.length; i++) {
      const gi = gs[i];
      switch (op) {
        case 0: o[i] = -gi; break;
        case 1: o[i] = gi * (1 - ys![i] * ys![i]); break;
        case 2: o[i] = gi * ys![i] * (1 - ys![i]); break;
        case 3: o[i] = ys![i] > 0 ? gi : 0; break;
        case 4: o[i] = gi * ys![i]; break;
        default: o[i] = gi / xs![i];
      }
    }
  },
  binary(op, out, a, aStr, b, bStr, shape, alpha) {
    const o = host(out);
    const as = host(a);
    const bs = host(b);
    assert.equal(o.length, numel(shape));
    checkExtent(as.length, 0, shape, aStr);
    checkExtent(bs.length, 0, shape, bStr);
    forEachIndex(shape, [aStr, bStr], (k, [i, j]) => {
      const x = as[i];
      const y = bs[j];
      o[k] = op === 0 ? x + alpha * y : op === 1 ? x * y * alpha : (x / y) * alpha;
    });
  },
  sumMiddle(out, x, outer, n, inner, scale) {
    const o = host(out);
    const xs = host(x);
    assert.equal(o.length, outer * inner);
    assert.equal(xs.length, outer * n * inner);
    for (let p = 0; p < outer; p++) {
      for (let i = 0; i < inner; i++) {
        let acc = 0;
        for (let s = 0; s < n; s++) acc += xs[(p * n + s) * inner + i];
        o[p * inner + i] = acc * scale;
      }
    }
  },
  softmax(out, x, outer, n, inner, log) {
    const o = host(out);
    const xs = host(x);
    assert.equal(o.length, outer * n * inner);
    assert.equal(xs.length, o.length);
    for (let p = 0; p < outer; p++) {
      for (let i = 0; i < inner; i++) {
        const at = (s: number) => (p * n + s) * inner + i;
        let max = -Infinity;
        for (let s = 0; s < n; s++) max = Math.max(max, xs[at(s)]);
        if (max === -Infinity) max = 0;
        let total = 0;
        for (let s = 0; s < n; s++) total += Math.exp(xs[at(s)] - max);
        for (let s = 0; s < n; s++) o[at(s)] = log ? xs[at(s)] - (max + Math.log(total)) : Math.exp(xs[at(s)] - max) / total;
      }
    }
  },
  softmaxBackward(gx, g, y, outer, n, inner, log) {
    const o = host(gx);
    const gs = host(g);
    const ys = host(y);
    assert.equal(o.length, outer * n * inner);
    for (let p = 0; p < outer; p++) {
      for (let i = 0; i < inner; i++) {
        const at = (s: number) => (p * n + s) * inner + i;
        let dot = 0;
        for (let s = 0; s < n; s++) dot += log ? gs[at(s)] : gs[at(s)] * ys[at(s)];
        for (let s = 0; s < n; s++) o[at(s)] = log ? gs[at(s)] - Math.exp(ys[at(s)]) * dot : ys[at(s)] * (gs[at(s)] - dot);
      }
    }
  },
  indexSelect(out, x, outer, size, inner, index) {
    const o = host(out);
    const xs = host(x);
    assert.equal(xs.length, outer * size * inner);
    assert.equal(o.length, outer * index.length * inner);
    index.forEach((v) => assert.ok(v >= 0n && v < BigInt(size), `index ${v} in [0, ${size})`));
    for (let p = 0; p < outer; p++) {
      for (let j = 0; j < index.length; j++) {
        for (let i = 0; i < inner; i++) o[(p * index.length + j) * inner + i] = xs[(p * size + Number(index[j])) * inner + i];
      }
    }
  },
  indexAdd(gx, g, outer, size, inner, index, skip) {
    const o = host(gx);
    const gs = host(g);
    assert.equal(o.length, outer * size * inner);
    assert.equal(gs.length, outer * index.length * inner);
    index.forEach((v) => assert.ok(v >= 0n && v < BigInt(size), `index ${v} in [0, ${size})`));
    for (let p = 0; p < outer; p++) {
      for (let j = 0; j < index.length; j++) {
        if (Number(index[j]) === skip) continue;
        for (let i = 0; i < inner; i++) o[(p * size + Number(index[j])) * inner + i] += gs[(p * index.length + j) * inner + i];
      }
    }
  },
  bceWithLogits(loss, x, t, pw, w) {
    const [l, xs, ts] = [host(loss), host(x), host(t)];
    const [ps, ws] = [pw && host(pw), w && host(w)];
    [xs, ts, ps, ws].forEach((b) => b && assert.equal(b.length, l.length));
    for (let e = 0; e < l.length; e++) {
      const p = ps ? ps[e] : 1;
      l[e] = (ws ? ws[e] : 1) * ((1 - ts[e]) * xs[e] + (1 + (p - 1) * ts[e]) * softplusNeg(xs[e]));
    }
  },
  bceWithLogitsBackward(coef, x, t, pw, w, gx, gt, gpw, gw) {
    const [c, xs, ts] = [host(coef), host(x), host(t)];
    const [ps, ws, ox, ot, op, ow] = [pw, w, gx, gt, gpw, gw].map((b) => b && host(b));
    [xs, ts, ps, ws, ox, ot, op, ow].forEach((b) => b && assert.equal(b.length, c.length));
    for (let e = 0; e < c.length; e++) {
      const [v, y, p, wt] = [xs[e], ts[e], ps ? ps[e] : 1, ws ? ws[e] : 1];
      const sp = softplusNeg(v);
      if (ox) ox[e] = c[e] * wt * (1 - y - (1 + (p - 1) * y) / (1 + Math.exp(v)));
      if (ot) ot[e] = c[e] * wt * (-v + (p - 1) * sp);
      if (op) op[e] = c[e] * wt * y * sp;
      if (ow) ow[e] = c[e] * ((1 - y) * v + (1 + (p - 1) * y) * sp);
    }
  },
  gemmBatched(ta, tb, M, N, K, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC, batch) {
    const as = host(A);
    const bs = host(B);
    const cs = host(C);
    const extent = (len: number, stride: number, rows: number, cols: number, ld: number) => {
      if (batch === 0 || rows === 0 || cols === 0) return;
      assert.ok(ld >= cols && (batch - 1) * stride + (rows - 1) * ld + cols <= len, 'gemm operand large enough');
    };
    extent(as.length, sA, ta ? K : M, ta ? M : K, lda);
    extent(bs.length, sB, tb ? N : K, tb ? K : N, ldb);
    extent(cs.length, sC, M, N, ldc);
    for (let p = 0; p < batch; p++) {
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          let acc = 0;
          for (let q = 0; q < K; q++) {
            const av = ta ? as[p * sA + q * lda + i] : as[p * sA + i * lda + q];
            const bv = tb ? bs[p * sB + j * ldb + q] : bs[p * sB + q * ldb + j];
            acc += av * bv;
          }
          const at = p * sC + i * ldc + j;
          cs[at] = alpha * acc + (beta === 0 ? 0 : beta * cs[at]);
        }
      }
    }
  },
};
