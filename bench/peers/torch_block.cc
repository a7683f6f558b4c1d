/*
 * libtorch block peer: normkit_block.h's block written the way PyTorch users write it, with
 * ATen's operators (libtorch's C++ API, Debian's libtorch-dev 1.13), single-threaded:
 *
 *   LayerNorm  at::layer_norm(x, {dim}, gamma, beta, eps)
 *   RMSNorm    x * at::rsqrt(x.pow(2).mean(-1, true) + eps) * gamma  (Llama's RMSNorm module;
 *              ATen 1.13 has no RMSNorm operator)
 *   FFN        at::linear(u, W1, b1), at::gelu (approximate "none": the erf form) or
 *              at::silu, gated: act(linear(u, W1, b1)) * linear(u, W3, b3), then
 *              at::linear(., W2, b2)
 *   pre-norm   h = x + FFN(Norm(x)): the residual add writes h itself (at::add_out)
 *   post-norm  h = Norm(x + FFN(x)): the norm's result is copied into h (RMSNorm's last
 *              multiply writes h itself, at::mul_out, when there is a gamma)
 *
 * Weights and biases are copied into tensors at create() (what an nn.Module holds: W as
 * [out x in], at::linear uses it transposed in place); x and h are wrapped with at::from_blob
 * at every call (no copy). Every call runs under c10::InferenceMode (torch.inference_mode()).
 * The operators allocate their intermediates through ATen's CPU allocator at every call, as
 * they do for PyTorch users; no graph capture, no JIT.
 *
 * Threads: at::set_num_threads(1) (OpenMP, ATen's intra-op pool). Debian's libtorch does its
 * float GEMMs in the system BLAS (libblas.so.3, an alternatives link, normally OpenBLAS with
 * its own pthreads pool, which at::set_num_threads does not reach): so openblas_set_num_threads(1)
 * is called too when the process has it (looked up at run time, as a PyTorch user would set
 * OPENBLAS_NUM_THREADS=1). nkb_torch_block_init() then runs one block and checks that no
 * thread was started and that no other thread did work during the call (nkb_block_probe).
 * Its info names the BLAS library sgemm_ resolves to and, for OpenBLAS, the core it runs
 * (OPENBLAS_CORETYPE, when the environment sets it, holds it to that core's kernels).
 *
 * Exceptions (c10::Error and others) never cross into C: each entry point catches them and
 * returns their message.
 */
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <c10/core/InferenceMode.h>
#include <torch/version.h>

#include "peers.h"

namespace {

struct TorchBlock {
    normkit_layout layout;
    normkit_norm norm;
    normkit_act act;
    bool gated;
    int64_t dim, hidden;
    size_t max_rows;
    double eps;
    at::Tensor gamma, beta, w1, b1, w3, b3, w2, b2; /* undefined when absent */
    std::string err;
};

std::string create_err; /* create() fails before there is a state to hold its message */

at::Tensor copy_of(const float *p, at::IntArrayRef shape)
{
    if (!p)
        return at::Tensor();
    return at::from_blob(const_cast<float *>(p), shape, at::TensorOptions().dtype(at::kFloat))
        .clone();
}

at::Tensor rms_unscaled(const TorchBlock &b, const at::Tensor &x)
{
    return x * at::rsqrt(x.pow(2).mean(-1, true) + b.eps);
}

at::Tensor norm(const TorchBlock &b, const at::Tensor &x)
{
    if (b.norm == NORMKIT_NORM_LN)
        return at::layer_norm(x, {b.dim}, b.gamma, b.beta, b.eps);
    at::Tensor y = rms_unscaled(b, x);
    return b.gamma.defined() ? y * b.gamma : y;
}

at::Tensor ffn(const TorchBlock &b, const at::Tensor &u)
{
    at::Tensor a = at::linear(u, b.w1, b.b1);
    a = b.act == NORMKIT_ACT_GELU ? at::gelu(a) : at::silu(a);
    if (b.gated)
        a = a * at::linear(u, b.w3, b.b3);
    return at::linear(a, b.w2, b.b2);
}

const char *create(const normkit_block_desc *d, size_t max_rows, void **state)
{
    *state = nullptr;
    if (!d || !d->w1 || !d->w2 || (d->gated && !d->w3) || d->dim == 0 || d->hidden == 0 ||
        max_rows == 0 || (d->norm != NORMKIT_NORM_RMS && d->norm != NORMKIT_NORM_LN) ||
        (d->act != NORMKIT_ACT_GELU && d->act != NORMKIT_ACT_SILU) ||
        (d->layout != NORMKIT_PRENORM && d->layout != NORMKIT_POSTNORM))
        return "torch block: bad block description";
    TorchBlock *b = nullptr;
    try {
        c10::InferenceMode guard;
        b = new TorchBlock();
        b->layout = d->layout, b->norm = d->norm, b->act = d->act, b->gated = d->gated != 0;
        b->dim = (int64_t)d->dim, b->hidden = (int64_t)d->hidden, b->max_rows = max_rows;
        b->eps = d->eps;
        b->gamma = copy_of(d->gamma, {b->dim});
        b->beta = d->norm == NORMKIT_NORM_LN ? copy_of(d->beta, {b->dim}) : at::Tensor();
        b->w1 = copy_of(d->w1, {b->hidden, b->dim});
        b->b1 = copy_of(d->b1, {b->hidden});
        if (b->gated) {
            b->w3 = copy_of(d->w3, {b->hidden, b->dim});
            b->b3 = copy_of(d->b3, {b->hidden});
        }
        b->w2 = copy_of(d->w2, {b->dim, b->hidden});
        b->b2 = copy_of(d->b2, {b->dim});
    } catch (const std::exception &e) {
        delete b;
        create_err = std::string("torch block: create: ") + e.what();
        return create_err.c_str();
    }
    *state = b;
    return nullptr;
}

const char *run(void *state, size_t rows, const float *x, float *h)
{
    TorchBlock *b = static_cast<TorchBlock *>(state);
    if (!b)
        return "torch block: no state";
    if (rows == 0)
        return nullptr;
    if (rows > b->max_rows)
        return "torch block: rows > max_rows";
    try {
        c10::InferenceMode guard;
        const at::TensorOptions f32 = at::TensorOptions().dtype(at::kFloat);
        const at::Tensor X = at::from_blob(const_cast<float *>(x), {(int64_t)rows, b->dim}, f32);
        at::Tensor H = at::from_blob(h, {(int64_t)rows, b->dim}, f32);
        if (b->layout == NORMKIT_PRENORM) {
            at::add_out(H, X, ffn(*b, norm(*b, X)));
        } else {
            const at::Tensor t = X + ffn(*b, X);
            if (b->norm == NORMKIT_NORM_RMS && b->gamma.defined())
                at::mul_out(H, rms_unscaled(*b, t), b->gamma);
            else
                H.copy_(norm(*b, t));
        }
    } catch (const std::exception &e) {
        try {
            b->err = std::string("torch block: ") + e.what();
        } catch (...) {
            return "torch block: an exception (and out of memory describing it)";
        }
        /* c10::Error's what() carries a backtrace: keep its first line */
        const size_t nl = b->err.find('\n');
        if (nl != std::string::npos)
            b->err.resize(nl);
        return b->err.c_str();
    }
    return nullptr;
}

void destroy(void *state)
{
    delete static_cast<TorchBlock *>(state);
}

/* at::get_parallel_info() on one line: its "name : value" lines, without the banners */
std::string parallel_info_short()
{
    const std::string full = at::get_parallel_info();
    std::string out;
    size_t pos = 0;
    while (pos < full.size()) {
        size_t end = full.find('\n', pos);
        if (end == std::string::npos)
            end = full.size();
        std::string line = full.substr(pos, end - pos);
        pos = end + 1;
        const size_t first = line.find_first_not_of(" \t");
        if (first == std::string::npos)
            continue;
        line = line.substr(first);
        if (line.find(':') == std::string::npos || line.back() == ':' ||
            line.compare(0, 3, "---") == 0)
            continue;
        if (!out.empty())
            out += ", ";
        out += line;
    }
    return out;
}

/* "BLAS_INFO=..." of at::show_config() (Debian's says "generic": the system libblas.so.3),
 * the file sgemm_ was loaded from (symbolic links resolved: the alternative picked) and, for
 * OpenBLAS, its core */
std::string blas_info()
{
    const std::string cfg = at::show_config();
    std::string out = "BLAS ?";
    const size_t at_ = cfg.find("BLAS_INFO=");
    if (at_ != std::string::npos) {
        const size_t end = cfg.find_first_of(", \n", at_);
        out = cfg.substr(at_, end == std::string::npos ? std::string::npos : end - at_);
    }
    Dl_info dli;
    void *sgemm = dlsym(RTLD_DEFAULT, "sgemm_");
    if (sgemm && dladdr(sgemm, &dli) && dli.dli_fname) {
        char *real = realpath(dli.dli_fname, nullptr);
        out += std::string(", sgemm_ from ") + (real ? real : dli.dli_fname);
        std::free(real);
    }
    char *(*corename)(void) = nullptr;
    void *sym = dlsym(RTLD_DEFAULT, "openblas_get_corename");
    std::memcpy(&corename, &sym, sizeof sym);
    if (corename && corename()) {
        /* some machines here set OPENBLAS_CORETYPE (e.g. Haswell: AVX2 kernels): recorded,
         * never changed */
        const char *forced = std::getenv("OPENBLAS_CORETYPE");
        out += std::string(" (OpenBLAS core ") + corename() +
               (forced ? std::string(", OPENBLAS_CORETYPE=") + forced + " in the environment"
                       : std::string(", no OPENBLAS_CORETYPE")) +
               ")";
    }
    return out;
}

} // namespace

extern "C" int nkb_torch_block_init(nkb_block_peer *peer, char *info, size_t infolen)
{
    std::string ver = "libtorch " TORCH_VERSION;
    try {
        nkb_omp_limit_to_one();
        at::set_num_threads(1);
        /* OpenBLAS under libtorch's GEMMs (see the top of the file): its own pool */
        int (*ob_get)(void) = nullptr;
        void (*ob_set)(int) = nullptr;
        void *sym = dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
        std::memcpy(&ob_set, &sym, sizeof sym);
        sym = dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
        std::memcpy(&ob_get, &sym, sizeof sym);
        if (ob_set)
            ob_set(1);
        const std::string blas = blas_info();

        peer->name = "torch", peer->create = create, peer->run = run, peer->destroy = destroy;
        nkb_block_probe_result pr;
        nkb_block_probe(peer, &pr);
        const int threads = at::get_num_threads(), interop = at::get_num_interop_threads();
        const int ob = ob_get ? ob_get() : -1;
        const std::string par = parallel_info_short();
        std::snprintf(info, infolen,
                      "%s (ABI %d); %s; at::get_num_threads %d, at::get_num_interop_threads %d; "
                      "openblas_get_num_threads %d%s; %s; %s%s%s; parallel info: %s",
                      ver.c_str(), _GLIBCXX_USE_CXX11_ABI, blas.c_str(),
                      threads, interop, ob, ob_set ? " (set to 1)" : " (no OpenBLAS symbols)",
                      "RMSNorm as x * rsqrt(mean(x^2) + eps) * gamma", pr.text,
                      pr.why[0] ? "; unusable: " : "", pr.why, par.c_str());
        return pr.usable ? 0 : -1;
    } catch (const std::exception &e) {
        std::snprintf(info, infolen, "%s; unusable: %s", ver.c_str(), e.what());
        return -1;
    }
}
