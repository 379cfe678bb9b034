#include "forward_args.h"

#include <string>
#include <utility>
#include <vector>

#include "../cpu/bf16_prepack.h"
#include "../cpu/f32_prepack.h"
#include "../cpu/int8_forward.h"
#include "device_buffer.h"

namespace rnn::binding {

namespace {

// Reads one call object (lib/binding.ts's NativeForwardCall / NativeBackwardCall) by field name. It refuses only
// what it cannot read at all (a field that is not the array, number or boolean it names); lib/ has already
// reported every bad argument with PyTorch's message, so these texts are for direct callers of the addon.
class CallReader {
 public:
  CallReader(const Napi::CallbackInfo& info, bool backward, bool keepAlive, ForwardJob& job)
      : env_(info.Env()), what_(backward ? "native backward: " : "native forward: "), keepAlive_(keepAlive), job_(job) {
    if (info.Length() != 1 || !info[0].IsObject() || info[0].IsArray()) fail("expected one call object");
    call_ = info[0].As<Napi::Object>();
  }

  [[noreturn]] void fail(const std::string& message) const { throw Napi::TypeError::New(env_, what_ + message); }

  Napi::Object object(const char* key) const {
    Napi::Value v = call_.Get(key);
    if (!v.IsObject() || v.IsArray()) fail(std::string(key) + " must be an object");
    return v.As<Napi::Object>();
  }

  Napi::Array array(const char* key) const {
    Napi::Value v = call_.Get(key);
    if (!v.IsArray()) fail(std::string(key) + " must be an array");
    return v.As<Napi::Array>();
  }

  double number(Napi::Object spec, const char* key) const {
    Napi::Value v = spec.Get(key);
    if (!v.IsNumber()) fail(std::string("spec.") + key + " must be a number");
    return v.As<Napi::Number>().DoubleValue();
  }

  // converting a double outside int's range to int is undefined behaviour
  int integer(Napi::Object spec, const char* key) const {
    const double v = number(spec, key);
    if (!(v >= -2147483648.0 && v <= 2147483647.0) || v != double(int(v))) fail(std::string("spec.") + key + " must be a 32-bit integer");
    return int(v);
  }

  bool boolean(Napi::Object spec, const char* key) const {
    Napi::Value v = spec.Get(key);
    if (!v.IsBoolean()) fail(std::string("spec.") + key + " must be a boolean");
    return v.As<Napi::Boolean>().Value();
  }

  std::string string(Napi::Object spec, const char* key) const {
    Napi::Value v = spec.Get(key);
    return v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  }

  Napi::Value field(const char* key) const { return call_.Get(key); }

  // A tensor's memory as a span into the caller's array, kept referenced for an async job. Host memory is a
  // Float32Array, a Uint16Array of the bits of `host16` (the call's half type; F32: none is taken), or with
  // `bytes` (an int8 call's weights) a Uint8Array of a packed int8 matrix (`size` then counts bytes). Which
  // element type each span must have is checkMemory's.
  FloatSpan span(Napi::Value v, const std::string& name, bool nullable, ElemType host16, bool bytes = false) {
    if (nullable && v.IsNull()) return {};
    if (DeviceBuffer* buffer = DeviceBuffer::From(v)) {
      if (buffer->freed()) throw Napi::Error::New(env_, what_ + name + " is a disposed CUDA tensor");
      keep(v.As<Napi::Object>());
      if (keepAlive_) {
        buffer->acquire();
        job_.inUse.push_back(buffer);
      }
      return {static_cast<float*>(buffer->raw()), buffer->length(), buffer->device(), buffer->type()};
    }
    const napi_typedarray_type type = v.IsTypedArray() ? v.As<Napi::TypedArray>().TypedArrayType() : napi_int8_array;
    if (v.IsTypedArray() && type == napi_float32_array) {
      auto array = v.As<Napi::Float32Array>();
      keep(array);
      return {array.Data(), array.ElementLength()};
    }
    if (v.IsTypedArray() && type == napi_uint16_array && isHalf(host16)) {
      auto array = v.As<Napi::Uint16Array>();
      keep(array);
      return {reinterpret_cast<float*>(array.Data()), array.ElementLength(), -1, host16};
    }
    if (v.IsTypedArray() && type == napi_uint8_array && bytes) {
      auto array = v.As<Napi::Uint8Array>();
      keep(array);
      return {reinterpret_cast<float*>(array.Data()), array.ElementLength(), -1, ElemType::I8};
    }
    fail(name + " must be a Float32Array" + (isHalf(host16) ? ", a Uint16Array" : "") + (bytes ? ", a Uint8Array" : "") +
         (nullable ? ", a CUDA buffer or null" : " or a CUDA buffer"));
  }

  FloatSpan span(const char* key, bool nullable, ElemType host16) { return span(field(key), key, nullable, host16); }

 private:
  void keep(Napi::Object array) {
    if (keepAlive_) job_.keepAlive.push_back(Napi::Persistent(array));
  }

  Napi::Env env_;
  std::string what_;
  bool keepAlive_;
  ForwardJob& job_;
  Napi::Object call_;
};

RnnSpec readSpec(const CallReader& r, bool backward) {
  Napi::Object s = r.object("spec");
  RnnSpec spec;
  const int kind = r.integer(s, "kind");
  if (kind < 0 || kind > 3) r.fail("spec.kind must be 0..3");  // indexes the cells' gate tables
  spec.kind = CellKind(kind);
  spec.inputSize = r.integer(s, "inputSize");
  spec.hiddenSize = r.integer(s, "hiddenSize");
  spec.projSize = r.integer(s, "projSize");
  spec.numLayers = r.integer(s, "numLayers");
  spec.bidirectional = r.boolean(s, "bidirectional");
  spec.bias = r.boolean(s, "bias");
  spec.batchFirst = r.boolean(s, "batchFirst");
  spec.seqLen = r.integer(s, "seqLen");
  spec.batch = r.integer(s, "batch");
  spec.dropout = float(r.number(s, "dropout"));
  spec.training = r.boolean(s, "training");
  spec.seed = uint64_t(r.number(s, "seed"));
  // the element type the buffers are read as; a backward reads float32 only
  const std::string dtype = r.string(s, "dtype");
  if (dtype == "int8" && !backward) spec.dtype = ElemType::I8;
  else if (!parseElemType(dtype, &spec.dtype) || (backward && spec.dtype != ElemType::F32)) {
    r.fail(backward ? "spec.dtype must be 'float32'" : "spec.dtype must be 'float32', 'float16', 'bfloat16' or 'int8'");
  }
  Napi::Value sizes = r.field("batchSizes");
  if (!sizes.IsNull()) {
    if (!sizes.IsTypedArray() || sizes.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) r.fail("batchSizes must be an Int32Array or null");
    auto array = sizes.As<Napi::Int32Array>();
    spec.batchSizes.assign(array.Data(), array.Data() + array.ElementLength());
  }
  return spec;
}

// "" when the call brings no packed weights, or one packed form per layer-direction of a float32 or bfloat16
// LSTM / GRU forward on the CPU, each made for that layer-direction's sizes and the call's dtype (the checks read
// only its header).
std::string prepackedError(const ForwardJob& job, bool backward) {
  const RnnSpec& spec = job.spec;
  const std::vector<FloatSpan>& packed = job.io.prepacked;
  if (packed.empty()) return "";
  const bool bf16 = spec.dtype == ElemType::BF16;
  if (backward || job.device >= 0 || (spec.dtype != ElemType::F32 && !bf16)) {
    return "native check: packed weights are for float32 and bfloat16 forwards on the CPU";
  }
  if (spec.kind != CellKind::Lstm && spec.kind != CellKind::Gru) return "native check: packed weights are for LSTM and GRU";
  if (packed.size() != size_t(spec.numLayers) * spec.directions()) return "native check: wrong number of packed weights";
  for (size_t ld = 0; ld < packed.size(); ++ld) {
    const int layer = int(ld) / spec.directions(), I = spec.layerInputSize(layer), P = spec.outSize(), H = spec.hiddenSize;
    const uint8_t* data = reinterpret_cast<const uint8_t*>(packed[ld].data);
    const std::string error = bf16 ? cpu::bf16PrepackedError(spec.kind, I, P, H, spec.projSize > 0, data, packed[ld].size)
                                   : cpu::prepackedError(spec.kind, I, P, H, data, packed[ld].size);
    if (!error.empty()) return "native check: prepacked[" + std::to_string(ld) + "]: " + error;
  }
  return "";
}

// The backstop for memory safety, all in one place: lib/ reports every bad call first, with PyTorch's messages.
// These checks keep native code inside the memory it was given when the addon is called directly: every buffer
// on the call's device (a host pointer used as a device pointer, or another device's, reads out of bounds), of
// the element type its kernel reads (a wrong element size reads past the end), and of the length the spec
// implies (validate / validateGrad; an int8 call's packed matrices: int8WeightsError).
void checkMemory(Napi::Env env, const std::string& what, const ForwardJob& job, bool backward) {
  const RnnSpec& spec = job.spec;
  const RnnIo& io = job.io;
  const RnnGradIo& g = job.grads;
  const int device = job.device;
  if (spec.dtype == ElemType::I8 && device >= 0) throw Napi::TypeError::New(env, what + "int8 runs only on the CPU");
  if (spec.dtype == ElemType::F16 && device < 0) throw Napi::TypeError::New(env, what + "float16 runs only on CUDA (bfloat16 runs on the CPU too)");
  // The element type each buffer must hold: the call's; float32 for the saved workspace, a backward's buffers and
  // an int8 call's tensors other than its packed weight matrices (W_ih, W_hh, W_hr of each layer-direction). The
  // CPU's bfloat16 forward also reads a float32 input, h0 and c0, and writes float32 results (all three alike).
  struct Expected {
    std::string name;
    const FloatSpan& span;
    ElemType type;
  };
  const ElemType call = spec.dtype == ElemType::I8 || backward ? ElemType::F32 : spec.dtype;
  const bool cpuBf16 = device < 0 && call == ElemType::BF16;
  auto in = [&](const FloatSpan& s) { return cpuBf16 && s.type == ElemType::F32 ? ElemType::F32 : call; };
  const ElemType out = cpuBf16 && io.output.type == ElemType::F32 ? ElemType::F32 : call;
  std::vector<Expected> spans{{"input", io.input, in(io.input)}, {"h0", io.h0, in(io.h0)}, {"c0", io.c0, in(io.c0)},
                              {"output", io.output, out}, {"hN", io.hN, out}, {"cN", io.cN, out},
                              {"saved", io.saved, ElemType::F32}};
  const size_t per = weightsPerLayerDirection(spec);
  for (size_t i = 0; i < io.weights.size(); ++i) {
    const size_t at = i % per;
    const bool packed = spec.dtype == ElemType::I8 && (at < 2 || (spec.projSize > 0 && at == per - 1));
    spans.push_back({"weights[" + std::to_string(i) + "]", io.weights[i], packed ? ElemType::I8 : call});
  }
  for (const auto& [name, s] : {std::pair<const char*, const FloatSpan*>{"gradOutput", &g.gradOutput}, {"gradHN", &g.gradHN}, {"gradCN", &g.gradCN},
                                {"gradInput", &g.gradInput}, {"gradH0", &g.gradH0}, {"gradC0", &g.gradC0}}) {
    spans.push_back({name, *s, ElemType::F32});
  }
  for (size_t i = 0; i < g.gradWeights.size(); ++i) spans.push_back({"gradWeights[" + std::to_string(i) + "]", g.gradWeights[i], ElemType::F32});
  for (const Expected& e : spans) {
    if (!e.span.data) continue;
    if (e.span.device != device) throw Napi::RangeError::New(env, what + "all tensors must be on one device");
    if (e.span.type != e.type) {
      throw Napi::TypeError::New(env, what + e.name + " holds " + elemName(e.span.type) + ", expected " + elemName(e.type) + " in this call");
    }
  }
  std::string error = backward ? validateGrad(spec, io, g) : validate(spec, io);
  if (error.empty() && spec.dtype == ElemType::I8) error = cpu::int8WeightsError(spec, io);
  if (error.empty()) error = prepackedError(job, backward);
  if (!error.empty()) throw Napi::RangeError::New(env, error);
}

ForwardJob unpackCall(const Napi::CallbackInfo& info, bool keepAlive, bool backward) {
  ForwardJob job;
  CallReader r(info, backward, keepAlive, job);
  job.spec = readSpec(r, backward);
  // a Uint16Array on the host holds the call's half type; an int8 call's weights may be packed bytes
  const ElemType host16 = job.spec.dtype;
  Napi::Array weights = r.array("weights");
  for (uint32_t i = 0; i < weights.Length(); ++i) {
    job.io.weights.push_back(r.span(weights.Get(i), "weights[" + std::to_string(i) + "]", false, host16, host16 == ElemType::I8));
  }
  RnnIo& io = job.io;
  io.input = r.span("input", false, host16);
  io.h0 = r.span("h0", true, host16);
  io.c0 = r.span("c0", true, host16);
  io.output = r.span("output", false, host16);
  io.hN = r.span("hN", false, host16);
  io.cN = r.span("cN", true, host16);
  io.saved = r.span("saved", !backward, ElemType::F32);
  // optional: a module made by optimizeForInference brings its weights packed, one Uint8Array per layer-direction
  Napi::Value prepacked = r.field("prepacked");
  if (!prepacked.IsUndefined() && !prepacked.IsNull()) {
    if (!prepacked.IsArray()) r.fail("prepacked must be an array of Uint8Arrays or null");
    Napi::Array list = prepacked.As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); ++i) {
      Napi::Value v = list.Get(i);
      if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
        r.fail("prepacked[" + std::to_string(i) + "] must be a Uint8Array");
      }
      io.prepacked.push_back(r.span(v, "prepacked[" + std::to_string(i) + "]", false, ElemType::I8, true));
    }
  }
  if (backward) {
    RnnGradIo& g = job.grads;
    g.gradOutput = r.span("gradOutput", true, ElemType::F32);
    g.gradHN = r.span("gradHN", true, ElemType::F32);
    g.gradCN = r.span("gradCN", true, ElemType::F32);
    g.gradInput = r.span("gradInput", true, ElemType::F32);
    g.gradH0 = r.span("gradH0", true, ElemType::F32);
    g.gradC0 = r.span("gradC0", true, ElemType::F32);
    Napi::Array gw = r.array("gradWeights");
    for (uint32_t i = 0; i < gw.Length(); ++i) {
      g.gradWeights.push_back(r.span(gw.Get(i), "gradWeights[" + std::to_string(i) + "]", false, ElemType::F32));
    }
  }
  job.device = io.input.device;  // the call's device: every buffer's (checkMemory)
  checkMemory(info.Env(), backward ? "native backward: " : "native forward: ", job, backward);
  return job;
}

}  // namespace

ForwardJob unpackForward(const Napi::CallbackInfo& info, bool keepAlive) { return unpackCall(info, keepAlive, false); }

ForwardJob unpackBackward(const Napi::CallbackInfo& info, bool keepAlive) { return unpackCall(info, keepAlive, true); }

ForwardJob::~ForwardJob() {
  for (DeviceBuffer* buffer : inUse) buffer->release();
}

}  // namespace rnn::binding
