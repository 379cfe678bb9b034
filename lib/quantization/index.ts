// int8 dynamic quantization (torch.ao.quantization.quantize_dynamic) and its safetensors files.
export { quantizeDynamic } from './quantize-dynamic';
export type { QuantizeDynamicOptions, QuantizableClass } from './quantize-dynamic';
export { saveQuantized, serializeQuantized, loadQuantized } from './serialize';
