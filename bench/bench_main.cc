// normkit-bench: Google Benchmark over the cases that bench/cases.c builds from the kernel
// registry. This file is the only C++ of the harness and knows no kernel: it registers one
// benchmark per case, sets the counters, and hands the context over.
//
// Counters (rates are per second of the benchmark's time, Google Benchmark's CPU time):
//   bytes_per_second   bytes read + written per call (SetBytesProcessed)
//   rows_per_second    rows normalized (kernel cases)
//   flops_per_second   floating-point operations (FMA ceilings, linear and block cases)
//   tokens_per_second  rows (tokens) through a whole block (block cases)
//   working_set_bytes  distinct bytes one call touches (not a rate): what picks the label
//   wall_time_rates    1 on cases that run threads of their own (<isa>_2t): their rates are
//                      per second of wall time, not of the main thread's CPU time
// and on the norm cases (rmsnorm, layernorm, add_rmsnorm, add_layernorm), from this run's
// ceilings (docs/performance.md) and the thread CPU time of the timed loop (the time the rates
// use), as plain values:
//   ns_per_call        the time per call (also on ceiling_rowcall and ceiling_rowcall_ln)
//   bound_ns           the modeled best time per call
//   pct_of_bound       bound_ns / ns_per_call * 100
//   copy_ws_ns         the time ceiling_copy_ws (a copy of the case's working set, this run)
//                      takes to move the bytes the case counts
//   pct_of_copy_ws     copy_ws_ns / ns_per_call * 100: the case's bandwidth over that copy's
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench.h"

namespace {

void help()
{
    nkb_print_help(stdout);
    benchmark::PrintDefaultHelp();
}

void run_case(benchmark::State &state, const nkb_case *c)
{
    char err[256];
    if (nkb_case_setup(c, err, sizeof err) != 0) {
        state.SkipWithError(err);
        for (auto _ : state) {
        }
        return;
    }
    const auto start = std::chrono::steady_clock::now();
    timespec cpu0, cpu1; // the thread's CPU time, as Google Benchmark measures it
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
    for (auto _ : state) {
        float v = nkb_case_run(c);
        benchmark::DoNotOptimize(v);
        benchmark::ClobberMemory();
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
    const double iters = static_cast<double>(state.iterations());
    const double cpu = static_cast<double>(cpu1.tv_sec - cpu0.tv_sec) +
                       1e-9 * static_cast<double>(cpu1.tv_nsec - cpu0.tv_nsec);
    nkb_case_record(c, iters, cpu);
    if (c->real_time) {
        // The case runs a thread of its own, whose time the CPU time would leave out: its rates
        // are per second of wall time (UseRealTime would rename the case, "/real_time").
        const double wall =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (c->bytes > 0)
            state.counters["bytes_per_second"] = c->bytes * iters / wall;
        if (c->rows > 0)
            state.counters["rows_per_second"] = c->rows * iters / wall;
        if (c->flops > 0)
            state.counters["flops_per_second"] = c->flops * iters / wall;
        state.counters["working_set_bytes"] = c->ws_bytes;
        state.counters["wall_time_rates"] = 1;
        state.SetLabel(c->label);
        return;
    }
    if (c->bytes > 0)
        state.SetBytesProcessed(static_cast<int64_t>(c->bytes * iters));
    if (c->rows > 0)
        state.counters["rows_per_second"] =
            benchmark::Counter(c->rows, benchmark::Counter::kIsIterationInvariantRate);
    if (c->kind == NKB_CASE_BLOCK) // a block's rows are tokens
        state.counters["tokens_per_second"] =
            benchmark::Counter(c->rows, benchmark::Counter::kIsIterationInvariantRate);
    if (c->flops > 0)
        state.counters["flops_per_second"] =
            benchmark::Counter(c->flops, benchmark::Counter::kIsIterationInvariantRate);
    if (c->ws_bytes > 0)
        state.counters["working_set_bytes"] = c->ws_bytes;
    const double ns = iters > 0 && cpu > 0 ? 1e9 * cpu / iters : 0;
    double bound_ns, copy_ws_ns;
    if (c->kind == NKB_CASE_ROW && ns > 0)
        state.counters["ns_per_call"] = ns;
    if (nkb_case_model(c, &bound_ns, &copy_ws_ns) == 0 && ns > 0) {
        state.counters["ns_per_call"] = ns;
        state.counters["bound_ns"] = bound_ns;
        state.counters["pct_of_bound"] = 100 * bound_ns / ns;
        if (copy_ws_ns > 0) {
            state.counters["copy_ws_ns"] = copy_ws_ns;
            state.counters["pct_of_copy_ws"] = 100 * copy_ws_ns / ns;
        }
    }
    state.SetLabel(c->label);
}

} // namespace

int main(int argc, char **argv)
{
    // nkb_parse_args may insert one flag: room for it and the terminating NULL.
    std::vector<char *> args(argv, argv + argc);
    args.resize(static_cast<size_t>(argc) + 2, nullptr);
    int nargs = argc;
    nkb_options opt;
    if (int rc = nkb_parse_args(&nargs, args.data(), &opt))
        return rc;

    benchmark::Initialize(&nargs, args.data(), help); // --help prints and exits here
    if (nargs > 1) {
        std::fprintf(stderr, "normkit-bench: error: unknown option '%s' (try --help)\n", args[1]);
        return 2;
    }

    char err[256];
    if (nkb_init(&opt, err, sizeof err) != 0) {
        std::fprintf(stderr, "normkit-bench: error: %s\n", err);
        return 1;
    }
    const size_t n = nkb_case_count();
    if (opt.list) {
        for (size_t i = 0; i < n; i++) {
            const nkb_case *c = nkb_case_get(i);
            std::printf("%s\t%s\t%.0f\t%.0f\n", c->name, c->label, c->ws_bytes, c->bytes);
        }
        nkb_fini();
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        const nkb_case *c = nkb_case_get(i);
        benchmark::RegisterBenchmark(c->name, run_case, c);
    }
    for (size_t i = 0; i < nkb_context_count(); i++)
        benchmark::AddCustomContext(nkb_context_key(i), nkb_context_value(i));

    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    nkb_fini();
    return nkb_out_commit(); // --benchmark_out=FILE appears now, whole
}
