#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/): a handful of small
inputs per target in the layouts of tests/fuzz/README.md. Rerun after changing a layout;
regression seeds (regress-*, named by what they found) are added by hand and kept.

    python3 tests/fuzz/make_seeds.py
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- tuning: files in docs/tuning.md's format; @CPU@, @L1@, @L2@ become this machine's ----
def tuning_file(kernels, **top):
    doc = {'format': 'normkit-tuning', 'version': 1,
           'machine': {'cpu': '@CPU@', 'l1d_bytes': 0, 'l2_bytes': 0},
           'created': '2026-12-02T19:00:00Z', 'tool': 'normkit-tune 0.1.0', 'budget_s': 120,
           'kernels': kernels}
    doc.update(top)
    # sizes as placeholders (numbers in the JSON once replaced)
    return (json.dumps(doc, indent=1)
            .replace('"l1d_bytes": 0', '"l1d_bytes": @L1@')
            .replace('"l2_bytes": 0', '"l2_bytes": @L2@'))


norm_entry = {'op': 'rmsnorm', 'isa': 'scalar', 'class': 'l1_row', 'variant': '',
              'params': {'pipe_max_dim': 2048, 'dram_min_bytes': 67108864, 'nt_min_bytes': 'never'},
              'default': '', 'gain': 1.07, 'spread': 0.03}
lin_entry = {'op': 'linear', 'isa': 'scalar', 'class': 'all', 'variant': '',
             'params': {'lin_kc': 256, 'lin_mc': 0, 'lin_prefetch': 16, 'lin_pack_rows': 64},
             'default': '', 'gain': 1.02, 'spread': 0.01}
valid = [
    ('valid-empty', tuning_file([])),
    ('valid-scalar', tuning_file([norm_entry, lin_entry])),
    ('valid-classes', tuning_file(
        [dict(norm_entry, op=op, **{'class': cls}, params={'nt_min_bytes': 0, 'dram_min_bytes': 'never'})
         for op in ('rmsnorm', 'layernorm', 'add_rmsnorm', 'add_layernorm')
         for cls in ('l1_rows', 'l2_row', 'l2_rows', 'mem_row', 'mem_rows')]
        + [dict(lin_entry, op='rmsnorm_linear', params={'lin_kc': 0, 'lin_mc': 4096}),
           dict(lin_entry, op='layernorm_linear', params={})])),
    ('valid-avx', tuning_file(
        [dict(norm_entry, isa='avx512', variant='u4_acc8'),
         dict(norm_entry, op='layernorm', isa='avx2', variant='u2_acc4', params={'pipe_max_dim': 0}),
         dict(lin_entry, isa='avx512', params={'lin_kc': 65536, 'lin_pack_rows': 1048576}),
         dict(lin_entry, isa='avx2')])),
    ('other-machine', tuning_file([norm_entry]).replace('@CPU@', 'Some Other CPU @ 3.00GHz')),
    ('valid-isa-avx2', tuning_file([dict(norm_entry, isa='avx2', variant='u4_acc8')], isa='avx2',
                                   isa_gain=1.04)),
]
for name, text in valid:
    write('tuning', name + '.json', text)
broken = {
    'truncated': tuning_file([norm_entry])[:150],
    'not-object': '[1, 2, 3]',
    'wrong-format': tuning_file([]).replace('normkit-tuning', 'normkit-tunings'),
    'version-2': tuning_file([]).replace('"version": 1', '"version": 2'),
    'unknown-key': tuning_file([dict(norm_entry, extra=1)]),
    'duplicate-key': tuning_file([]).replace('"version": 1', '"version": 1, "version": 1'),
    'bad-range': tuning_file([dict(lin_entry, params={'lin_kc': 65}), dict(norm_entry)]),
    'never-not-allowed': tuning_file([dict(lin_entry, params={'lin_mc': 'never'})]),
    'repeat': tuning_file([norm_entry, norm_entry]),
    'bad-class': tuning_file([dict(norm_entry, **{'class': 'all'})]),
    'gain-1e999': tuning_file([dict(norm_entry, gain=1e999)]).replace('Infinity', '1e999'),
    'nul-byte': tuning_file([]).replace('"tool"', '"to\0ol"'),
    'unbuilt-isa-neon': tuning_file([dict(lin_entry, isa='neon'), dict(norm_entry, isa='sve')]),
    'deep': '[' * 2000 + ']' * 2000,
    'isa-auto': tuning_file([], isa='auto'),
    'isa-unsupported-neon': tuning_file([], isa='neon'),
    'isa-not-string': tuning_file([], isa=2, isa_gain='fast'),
}
for name, text in broken.items():
    write('tuning', name + '.json', text)


# ---- norm: the header of fuzz_norm.c, then data ----
def norm_seed(op, rows, dim, pads=0, offs=0, flags=0, fault=0, eps_mode=0, eps_bits=0, kp=0,
              shift=0, data=b''):
    return (bytes([op, rows]) + struct.pack('<H', dim) + bytes([pads, offs, flags, fault, eps_mode])
            + struct.pack('<I', eps_bits) + bytes([kp]) + struct.pack('<H', shift) + data)


floats = struct.pack('<16f', 1.0, -2.0, 3.5, 0.25, -0.125, 7.0, 1e-3, -4.0,
                     2.0, 0.5, -1.5, 9.0, -3.25, 0.75, 6.0, -0.0625)
specials = struct.pack('<8I', 0x7fc00000, 0x7f800000, 0xff800000, 0x00000001,
                       0x7f7fffff, 0x80000000, 0x00800000, 0x3f800000)
norm_seeds = {
    'rmsnorm': norm_seed(0, 3, 37, pads=0x15, offs=0x1b, flags=0b01000001, data=floats),
    'layernorm-beta': norm_seed(1, 4, 64, pads=0x2a, offs=0x27, flags=0b01000011, data=floats),
    'add-rmsnorm': norm_seed(2, 2, 17, pads=0x39, offs=0x1e, flags=0b10000001, data=floats * 3),
    'add-layernorm-inplace': norm_seed(3, 3, 33, flags=0b01000111, data=floats),
    'gelu': norm_seed(4, 2, 40, pads=0x05, offs=0x21, data=floats + specials),
    'silu-specials': norm_seed(5, 1, 8, data=specials),
    'add-y-is-r': norm_seed(6, 3, 19, flags=0b01001000, data=floats),
    'mul-partial': norm_seed(7, 2, 12, flags=0b01001100, shift=5, data=floats),
    'rmsnorm-large': norm_seed(0, 2, 0xf000 | 6, flags=0b11000001, kp=4, data=floats),
    'layernorm-large-mean': norm_seed(1, 3, 128, flags=0b11000011, kp=5, data=floats),
    'rmsnorm-raw-bits': norm_seed(0, 2, 8, flags=0, eps_mode=9, eps_bits=0x3727c5ac, data=specials * 2),
    'layernorm-eps-nan': norm_seed(1, 1, 5, eps_mode=6, eps_bits=0x00400000, data=floats),
    'rmsnorm-stride-fault': norm_seed(0, 3, 9, fault=0xd3, data=floats),
    'add-rmsnorm-null-r': norm_seed(2, 2, 9, fault=0xd2, data=floats),
    'rows-0': norm_seed(3, 0, 0, fault=0xd0),
    'huge-dim': norm_seed(1, 2, 4, fault=0xd9),
    'y-is-x-other-stride': norm_seed(1, 3, 10, flags=0b01010100, data=floats),
}
for name, data in norm_seeds.items():
    write('norm', name, data)


# ---- linear: the header of fuzz_linear.c, then data ----
def lin_seed(op, path, rows, dim, n, pads=0, offs=0, flags=0, fault=0, eps_mode=0, eps_bits=0,
             knob=0, fold=0, ovl=0, shift=0, data=b''):
    return (bytes([op | path << 2, rows]) + struct.pack('<H', dim)
            + bytes([n, pads, offs, flags, fault, eps_mode]) + struct.pack('<I', eps_bits)
            + bytes([knob, fold, ovl]) + struct.pack('<H', shift) + data)


lin_seeds = {
    'linear': lin_seed(0, 0, 3, 37, 13, pads=0x15, offs=0x1b, flags=0b01000100, data=floats),
    'linear-op-run': lin_seed(0, 1, 5, 64, 9, flags=0b10000100, knob=1, data=floats),
    'rmsnorm-linear': lin_seed(1, 0, 4, 70, 33, pads=0x2a, flags=0b01000101, knob=2, data=floats),
    'layernorm-linear': lin_seed(2, 1, 9, 19, 70, flags=0b01000111, data=floats * 2),
    'packed': lin_seed(2, 2, 2, 48, 17, flags=0b01000111, data=floats),
    'packed-folded': lin_seed(2, 3, 3, 31, 7, flags=0b01000111, fold=0x03, data=floats),
    'packed-folded-again': lin_seed(1, 3, 2, 16, 5, flags=0b01000001, fold=0x05, data=floats),
    'packed-isa-switch': lin_seed(0, 2, 2, 16, 5, fault=0xd9, data=floats),
    'y-over-x': lin_seed(0, 0, 2, 20, 6, flags=0b01110000, ovl=0, shift=3, data=floats),
    'y-over-bias': lin_seed(1, 0, 2, 20, 6, flags=0b01110101, ovl=2, shift=1, data=floats),
    'linear-specials': lin_seed(0, 0, 2, 8, 4, flags=0b00000100, data=specials * 3),
    'norm-linear-specials': lin_seed(1, 0, 2, 8, 4, flags=0b00000101, data=specials * 3),
    'large-dim': lin_seed(2, 0, 1, 0xf000, 5, flags=0b11000111, data=floats),
    'null-w': lin_seed(0, 0, 2, 8, 4, fault=0xd1),
    'eps-negative': lin_seed(1, 0, 2, 8, 4, eps_mode=7, data=floats),
}
for name, data in lin_seeds.items():
    write('linear', name, data)


# ---- block: the header of fuzz_block.c, then data ----
def block_seed(kind, rows, dim, hidden, path=2, isa=0, force=0, ws=1, repeat=0, pads=0, offs=0,
               fault=0, arg=0, eps_mode=0, eps_bits=0, modes=0x2a, inj=0, probe=0, data=b''):
    """kind: bit 0 post-norm, 1 LayerNorm, 2 SiLU, 3 gated, 4 gamma, 5 beta, 6 b1 (b3), 7 b2.
    dim, hidden: 1..96, 1..160 (or the raw u16 selector when >= 0xf000)."""
    dsel = dim if dim >= 0xf000 else dim - 1
    hsel = hidden if hidden >= 0xf000 else hidden - 1
    call = path | isa << 2 | force << 5
    fwd = ws | repeat << 2 | pads << 4
    return (bytes([kind, rows]) + struct.pack('<HH', dsel, hsel) + bytes([call, fwd, offs, fault])
            + struct.pack('<H', arg) + bytes([eps_mode]) + struct.pack('<I', eps_bits)
            + bytes([modes]) + struct.pack('<H', inj) + bytes([probe]) + data)


F = 0xd0  # fault codes: F + n (fuzz_block.c, README.md)
block_seeds = {
    'prenorm-rms-gelu-fused': block_seed(0xd0, 3, 37, 100, pads=0x9, offs=0x35, data=floats),
    'prenorm-rms-silu-gated-llama': block_seed(0x1c, 4, 48, 128, data=floats * 2),
    'prenorm-ln-gelu-unfused-avx2': block_seed(0xf2, 2, 64, 96, path=1, isa=2, ws=0, data=floats),
    'postnorm-ln-gelu-bert': block_seed(0xf3, 3, 32, 128, ws=2, arg=17, data=floats),
    'postnorm-rms-silu-gated': block_seed(0xdd, 5, 19, 50, path=1, isa=3, ws=3, data=floats),
    'scalar-path-any-isa': block_seed(0x57, 2, 8, 16, path=0, isa=5, arg=4, data=floats),
    'auto-forced-scalar': block_seed(0xd6, 2, 24, 40, path=2, isa=0, force=1, repeat=1, data=floats),
    'auto-forced-avx2-repeat-force': block_seed(0xf8, 3, 40, 70, force=2, repeat=2, data=floats),
    'unsupported-neon': block_seed(0xd0, 2, 16, 32, path=1, isa=4, data=floats),
    'force-sve-unsupported': block_seed(0xd0, 1, 16, 32, force=5, data=floats),
    'rows-alone': block_seed(0xfb, 6, 33, 77, repeat=3, data=floats),
    'nan-row': block_seed(0xf1, 4, 20, 30, modes=0x6a, inj=2 + 10 * 7, data=floats),
    'inf-row-prenorm': block_seed(0xd2, 3, 20, 30, modes=0xaa, inj=1, data=floats),
    'raw-bits-x': block_seed(0xd2, 3, 12, 20, modes=0x28, data=specials + floats),
    'raw-bits-all': block_seed(0xff, 2, 8, 8, modes=0x00, data=specials * 4),
    'large-mean': block_seed(0xf3, 3, 64, 64, modes=0x23, data=floats),
    'ints-eps0': block_seed(0xf3, 3, 16, 24, eps_mode=3, modes=0x15, data=bytes(8) + floats),
    'eps-subnormal': block_seed(0xd2, 2, 9, 12, eps_mode=5, eps_bits=3, modes=0x2a, data=floats),
    'eps-nan': block_seed(0xd0, 2, 9, 12, eps_mode=6, eps_bits=0x00400000, data=floats),
    'eps-huge': block_seed(0xd3, 2, 9, 12, eps_mode=8, eps_bits=0x12345, data=floats),
    'large-dims': block_seed(0xd0, 2, 0xf000 | 1, 0xf000 | 2, data=floats),
    'rows-0': block_seed(0xd0, 0, 8, 8, data=floats),
    'null-desc': block_seed(0xd0, 2, 8, 8, fault=F + 0),
    'null-out': block_seed(0xd0, 2, 8, 8, fault=F + 1),
    'null-w3-gated': block_seed(0xd8, 2, 8, 8, fault=F + 4),
    'w3-ungated': block_seed(0xd0, 2, 8, 8, fault=F + 5),
    'beta-rmsnorm': block_seed(0xd0, 2, 8, 8, fault=F + 7),
    'hidden-0': block_seed(0xd0, 2, 8, 8, fault=F + 9),
    'dim-huge': block_seed(0xd0, 2, 8, 8, fault=F + 10, arg=1),
    'hidden-huge': block_seed(0xd0, 2, 8, 8, fault=F + 11, arg=2),
    'act-outside': block_seed(0xd0, 2, 8, 8, fault=F + 14, arg=2),
    'path-outside': block_seed(0xd0, 2, 8, 8, fault=F + 15),
    'null-block': block_seed(0xd0, 2, 8, 8, fault=F + 16, data=floats),
    'null-h': block_seed(0xd0, 2, 8, 8, fault=F + 18, data=floats),
    'ldx-small': block_seed(0xd0, 2, 8, 8, fault=F + 19, data=floats),
    'ldh-huge-one-row': block_seed(0xd0, 1, 8, 8, fault=F + 22, data=floats),
    'rows-huge': block_seed(0xd0, 3, 1, 8, fault=F + 23, data=floats),
    'rows-over-ws': block_seed(0xd0, 3, 4, 8, fault=F + 24, data=floats),
    'h-over-x': block_seed(0xd0, 3, 8, 8, fault=F + 25, arg=5, data=floats),
    'h-past-x': block_seed(0xd0, 2, 8, 8, fault=F + 25, arg=16, data=floats),
    'h-in-gaps': block_seed(0xd1, 2, 8, 8, fault=F + 26, data=floats),
    'ws-small': block_seed(0xd0, 2, 8, 8, fault=F + 27, arg=0, data=floats),
    'ws-zero': block_seed(0xd0, 2, 8, 8, fault=F + 28, data=floats),
    'ws-null-with-size': block_seed(0xd0, 2, 8, 8, fault=F + 29, arg=3, data=floats),
    'x-over-h': block_seed(0xd1, 2, 8, 8, fault=F + 30, arg=3, data=floats),
    'h-is-x': block_seed(0xd0, 2, 8, 8, fault=F + 31, data=floats),
}
for name, data in block_seeds.items():
    write('block', name, data)
