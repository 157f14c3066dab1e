// XLA FFI handlers for jcnn.kernels.onednn: a 2-D convolution's forward pass, input
// gradient and kernel gradient on NHWC activations and HWIO kernels, computed by oneDNN
// (the library PyTorch's CPU convolutions use) in and out of XLA's own buffers.
// XLA:CPU's convolutions run 2-4x slower on ResNet-sized layers, weight gradients most.
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "dnnl.hpp"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;
using dnnl::memory;
using tag = dnnl::memory::format_tag;

namespace {

dnnl::engine& Engine() {
  static dnnl::engine* engine = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *engine;
}

// Primitives are cached and may run on several of XLA's threads at once, so each call
// brings its own scratch memory instead of oneDNN's per-thread global one.
dnnl::primitive_attr UserScratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// Runs `primitive` with `args` and a scratchpad of its own.
void Execute(const dnnl::primitive& primitive, const dnnl::primitive_desc_base& pd,
             dnnl::stream& stream, std::unordered_map<int, memory> args) {
  args.insert({DNNL_ARG_SCRATCHPAD, memory(pd.scratchpad_desc(), Engine())});
  primitive.execute(stream, args);
}

// Shapes and window of one convolution: the key its primitives are cached under.
struct Geometry {
  int64_t n, h, w, ci, oh, ow, co, kh, kw;
  int64_t sh, sw, pt, pb, pl, pr, dh, dw;
  auto Key() const {
    return std::vector<int64_t>{n, h, w, ci, oh, ow, co, kh, kw, sh, sw, pt, pb, pl, pr, dh, dw};
  }
  memory::desc Src() const { return {{n, ci, h, w}, memory::data_type::f32, tag::nhwc}; }
  memory::desc Dst() const { return {{n, co, oh, ow}, memory::data_type::f32, tag::nhwc}; }
  memory::desc Weights(tag t) const { return {{co, ci, kh, kw}, memory::data_type::f32, t}; }
  memory::dims Strides() const { return {sh, sw}; }
  memory::dims Dilates() const { return {dh - 1, dw - 1}; }
  memory::dims PadL() const { return {pt, pl}; }
  memory::dims PadR() const { return {pb, pr}; }
};

struct Primitives {
  dnnl::convolution_forward::primitive_desc fwd_pd;
  dnnl::convolution_forward fwd;
  dnnl::convolution_backward_data::primitive_desc bwd_data_pd;
  dnnl::convolution_backward_data bwd_data;
  dnnl::convolution_backward_weights::primitive_desc bwd_weights_pd;
  dnnl::convolution_backward_weights bwd_weights;
};

Primitives& Get(const Geometry& g) {
  static std::mutex mu;
  static std::map<std::vector<int64_t>, std::unique_ptr<Primitives>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[g.Key()];
  if (!slot) {
    auto& eng = Engine();
    auto any_weights = g.Weights(tag::any);
    auto fwd_pd = dnnl::convolution_forward::primitive_desc(
        eng, dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
        g.Src(), any_weights, g.Dst(), g.Strides(), g.Dilates(), g.PadL(), g.PadR(),
        UserScratchpad());
    auto bwd_data_pd = dnnl::convolution_backward_data::primitive_desc(
        eng, dnnl::algorithm::convolution_direct, g.Src(), any_weights, g.Dst(),
        g.Strides(), g.Dilates(), g.PadL(), g.PadR(), fwd_pd, UserScratchpad());
    auto bwd_weights_pd = dnnl::convolution_backward_weights::primitive_desc(
        eng, dnnl::algorithm::convolution_direct, g.Src(), any_weights, g.Dst(),
        g.Strides(), g.Dilates(), g.PadL(), g.PadR(), fwd_pd, UserScratchpad());
    slot.reset(new Primitives{fwd_pd, dnnl::convolution_forward(fwd_pd),
                              bwd_data_pd, dnnl::convolution_backward_data(bwd_data_pd),
                              bwd_weights_pd, dnnl::convolution_backward_weights(bwd_weights_pd)});
  }
  return *slot;
}

Geometry MakeGeometry(ffi::Span<const int64_t> x, ffi::Span<const int64_t> k,
                      ffi::Span<const int64_t> y, ffi::Span<const int64_t> stride,
                      ffi::Span<const int64_t> padding, ffi::Span<const int64_t> dilation) {
  return Geometry{x[0], x[1], x[2], x[3], y[1], y[2], y[3], k[0], k[1],
                  stride[0], stride[1], padding[0], padding[1], padding[2], padding[3],
                  dilation[0], dilation[1]};
}

// The HWIO kernel as `want` expects it: the buffer itself, or a reordered copy.
memory KernelAs(const memory::desc& want, const Geometry& g, float* hwio,
                dnnl::stream& stream) {
  auto& eng = Engine();
  memory user(g.Weights(tag::hwio), eng, hwio);
  if (want == user.get_desc()) return user;
  memory packed(want, eng);
  dnnl::reorder(user, packed).execute(stream, user, packed);
  return packed;
}

// Runs `body` on a fresh stream, waits for it, and turns oneDNN's errors into XLA's.
ffi::Error Guard(const std::function<void(dnnl::stream&)>& body) {
  try {
    dnnl::stream stream(Engine());
    body(stream);
    stream.wait();
  } catch (const dnnl::error& e) {
    return ffi::Error(ffi::ErrorCode::kInternal, std::string("oneDNN: ") + e.what());
  }
  return ffi::Error::Success();
}

ffi::Error ConvForwardImpl(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> k,
                           ffi::ResultBuffer<ffi::F32> y, ffi::Span<const int64_t> stride,
                           ffi::Span<const int64_t> padding,
                           ffi::Span<const int64_t> dilation) {
  return Guard([&](dnnl::stream& stream) {
    auto g = MakeGeometry(x.dimensions(), k.dimensions(), y->dimensions(), stride, padding, dilation);
    auto& p = Get(g);
    auto& eng = Engine();
    memory src(g.Src(), eng, x.typed_data());
    memory dst(g.Dst(), eng, y->typed_data());
    memory weights = KernelAs(p.fwd_pd.weights_desc(), g, k.typed_data(), stream);
    Execute(p.fwd, p.fwd_pd, stream,
            {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}});
  });
}

ffi::Error ConvInputGradImpl(ffi::Buffer<ffi::F32> dy, ffi::Buffer<ffi::F32> k,
                             ffi::ResultBuffer<ffi::F32> dx, ffi::Span<const int64_t> stride,
                             ffi::Span<const int64_t> padding,
                             ffi::Span<const int64_t> dilation) {
  return Guard([&](dnnl::stream& stream) {
    auto g = MakeGeometry(dx->dimensions(), k.dimensions(), dy.dimensions(), stride, padding, dilation);
    auto& p = Get(g);
    auto& eng = Engine();
    memory diff_dst(g.Dst(), eng, dy.typed_data());
    memory diff_src(g.Src(), eng, dx->typed_data());
    memory weights = KernelAs(p.bwd_data_pd.weights_desc(), g, k.typed_data(), stream);
    Execute(p.bwd_data, p.bwd_data_pd, stream,
            {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, weights},
             {DNNL_ARG_DIFF_SRC, diff_src}});
  });
}

ffi::Error ConvKernelGradImpl(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> dy,
                              ffi::ResultBuffer<ffi::F32> dk, ffi::Span<const int64_t> stride,
                              ffi::Span<const int64_t> padding,
                              ffi::Span<const int64_t> dilation) {
  return Guard([&](dnnl::stream& stream) {
    auto g = MakeGeometry(x.dimensions(), dk->dimensions(), dy.dimensions(), stride, padding, dilation);
    auto& p = Get(g);
    auto& eng = Engine();
    memory src(g.Src(), eng, x.typed_data());
    memory diff_dst(g.Dst(), eng, dy.typed_data());
    memory user(g.Weights(tag::hwio), eng, dk->typed_data());
    auto want = p.bwd_weights_pd.diff_weights_desc();
    memory diff_weights = want == user.get_desc() ? user : memory(want, eng);
    Execute(p.bwd_weights, p.bwd_weights_pd, stream,
            {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst},
             {DNNL_ARG_DIFF_WEIGHTS, diff_weights}});
    if (!(want == user.get_desc())) {
      dnnl::reorder(diff_weights, user).execute(stream, diff_weights, user);
    }
  });
}


// Batch normalisation in training mode over [n, h, w, c]: the statistics, the
// normalisation and, backward, all three gradients in two passes over the data.
struct NormPrimitives {
  dnnl::batch_normalization_forward::primitive_desc fwd_pd;
  dnnl::batch_normalization_forward fwd;
  dnnl::batch_normalization_backward::primitive_desc bwd_pd;
  dnnl::batch_normalization_backward bwd;
};

NormPrimitives& GetNorm(ffi::Span<const int64_t> d, float epsilon) {
  static std::mutex mu;
  static std::map<std::vector<int64_t>, std::unique_ptr<NormPrimitives>> cache;
  int32_t eps_bits;
  std::memcpy(&eps_bits, &epsilon, sizeof eps_bits);
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[{d[0], d[1], d[2], d[3], eps_bits}];
  if (!slot) {
    auto& eng = Engine();
    memory::desc md({d[0], d[3], d[1], d[2]}, memory::data_type::f32, tag::nhwc);
    auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
    auto fwd_pd = dnnl::batch_normalization_forward::primitive_desc(
        eng, dnnl::prop_kind::forward_training, md, md, epsilon, flags, UserScratchpad());
    auto bwd_pd = dnnl::batch_normalization_backward::primitive_desc(
        eng, dnnl::prop_kind::backward, md, md, md, epsilon, flags, fwd_pd,
        UserScratchpad());
    slot.reset(new NormPrimitives{fwd_pd, dnnl::batch_normalization_forward(fwd_pd),
                                  bwd_pd, dnnl::batch_normalization_backward(bwd_pd)});
  }
  return *slot;
}

memory Vector(ffi::Span<const int64_t> d, void* data) {
  return memory({{d[3]}, memory::data_type::f32, tag::x}, Engine(), data);
}

ffi::Error NormForwardImpl(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> scale,
                           ffi::Buffer<ffi::F32> shift, ffi::ResultBuffer<ffi::F32> y,
                           ffi::ResultBuffer<ffi::F32> mean,
                           ffi::ResultBuffer<ffi::F32> variance, float epsilon) {
  return Guard([&](dnnl::stream& stream) {
    auto d = x.dimensions();
    auto& p = GetNorm(d, epsilon);
    auto& eng = Engine();
    Execute(p.fwd, p.fwd_pd, stream,
            {{DNNL_ARG_SRC, memory(p.fwd_pd.src_desc(), eng, x.typed_data())},
             {DNNL_ARG_DST, memory(p.fwd_pd.dst_desc(), eng, y->typed_data())},
             {DNNL_ARG_SCALE, Vector(d, scale.typed_data())},
             {DNNL_ARG_SHIFT, Vector(d, shift.typed_data())},
             {DNNL_ARG_MEAN, Vector(d, mean->typed_data())},
             {DNNL_ARG_VARIANCE, Vector(d, variance->typed_data())}});
  });
}

ffi::Error NormBackwardImpl(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> dy,
                            ffi::Buffer<ffi::F32> scale, ffi::Buffer<ffi::F32> mean,
                            ffi::Buffer<ffi::F32> variance, ffi::ResultBuffer<ffi::F32> dx,
                            ffi::ResultBuffer<ffi::F32> dscale,
                            ffi::ResultBuffer<ffi::F32> dshift, float epsilon) {
  return Guard([&](dnnl::stream& stream) {
    auto d = x.dimensions();
    auto& p = GetNorm(d, epsilon);
    auto& eng = Engine();
    auto md = p.fwd_pd.src_desc();
    Execute(p.bwd, p.bwd_pd, stream,
            {{DNNL_ARG_SRC, memory(md, eng, x.typed_data())},
             {DNNL_ARG_DIFF_DST, memory(md, eng, dy.typed_data())},
             {DNNL_ARG_SCALE, Vector(d, scale.typed_data())},
             {DNNL_ARG_MEAN, Vector(d, mean.typed_data())},
             {DNNL_ARG_VARIANCE, Vector(d, variance.typed_data())},
             {DNNL_ARG_DIFF_SRC, memory(md, eng, dx->typed_data())},
             {DNNL_ARG_DIFF_SCALE, Vector(d, dscale->typed_data())},
             {DNNL_ARG_DIFF_SHIFT, Vector(d, dshift->typed_data())}});
  });
}

}  // namespace

#define JCNN_CONV_BINDING                                              \
  ffi::Ffi::Bind()                                                     \
      .Arg<ffi::Buffer<ffi::F32>>()                                    \
      .Arg<ffi::Buffer<ffi::F32>>()                                    \
      .Ret<ffi::Buffer<ffi::F32>>()                                    \
      .Attr<ffi::Span<const int64_t>>("stride")                        \
      .Attr<ffi::Span<const int64_t>>("padding")                       \
      .Attr<ffi::Span<const int64_t>>("dilation")

XLA_FFI_DEFINE_HANDLER_SYMBOL(JcnnConvForward, ConvForwardImpl, JCNN_CONV_BINDING);
XLA_FFI_DEFINE_HANDLER_SYMBOL(JcnnConvInputGrad, ConvInputGradImpl, JCNN_CONV_BINDING);
XLA_FFI_DEFINE_HANDLER_SYMBOL(JcnnConvKernelGrad, ConvKernelGradImpl, JCNN_CONV_BINDING);

XLA_FFI_DEFINE_HANDLER_SYMBOL(JcnnNormForward, NormForwardImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<float>("epsilon"));
XLA_FFI_DEFINE_HANDLER_SYMBOL(JcnnNormBackward, NormBackwardImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<float>("epsilon"));

// "forward | input gradient | kernel gradient" implementation names, for benchmarks.
extern "C" const char* JcnnOnednnImplementations(const int64_t* geometry) {
  static thread_local std::string out;
  try {
    const int64_t* g = geometry;
    auto& p = Get(Geometry{g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9],
                           g[10], g[11], g[12], g[13], g[14], g[15], g[16]});
    out = std::string(p.fwd_pd.impl_info_str()) + " | " + p.bwd_data_pd.impl_info_str() +
          " | " + p.bwd_weights_pd.impl_info_str();
  } catch (const dnnl::error& e) {
    out = std::string("oneDNN: ") + e.what();
  }
  return out.c_str();
}
