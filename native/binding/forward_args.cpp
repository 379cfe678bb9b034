#include "forward_args.h"

#include <string>

#include "../cpu/int8_forward.h"
#include "device_buffer.h"

namespace rnn::binding {

namespace {

[[noreturn]] void typeError(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, message);
}

double number(Napi::Object obj, const char* key) {
  Napi::Value v = obj.Get(key);
  if (!v.IsNumber()) typeError(obj.Env(), std::string("native forward: spec.") + key + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

int integer(Napi::Object obj, const char* key) {
  const double v = number(obj, key);
  if (v != double(int(v))) typeError(obj.Env(), std::string("native forward: spec.") + key + " must be a 32-bit integer");
  return int(v);
}

bool boolean(Napi::Object obj, const char* key) {
  Napi::Value v = obj.Get(key);
  if (!v.IsBoolean()) typeError(obj.Env(), std::string("native forward: spec.") + key + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

// Host memory is a Float32Array, or a Uint16Array of the bits of `hostHalf` (the call's half type; none: refused),
// or with hostHalf I8 (an int8 call's weights) a Uint8Array of packed int8 matrices (`size` counts bytes).
FloatSpan floats(Napi::Value v, const char* name, bool optional, ForwardJob& job, bool keepAlive, ElemType hostHalf = ElemType::F32) {
  if (optional && (v.IsNull() || v.IsUndefined())) return {};
  if (hostHalf == ElemType::I8 && v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    auto array = v.As<Napi::Uint8Array>();
    if (keepAlive) job.keepAlive.push_back(Napi::Persistent(array.As<Napi::Object>()));
    return {reinterpret_cast<float*>(array.Data()), array.ElementLength(), -1, ElemType::I8};
  }
  if (DeviceBuffer* buffer = DeviceBuffer::From(v)) {
    if (buffer->freed()) throw Napi::Error::New(v.Env(), std::string("native forward: ") + name + " is a disposed CUDA tensor");
    if (keepAlive) {
      job.keepAlive.push_back(Napi::Persistent(v.As<Napi::Object>()));
      buffer->acquire();
      job.inUse.push_back(buffer);
    }
    return {static_cast<float*>(buffer->raw()), buffer->length(), buffer->device(), buffer->type()};
  }
  if (isHalf(hostHalf) && v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint16_array) {
    auto array = v.As<Napi::Uint16Array>();
    if (keepAlive) job.keepAlive.push_back(Napi::Persistent(array.As<Napi::Object>()));
    return {reinterpret_cast<float*>(array.Data()), array.ElementLength(), -1, hostHalf};
  }
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    typeError(v.Env(), std::string("native forward: ") + name +
                           (isHalf(hostHalf) ? " must be a Float32Array or a Uint16Array"
                            : hostHalf == ElemType::I8 ? " must be a Float32Array or a Uint8Array" : " must be a Float32Array"));
  }
  auto array = v.As<Napi::Float32Array>();
  if (keepAlive) job.keepAlive.push_back(Napi::Persistent(array.As<Napi::Object>()));
  return {array.Data(), array.ElementLength()};
}

// An int8 call (a quantized module, inference only, on the CPU): weight matrices packed int8 (Uint8Array), biases
// and every other tensor float32; the packed matrices must fit the spec and this CPU (int8WeightsError).
ForwardJob checkInt8Call(Napi::Env env, ForwardJob job) {
  const RnnSpec& spec = job.spec;
  const RnnIo& io = job.io;
  if (job.device >= 0) throw Napi::TypeError::New(env, "native forward: int8 runs only on the CPU");
  if (io.saved.data) throw Napi::TypeError::New(env, "native forward: int8 runs without saving for backward");
  for (const FloatSpan* span : {&io.input, &io.h0, &io.c0, &io.output, &io.hN, &io.cN}) {
    if (span->data && span->type != ElemType::F32) throw Napi::TypeError::New(env, "native forward: an int8 call's tensors must be float32");
  }
  const size_t per = weightsPerLayerDirection(spec);
  for (size_t i = 0; i < io.weights.size(); ++i) {
    // per layer-direction: W_ih, W_hh, (b_ih, b_hh), (W_hr)
    const size_t at = i % per;
    const bool matrix = at < 2 || (spec.projSize > 0 && at == per - 1);
    if ((io.weights[i].type == ElemType::I8) != matrix) {
      throw Napi::TypeError::New(env, std::string("native forward: an int8 call's weight matrices must be Uint8Arrays (packed) and its biases Float32Arrays"));
    }
  }
  std::string error = validate(spec, io);
  if (error.empty()) error = cpu::int8WeightsError(spec, io);
  if (!error.empty()) throw Napi::RangeError::New(env, error);
  return job;
}

}  // namespace

namespace {

ForwardJob unpackCall(const Napi::CallbackInfo& info, bool keepAlive, bool backward) {
  Napi::Env env = info.Env();
  if (info.Length() < 9 || !info[0].IsObject() || !info[1].IsArray()) {
    typeError(env, "native forward: expected (spec, weights[], input, h0, c0, output, hN, cN, batchSizes)");
  }
  ForwardJob job;
  Napi::Object s = info[0].As<Napi::Object>();
  RnnSpec& spec = job.spec;
  const int kind = integer(s, "kind");
  if (kind < 0 || kind > 3) throw Napi::RangeError::New(env, "native forward: spec.kind must be 0..3");
  spec.kind = CellKind(kind);
  spec.inputSize = integer(s, "inputSize");
  spec.hiddenSize = integer(s, "hiddenSize");
  spec.projSize = integer(s, "projSize");
  spec.numLayers = integer(s, "numLayers");
  spec.bidirectional = boolean(s, "bidirectional");
  spec.bias = boolean(s, "bias");
  spec.batchFirst = boolean(s, "batchFirst");
  spec.seqLen = integer(s, "seqLen");
  spec.batch = integer(s, "batch");
  spec.dropout = float(number(s, "dropout"));
  spec.training = boolean(s, "training");
  spec.seed = uint64_t(number(s, "seed"));
  Napi::Value dtype = s.Get("dtype");
  if (!dtype.IsUndefined()) {
    const std::string name = dtype.IsString() ? dtype.As<Napi::String>().Utf8Value() : "";
    if (name == "int8" && !backward) spec.dtype = ElemType::I8;
    else if (!parseElemType(name, &spec.dtype)) typeError(env, "native forward: spec.dtype must be 'float32', 'float16', 'bfloat16' or 'int8'");
  }
  if (!(spec.dropout >= 0.f && spec.dropout <= 1.f)) throw Napi::RangeError::New(env, "native forward: dropout must be in [0, 1]");

  // a Uint16Array on the host holds the call's half type (only bfloat16 runs there; checked below); an int8 call
  // takes Uint8Arrays (packed matrices) among its weights only
  const bool int8 = spec.dtype == ElemType::I8;
  const ElemType half = backward || int8 ? ElemType::F32 : spec.dtype;
  Napi::Array weights = info[1].As<Napi::Array>();
  for (uint32_t i = 0; i < weights.Length(); ++i) {
    job.io.weights.push_back(floats(weights.Get(i), "weights[i]", false, job, keepAlive, int8 ? ElemType::I8 : half));
  }
  job.io.input = floats(info[2], "input", false, job, keepAlive, half);
  job.io.h0 = floats(info[3], "h0", true, job, keepAlive, half);
  job.io.c0 = floats(info[4], "c0", true, job, keepAlive, half);
  job.io.output = floats(info[5], "output", false, job, keepAlive, half);
  job.io.hN = floats(info[6], "hN", false, job, keepAlive, half);
  job.io.cN = floats(info[7], "cN", true, job, keepAlive, half);
  if (!info[8].IsNull() && !info[8].IsUndefined()) {
    if (!info[8].IsTypedArray() || info[8].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
      typeError(env, "native forward: batchSizes must be an Int32Array or null");
    }
    auto sizes = info[8].As<Napi::Int32Array>();
    job.spec.batchSizes.assign(sizes.Data(), sizes.Data() + sizes.ElementLength());
  }
  if (info.Length() > 9) job.io.saved = floats(info[9], "saved", !backward, job, keepAlive);
  if (backward) {
    if (info.Length() < 17 || !info[16].IsArray()) typeError(env, "native backward: expected 17 arguments");
    RnnGradIo& g = job.grads;
    g.gradOutput = floats(info[10], "gradOutput", true, job, keepAlive);
    g.gradHN = floats(info[11], "gradHN", true, job, keepAlive);
    g.gradCN = floats(info[12], "gradCN", true, job, keepAlive);
    g.gradInput = floats(info[13], "gradInput", true, job, keepAlive);  // null: the input needs no gradient
    g.gradH0 = floats(info[14], "gradH0", true, job, keepAlive);
    g.gradC0 = floats(info[15], "gradC0", true, job, keepAlive);
    Napi::Array gw = info[16].As<Napi::Array>();
    for (uint32_t i = 0; i < gw.Length(); ++i) g.gradWeights.push_back(floats(gw.Get(i), "gradWeights[i]", false, job, keepAlive));
  }
  // One device per call: the input's. Mixed devices are the JS layer's job to report; this is the backstop.
  job.device = job.io.input.device;
  std::vector<const FloatSpan*> spans{&job.io.h0, &job.io.c0, &job.io.output, &job.io.hN, &job.io.cN};
  for (const FloatSpan& w : job.io.weights) spans.push_back(&w);
  const RnnGradIo& g = job.grads;
  spans.push_back(&job.io.saved);
  for (const FloatSpan* span : {&g.gradOutput, &g.gradHN, &g.gradCN, &g.gradInput, &g.gradH0, &g.gradC0}) spans.push_back(span);
  for (const FloatSpan& w : g.gradWeights) spans.push_back(&w);
  for (const FloatSpan* span : spans) {
    if (span->data && span->device != job.device) throw Napi::RangeError::New(env, "native forward: all tensors must be on one device");
  }
  // One element type per call, the spec's; the saved workspace and gradients exist only in float32 (backward of
  // a half call is not implemented natively). lib/ reports mixed dtypes with PyTorch's message first. The CPU's
  // bfloat16 forward also reads a float32 input, h0 and c0 (rounding the input and h itself) and writes float32
  // results (all three alike).
  const bool cpuBf16 = job.device < 0 && spec.dtype == ElemType::BF16 && !backward;
  auto mayBeFloat32 = [&](const FloatSpan* span) {
    const bool in = span == &job.io.input || span == &job.io.h0 || span == &job.io.c0;
    const bool out = span == &job.io.output || span == &job.io.hN || span == &job.io.cN;
    return cpuBf16 && span->type == ElemType::F32 && (in || (out && job.io.output.type == ElemType::F32));
  };
  const bool floatResults = job.io.output.type == ElemType::F32;
  if (cpuBf16 && (job.io.hN.type == ElemType::F32) != floatResults) {
    throw Napi::TypeError::New(env, "native forward: output, hN and cN must share one dtype");
  }
  if (cpuBf16 && job.io.cN.data && (job.io.cN.type == ElemType::F32) != floatResults) {
    throw Napi::TypeError::New(env, "native forward: output, hN and cN must share one dtype");
  }
  if (int8) return checkInt8Call(env, std::move(job));
  if (job.io.input.type != spec.dtype && !mayBeFloat32(&job.io.input)) {
    throw Napi::TypeError::New(env, "native forward: input dtype differs from spec.dtype");
  }
  for (const FloatSpan* span : spans) {
    if (!span->data || mayBeFloat32(span)) continue;
    const ElemType want = backward || span == &job.io.saved ? ElemType::F32 : spec.dtype;
    if (span->type != want) {
      throw Napi::TypeError::New(env, std::string("native forward: every tensor must be ") + elemName(want) + " in this call, found " +
                                          elemName(span->type));
    }
  }
  if (isHalf(spec.dtype) && (backward || job.io.saved.data)) {
    throw Napi::TypeError::New(env, "native forward: float16/bfloat16 run without saving for backward");
  }
  if (spec.dtype == ElemType::F16 && job.device < 0) {
    throw Napi::TypeError::New(env, "native forward: float16 runs only on CUDA (bfloat16 runs on the CPU too)");
  }
  const std::string error = backward ? validateGrad(job.spec, job.io, job.grads) : validate(job.spec, job.io);
  if (!error.empty()) throw Napi::RangeError::New(env, error);
  return job;
}

}  // namespace

ForwardJob unpackForward(const Napi::CallbackInfo& info, bool keepAlive) { return unpackCall(info, keepAlive, false); }

ForwardJob unpackBackward(const Napi::CallbackInfo& info, bool keepAlive) { return unpackCall(info, keepAlive, true); }

ForwardJob::~ForwardJob() {
  for (DeviceBuffer* buffer : inUse) buffer->release();
}

}  // namespace rnn::binding
