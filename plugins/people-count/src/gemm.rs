//! Our own f32 matrix-multiplication kernel for wasm simd128, registered with tract's kernel
//! registry so that the model's f32 GEMMs (its 1x1 and 3x3 convolutions) run on it.
//!
//! Why: tract-linalg 0.23.9 picks `wasm_f32_8x8` for every f32 GEMM in wasm. That kernel keeps
//! 16 `v128` accumulators, and wasmtime's Cranelift backend has 16 xmm registers on x86-64, so
//! every step of its inner loop spills and reloads accumulators; a profile of the sandboxed
//! run showed 65-70% of the time in it. This kernel computes a `ROWS x 4*COLS` tile with
//! `ROWS * COLS` accumulators (8 for 4x8), which leaves room for the B vectors and the A
//! broadcast: nothing spills.
//!
//! How: tract-linalg's registries are public `inventory` collections. [`registry`] submits a
//! `DynKernel` (as an `MmmRoutine`) and an `MmmTier` at precedence 2 for wasm simd128, above
//! tract's own wasm tier (1), naming this kernel for every f32 matmul but the matrix-vector
//! ones (`n == 1`), which stay with tract. Nothing of tract is patched or copied.
//!
//! The kernel follows tract's contract for a kernel: it runs a list of `FusedKerSpec`
//! operations ended by `Done`, on an accumulator tile it keeps between them; A is packed
//! `[k][ROWS]`, B `[k][4*COLS]`. Every operation is implemented, not only those the model
//! uses; the unit tests check each against plain arithmetic, natively, through [`simd`]'s
//! portable stand-in for the wasm intrinsics.
//!
//! Measured with `plugins/people-count/bench.sh` (9 frames at 416x416, median of 3
//! alternated rounds, 2 shared cores): see the README's people-count section.

use tract_onnx::tract_core::tract_linalg::Scaler;
use tract_onnx::tract_core::tract_linalg::mmm::{FusedKerSpec, OutputStoreKer};

use simd::V;

/// Rows of the tile: A values broadcast per k step.
pub const ROWS: usize = 4;
/// Columns of the tile, in `v128` vectors of 4: B vectors loaded per k step.
pub const COLS: usize = 2;
/// k steps per turn of the inner loop, at most (see [`add_mat_mul`]); the accumulators go
/// through memory once per turn. Measured, ms per frame: 8 steps 157-159, 16 153-155 (one
/// run), 16 156 vs 32 151-152 (another).
pub const UNROLL: usize = 32;

/// Runs one tile's operations, ended by `FusedKerSpec::Done` (tract's kernel contract; the
/// slice is read up to `Done`, whatever its length). Returns 0, as tract's kernels do.
///
/// # Safety
/// The pointers in `ops` must be valid for the tile they describe, as tract guarantees:
/// packed panels of `k` steps, `R` row values and `4 * C` column values, C tiles of `R`
/// rows by `4 * C` columns at the given strides.
// Relaxed SIMD for `simd::madd` only; wasmtime accepts it by default.
#[cfg_attr(target_arch = "wasm32", target_feature(enable = "relaxed-simd"))]
pub unsafe fn kernel<const R: usize, const C: usize>(ops: &[FusedKerSpec<f32>]) -> isize {
    use simd::*;
    let mut acc = [[splat(0.0); C]; R];
    let mut op = ops.as_ptr();
    unsafe {
        loop {
            match *op {
                FusedKerSpec::Done => break,
                FusedKerSpec::Clear => acc = [[splat(0.0); C]; R],
                // Both layouts of the same tile are given; this takes the row-major one.
                FusedKerSpec::LoadTile(_col_major, row_major) => {
                    for (r, row) in acc.iter_mut().enumerate() {
                        for (c, v) in row.iter_mut().enumerate() {
                            *v = load(row_major.add(r * 4 * C + 4 * c));
                        }
                    }
                }
                FusedKerSpec::ScalarMin(s) => each(&mut acc, |v| min(splat(s), v)),
                FusedKerSpec::ScalarMax(s) => each(&mut acc, |v| max(splat(s), v)),
                FusedKerSpec::ScalarAdd(s) => each(&mut acc, |v| add(splat(s), v)),
                FusedKerSpec::ScalarMul(s) => each(&mut acc, |v| mul(splat(s), v)),
                FusedKerSpec::ScalarSub(s) => each(&mut acc, |v| sub(splat(s), v)),
                FusedKerSpec::ScalarSubF(s) => each(&mut acc, |v| sub(v, splat(s))),
                FusedKerSpec::LeakyRelu(alpha) => each(&mut acc, |v| leaky_relu(v, splat(alpha))),
                FusedKerSpec::PerRowMin(p) => per_row(&mut acc, p, min),
                FusedKerSpec::PerRowMax(p) => per_row(&mut acc, p, max),
                FusedKerSpec::PerRowAdd(p) => per_row(&mut acc, p, add),
                FusedKerSpec::PerRowMul(p) => per_row(&mut acc, p, mul),
                FusedKerSpec::PerRowSub(p) => per_row(&mut acc, p, sub),
                FusedKerSpec::PerRowSubF(p) => per_row(&mut acc, p, |s, v| sub(v, s)),
                FusedKerSpec::PerColMin(p) => per_col(&mut acc, p, min),
                FusedKerSpec::PerColMax(p) => per_col(&mut acc, p, max),
                FusedKerSpec::PerColAdd(p) => per_col(&mut acc, p, add),
                FusedKerSpec::PerColMul(p) => per_col(&mut acc, p, mul),
                FusedKerSpec::PerColSub(p) => per_col(&mut acc, p, sub),
                FusedKerSpec::PerColSubF(p) => per_col(&mut acc, p, |s, v| sub(v, s)),
                // Quantisation ops reach an f32 kernel only as scalings, as in tract's own.
                FusedKerSpec::QScale(shift, policy, mult) => {
                    let s = Scaler::from_fuse_params(shift, policy, mult).scale;
                    each(&mut acc, |v| mul(splat(s), v))
                }
                FusedKerSpec::RoundingShiftRight(shift, _) => {
                    each(&mut acc, |v| mul(splat(2f32.powi(-(shift as i32))), v))
                }
                FusedKerSpec::ShiftLeft(shift) => {
                    each(&mut acc, |v| mul(splat(2f32.powi(shift as i32)), v))
                }
                FusedKerSpec::AddUnicast(tile) => add_unicast(&mut acc, &tile),
                FusedKerSpec::AddRowColProducts(rows, cols) => {
                    for (r, row) in acc.iter_mut().enumerate() {
                        let a = splat(*rows.add(r));
                        for (c, v) in row.iter_mut().enumerate() {
                            *v = add(*v, mul(a, load(cols.add(4 * c))));
                        }
                    }
                }
                FusedKerSpec::Store(tile) => store_tile(&acc, &tile),
                FusedKerSpec::AddMatMul { k, pa, pb, .. } => {
                    add_mat_mul(&mut acc, k, pa as *const f32, pb as *const f32)
                }
            }
            op = op.add(1);
        }
    }
    0
}

/// The inner loop: for each of the `k` steps, `4 * C` values of B in `C` vectors, `R` values
/// of A in `R / 4` vectors, each value broadcast by a shuffle, and `R * C` multiply-adds.
///
/// Shaped for Cranelift, which compiles it in the sandbox (see the figures in the README):
/// - wasmtime checks the epoch (deadlines, cancellation) at the head of every wasm loop, and
///   that check may call into the host, which clobbers every xmm register; so Cranelift
///   keeps what lives across a loop head (the accumulators) in stack slots, loaded and
///   stored once per turn. Hence [`UNROLL`] steps per turn.
/// - Cranelift places arithmetic just before its first use, after every load of its block;
///   steps written one after another would load all their A and B vectors first and spill
///   them. The exit test before each step uses the accumulators (they flow out of the loop
///   there), so each step's arithmetic is done before the next step's loads.
/// - A is loaded as vectors and broadcast with `i32x4.shuffle` (`pshufd`): a
///   `v128.load32_splat` became a load into a general register, a move and a broadcast.
/// - A broadcast's last use is a fused multiply-add (relaxed SIMD, `vfmadd` where the CPU
///   has FMA), its other uses a multiply and an add: Cranelift's `vfmadd` writes over a
///   factor, never the accumulator, so a factor used again is copied first, and with every
///   product fused those copies pushed accumulators onto the stack (measured on the 2-core
///   Intel VM, ms per frame: 177-181 all multiply + add, 166-172 all fused, 158-161 one
///   fused per broadcast; see [`step`]).
/// - Measured and worse (README, people counting): A packed with each value already in 4
///   lanes, so a step needs no shuffle: Cranelift loads the 4 rows before any arithmetic,
///   and with the copies its `vfmadd` needs, 2 accumulators go through the stack every step
///   (299-309 vs 250-277 ms on the AMD VM); one row per block, or one copy of A per use for
///   loads folded into `vfmadd`, did worse still (448-450 ms).
#[inline(always)]
unsafe fn add_mat_mul<const R: usize, const C: usize>(
    acc: &mut [[V; C]; R],
    k: usize,
    a: *const f32,
    b: *const f32,
) {
    const { assert!(R.is_multiple_of(4), "A is read in vectors of 4 rows") };
    let mut i = 0;
    'turns: loop {
        // `UNROLL` times: the exit test, then one step.
        macro_rules! steps {
            ($($n:literal)*) => {$(
                let _ = $n;
                if i == k {
                    break 'turns;
                }
                unsafe { step(acc, a.add(i * R), b.add(i * 4 * C)) };
                i += 1;
            )*};
        }
        const _: () = assert!(UNROLL == 32, "steps! below is given 32 literals");
        steps!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31);
    }
}

/// One k step: `acc += a (R values) x b (4 * C values)`. Each row's broadcast is used `C`
/// times; the last use, where it dies, is the fused one (see [`add_mat_mul`]).
#[inline(always)]
unsafe fn step<const R: usize, const C: usize>(
    acc: &mut [[V; C]; R],
    a: *const f32,
    b: *const f32,
) {
    use simd::*;
    let bs: [V; C] = std::array::from_fn(|c| unsafe { load(b.add(4 * c)) });
    for g in 0..R / 4 {
        let av = unsafe { load(a.add(4 * g)) };
        for lane in 0..4 {
            let ar = broadcast(av, lane);
            for c in 0..C {
                let v = &mut acc[4 * g + lane][c];
                *v = if c + 1 == C {
                    madd(ar, bs[c], *v)
                } else {
                    add(*v, mul(ar, bs[c]))
                };
            }
        }
    }
}

/// `v = f(v)` for every accumulator.
#[inline(always)]
fn each<const R: usize, const C: usize>(acc: &mut [[V; C]; R], f: impl Fn(V) -> V) {
    // Not `.flatten()`: LLVM then kept the accumulators in memory instead of registers.
    for row in acc.iter_mut() {
        for v in row.iter_mut() {
            *v = f(*v);
        }
    }
}

/// `v = f(splat(p[row]), v)`: one value per row of the tile, `R` of them at `p`.
#[inline(always)]
unsafe fn per_row<const R: usize, const C: usize>(
    acc: &mut [[V; C]; R],
    p: *const f32,
    f: impl Fn(V, V) -> V,
) {
    for (r, row) in acc.iter_mut().enumerate() {
        let s = simd::splat(unsafe { *p.add(r) });
        for v in row.iter_mut() {
            *v = f(s, *v);
        }
    }
}

/// `v = f(p[columns of v], v)`: one value per column of the tile, `4 * C` of them at `p`.
#[inline(always)]
unsafe fn per_col<const R: usize, const C: usize>(
    acc: &mut [[V; C]; R],
    p: *const f32,
    f: impl Fn(V, V) -> V,
) {
    let cols: [V; C] = std::array::from_fn(|c| unsafe { simd::load(p.add(4 * c)) });
    for row in acc.iter_mut() {
        for (v, col) in row.iter_mut().zip(cols) {
            *v = f(col, *v);
        }
    }
}

/// Address of the tile's element (`row`, `col`).
#[inline(always)]
unsafe fn at(tile: &OutputStoreKer, row: usize, col: usize) -> *mut f32 {
    unsafe {
        tile.ptr
            .offset(tile.row_byte_stride * row as isize + tile.col_byte_stride * col as isize)
            as *mut f32
    }
}

/// Adds an f32 tile of C (the output of another operation) to the accumulators.
#[inline(always)]
unsafe fn add_unicast<const R: usize, const C: usize>(
    acc: &mut [[V; C]; R],
    tile: &OutputStoreKer,
) {
    use simd::*;
    let contiguous = tile.col_byte_stride == 4;
    for (r, row) in acc.iter_mut().enumerate() {
        for (c, v) in row.iter_mut().enumerate() {
            let other = unsafe {
                if contiguous {
                    load(at(tile, r, 4 * c))
                } else {
                    from_lanes(std::array::from_fn(|j| *at(tile, r, 4 * c + j)))
                }
            };
            *v = add(*v, other);
        }
    }
}

/// Writes the tile to C. A row of the tile is one or more whole vectors when C's columns are
/// contiguous (the convolutions' case: C is `[channels, pixels]`), else lane by lane.
#[inline(always)]
unsafe fn store_tile<const R: usize, const C: usize>(acc: &[[V; C]; R], tile: &OutputStoreKer) {
    use simd::*;
    debug_assert_eq!(tile.item_size, 4, "this kernel stores f32 only");
    let contiguous = tile.col_byte_stride == 4;
    for (r, row) in acc.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            unsafe {
                if contiguous {
                    store(at(tile, r, 4 * c), *v);
                } else {
                    for (j, x) in lanes(*v).into_iter().enumerate() {
                        *at(tile, r, 4 * c + j) = x;
                    }
                }
            }
        }
    }
}

/// The few vector operations the kernel uses: wasm simd128 intrinsics in the component, a
/// portable `[f32; 4]` with the same meaning in native builds, where the unit tests run.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use std::arch::wasm32::*;

    /// Four f32 lanes.
    pub type V = v128;

    #[inline(always)]
    pub fn splat(x: f32) -> V {
        f32x4_splat(x)
    }
    /// Four f32 from `p` (no alignment needed).
    #[inline(always)]
    pub unsafe fn load(p: *const f32) -> V {
        unsafe { v128_load(p as *const v128) }
    }
    #[inline(always)]
    pub unsafe fn store(p: *mut f32, v: V) {
        unsafe { v128_store(p as *mut v128, v) }
    }
    /// Lane `lane` (0 to 3, a constant once inlined) in every lane.
    #[inline(always)]
    pub fn broadcast(v: V, lane: usize) -> V {
        match lane {
            0 => i32x4_shuffle::<0, 0, 0, 0>(v, v),
            1 => i32x4_shuffle::<1, 1, 1, 1>(v, v),
            2 => i32x4_shuffle::<2, 2, 2, 2>(v, v),
            _ => i32x4_shuffle::<3, 3, 3, 3>(v, v),
        }
    }
    #[inline(always)]
    pub fn lanes(v: V) -> [f32; 4] {
        [
            f32x4_extract_lane::<0>(v),
            f32x4_extract_lane::<1>(v),
            f32x4_extract_lane::<2>(v),
            f32x4_extract_lane::<3>(v),
        ]
    }
    #[inline(always)]
    pub fn from_lanes(x: [f32; 4]) -> V {
        f32x4(x[0], x[1], x[2], x[3])
    }
    #[inline(always)]
    pub fn add(a: V, b: V) -> V {
        f32x4_add(a, b)
    }
    #[inline(always)]
    pub fn sub(a: V, b: V) -> V {
        f32x4_sub(a, b)
    }
    #[inline(always)]
    pub fn mul(a: V, b: V) -> V {
        f32x4_mul(a, b)
    }
    /// `a * b + c`, fused (one rounding) where the CPU has FMA: relaxed SIMD leaves the
    /// choice to the engine, and wasmtime picks `vfmadd` on x86-64 with FMA.
    #[inline(always)]
    pub fn madd(a: V, b: V, c: V) -> V {
        f32x4_relaxed_madd(a, b, c)
    }
    #[inline(always)]
    pub fn min(a: V, b: V) -> V {
        f32x4_min(a, b)
    }
    #[inline(always)]
    pub fn max(a: V, b: V) -> V {
        f32x4_max(a, b)
    }
    /// `v` where `v > 0`, else `alpha * v`.
    #[inline(always)]
    pub fn leaky_relu(v: V, alpha: V) -> V {
        v128_bitselect(v, f32x4_mul(alpha, v), f32x4_gt(v, f32x4_splat(0.0)))
    }
}

/// See the wasm `simd` above: the same operations on `[f32; 4]`.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod simd {
    pub type V = [f32; 4];

    fn zip(a: V, b: V, f: impl Fn(f32, f32) -> f32) -> V {
        std::array::from_fn(|i| f(a[i], b[i]))
    }
    pub fn splat(x: f32) -> V {
        [x; 4]
    }
    pub unsafe fn load(p: *const f32) -> V {
        unsafe { (p as *const V).read_unaligned() }
    }
    pub fn broadcast(v: V, lane: usize) -> V {
        [v[lane]; 4]
    }
    pub unsafe fn store(p: *mut f32, v: V) {
        unsafe { (p as *mut V).write_unaligned(v) }
    }
    pub fn lanes(v: V) -> [f32; 4] {
        v
    }
    pub fn from_lanes(x: [f32; 4]) -> V {
        x
    }
    pub fn add(a: V, b: V) -> V {
        zip(a, b, |a, b| a + b)
    }
    pub fn sub(a: V, b: V) -> V {
        zip(a, b, |a, b| a - b)
    }
    pub fn mul(a: V, b: V) -> V {
        zip(a, b, |a, b| a * b)
    }
    pub fn madd(a: V, b: V, c: V) -> V {
        add(mul(a, b), c)
    }
    pub fn min(a: V, b: V) -> V {
        zip(a, b, f32::min)
    }
    pub fn max(a: V, b: V) -> V {
        zip(a, b, f32::max)
    }
    pub fn leaky_relu(v: V, alpha: V) -> V {
        zip(v, alpha, |v, a| if v > 0.0 { v } else { a * v })
    }
}

/// Registration with tract-linalg (component only): the kernel as an `MmmRoutine`, and a tier
/// above tract's wasm tier that names it for f32 GEMMs.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod registry {
    use super::{COLS, ROWS, kernel};
    use std::sync::LazyLock;
    use tract_onnx::prelude::DatumType;
    use tract_onnx::tract_core::tract_linalg::isa::{Arch, Isa, IsaReq, IsaSet};
    use tract_onnx::tract_core::tract_linalg::mmm::{DynKernel, Query, Suitable};
    use tract_onnx::tract_core::tract_linalg::mmm_routines::MmmRoutine;
    use tract_onnx::tract_core::tract_linalg::mmm_tiers::MmmTier;
    use tract_onnx::tract_core::tract_linalg::pack::Packing;

    /// Tile height and width (tract's `mr` and `nr`).
    const MR: usize = ROWS;
    const NR: usize = 4 * COLS;
    /// The kernel's name in tract's registry (and in its debug logs).
    const NAME: &str = "framepipe_wasm_f32_4x8";

    static KERNEL: LazyLock<DynKernel<MR, NR, f32>> = LazyLock::new(|| {
        let mut k = DynKernel::<MR, NR, f32>::new(
            NAME,
            kernel::<ROWS, COLS>,
            f32::packing(MR),
            f32::packing(NR),
        );
        k.arch = Some(Arch::Wasm32Simd128);
        k.with_isa(IsaReq::ANY.needing(&[Isa::Wasm32Simd128]))
    });

    inventory::submit! {
        MmmRoutine { make: || KERNEL.mmm() }
    }

    /// Every f32 matmul but the matrix-vector ones, which tract's tier sends to its GEMV
    /// kernels by height.
    fn preferred(
        _isa: &IsaSet,
        accumulator: DatumType,
        query: &Query,
        _suitable: &[Suitable],
    ) -> Option<&'static str> {
        (accumulator == DatumType::F32 && query.n != Some(1)).then_some(NAME)
    }

    inventory::submit! {
        MmmTier {
            arch: Some(Arch::Wasm32Simd128),
            precedence: 2,
            name: "framepipe-people-count",
            applies: |_| true,
            preferred,
        }
    }
}

#[cfg(test)]
mod tests;
