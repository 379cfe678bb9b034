// Grad mode, like torch.no_grad / torch.is_grad_enabled: graphs are recorded only while it is on.
let enabled = true;

export function isGradEnabled(): boolean {
  return enabled;
}

/** Runs `fn` with graph recording off (synchronous code; `forwardAsync` never records a graph anyway). */
export function noGrad<T>(fn: () => T): T {
  const previous = enabled;
  enabled = false;
  try {
    return fn();
  } finally {
    enabled = previous;
  }
}

export function setGradEnabled(mode: boolean): void {
  enabled = mode;
}
