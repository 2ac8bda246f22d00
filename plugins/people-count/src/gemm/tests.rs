//! The kernel against plain arithmetic, natively (through the portable `simd`): every
//! `FusedKerSpec` operation, the matmul itself, both store layouts, on the registered tile
//! and on another shape (8x12) so that no index silently assumes 4x8. Sums are taken in the same
//! order as the kernel's, so results are compared exactly.

use super::{COLS, ROWS, kernel};
use tract_onnx::tract_core::tract_linalg::mmm::{FusedKerSpec, OutputStoreKer, RoundingPolicy};

/// Deterministic values of both signs, a few of them zero.
fn values(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919 + seed * 104_729) % 101) as f32 / 8.0 - 6.0)
        .collect()
}

/// A tile of `rows` x `cols`, row-major, as the kernel and the reference see it.
struct Tile<const R: usize, const C: usize> {
    k: usize,
    /// Packed `[k][R]`.
    a: Vec<f32>,
    /// Packed `[k][4 * C]`.
    b: Vec<f32>,
}

impl<const R: usize, const C: usize> Tile<R, C> {
    const N: usize = 4 * C;

    fn new(k: usize) -> Self {
        Tile {
            k,
            a: values(k * R, 1),
            b: values(k * Self::N, 2),
        }
    }

    /// A x B, summed in k order as the kernel does.
    fn product(&self) -> Vec<f32> {
        let mut c = vec![0f32; R * Self::N];
        for i in 0..self.k {
            for r in 0..R {
                for j in 0..Self::N {
                    c[r * Self::N + j] += self.a[i * R + r] * self.b[i * Self::N + j];
                }
            }
        }
        c
    }

    fn add_mat_mul(&self) -> FusedKerSpec<f32> {
        FusedKerSpec::AddMatMul {
            k: self.k,
            pa: self.a.as_ptr() as *const u8,
            pb: self.b.as_ptr() as *const u8,
            packing: 0,
        }
    }

    /// Runs `ops` then a store into a row-major buffer, and returns the buffer.
    fn run(&self, ops: &[FusedKerSpec<f32>]) -> Vec<f32> {
        let mut out = vec![f32::NAN; R * Self::N];
        let store = store(&mut out, 4 * Self::N as isize, 4);
        let mut all = ops.to_vec();
        all.extend([FusedKerSpec::Store(store), FusedKerSpec::Done]);
        assert_eq!(unsafe { kernel::<R, C>(&all) }, 0);
        out
    }

    /// Checks `ops` (after a clear and the matmul) against `f(row, col, product)`.
    fn check(&self, name: &str, ops: &[FusedKerSpec<f32>], f: impl Fn(usize, usize, f32) -> f32) {
        let mut all = vec![FusedKerSpec::Clear, self.add_mat_mul()];
        all.extend_from_slice(ops);
        let got = self.run(&all);
        let product = self.product();
        let want: Vec<f32> = (0..R * Self::N)
            .map(|i| f(i / Self::N, i % Self::N, product[i]))
            .collect();
        assert_eq!(got, want, "{name} on a {R}x{} tile", Self::N);
    }
}

fn store(buf: &mut [f32], row_byte_stride: isize, col_byte_stride: isize) -> OutputStoreKer {
    OutputStoreKer {
        ptr: buf.as_mut_ptr() as *mut u8,
        row_byte_stride,
        col_byte_stride,
        item_size: 4,
    }
}

fn every_operation<const R: usize, const C: usize>() {
    let n = 4 * C;
    // Within a turn of the inner loop, whole turns, and turns plus a part.
    for k in [0, 1, 7, 64, 70] {
        Tile::<R, C>::new(k).check("matmul", &[], |_, _, p| p);
    }
    let t = Tile::<R, C>::new(13);
    let s = 1.5f32;
    let rows = values(R, 3);
    let cols = values(n, 4);
    let (pr, pc) = (rows.as_ptr(), cols.as_ptr());
    // Each operation with its scalar, per-row and per-column forms.
    type Op = fn(f32, f32) -> f32;
    let ops: [(&str, Op, [FusedKerSpec<f32>; 3]); 6] = [
        (
            "min",
            |m, x| m.min(x),
            [
                FusedKerSpec::ScalarMin(s),
                FusedKerSpec::PerRowMin(pr),
                FusedKerSpec::PerColMin(pc),
            ],
        ),
        (
            "max",
            |m, x| m.max(x),
            [
                FusedKerSpec::ScalarMax(s),
                FusedKerSpec::PerRowMax(pr),
                FusedKerSpec::PerColMax(pc),
            ],
        ),
        (
            "add",
            |m, x| m + x,
            [
                FusedKerSpec::ScalarAdd(s),
                FusedKerSpec::PerRowAdd(pr),
                FusedKerSpec::PerColAdd(pc),
            ],
        ),
        (
            "mul",
            |m, x| m * x,
            [
                FusedKerSpec::ScalarMul(s),
                FusedKerSpec::PerRowMul(pr),
                FusedKerSpec::PerColMul(pc),
            ],
        ),
        (
            "sub",
            |m, x| m - x,
            [
                FusedKerSpec::ScalarSub(s),
                FusedKerSpec::PerRowSub(pr),
                FusedKerSpec::PerColSub(pc),
            ],
        ),
        (
            "sub flipped",
            |m, x| x - m,
            [
                FusedKerSpec::ScalarSubF(s),
                FusedKerSpec::PerRowSubF(pr),
                FusedKerSpec::PerColSubF(pc),
            ],
        ),
    ];
    for (name, f, [scalar, per_row, per_col]) in ops {
        t.check(&format!("scalar {name}"), &[scalar], |_, _, x| f(s, x));
        t.check(&format!("per-row {name}"), &[per_row], |r, _, x| {
            f(rows[r], x)
        });
        t.check(&format!("per-col {name}"), &[per_col], |_, c, x| {
            f(cols[c], x)
        });
    }
    t.check("leaky relu", &[FusedKerSpec::LeakyRelu(0.1)], |_, _, x| {
        if x > 0.0 { x } else { 0.1 * x }
    });
    t.check(
        "row-col products",
        &[FusedKerSpec::AddRowColProducts(pr, pc)],
        |r, c, x| x + rows[r] * cols[c],
    );
    let policy = RoundingPolicy::Even;
    t.check("shift left", &[FusedKerSpec::ShiftLeft(3)], |_, _, x| {
        x * 8.0
    });
    t.check(
        "rounding shift right",
        &[FusedKerSpec::RoundingShiftRight(2, policy)],
        |_, _, x| x * 0.25,
    );
    // mult 2^30 with shift 0 is a scale of 2^30 x 2^-31 = 0.5.
    t.check(
        "q scale",
        &[FusedKerSpec::QScale(0, policy, 1 << 30)],
        |_, _, x| x * 0.5,
    );

    // Another tile, row-major and column-major (contiguous and strided paths).
    let other = values(R * n, 5);
    let mut row_major = other.clone();
    let mut col_major: Vec<f32> = (0..R * n).map(|i| other[(i % R) * n + i / R]).collect();
    for (name, tile) in [
        ("row-major", store(&mut row_major, 4 * n as isize, 4)),
        ("column-major", store(&mut col_major, 4, 4 * R as isize)),
    ] {
        t.check(
            &format!("add unicast {name}"),
            &[FusedKerSpec::AddUnicast(tile)],
            |r, c, x| x + other[r * n + c],
        );
    }
    // Load a tile (it replaces the accumulators), then clear.
    let load = FusedKerSpec::LoadTile(col_major.as_ptr(), other.as_ptr());
    assert_eq!(t.run(&[load]), other, "load tile");
    assert_eq!(
        t.run(&[load, FusedKerSpec::Clear]),
        vec![0.0; R * n],
        "clear"
    );
}

fn stores<const R: usize, const C: usize>() {
    let n = 4 * C;
    let t = Tile::<R, C>::new(9);
    let want = t.product();
    // Column-major: row stride one f32, column stride a whole column.
    let mut col_major = vec![f32::NAN; R * n];
    let ops = [
        FusedKerSpec::Clear,
        t.add_mat_mul(),
        FusedKerSpec::Store(store(&mut col_major, 4, 4 * R as isize)),
        FusedKerSpec::Done,
    ];
    unsafe { kernel::<R, C>(&ops) };
    for r in 0..R {
        for c in 0..n {
            assert_eq!(
                col_major[c * R + r],
                want[r * n + c],
                "column-major ({r}, {c})"
            );
        }
    }
    // Every third column of a wider buffer; the others must stay untouched.
    let mut sparse = vec![f32::NAN; R * n * 3];
    let ops = [
        FusedKerSpec::Clear,
        t.add_mat_mul(),
        FusedKerSpec::Store(store(&mut sparse, 4 * 3 * n as isize, 12)),
        FusedKerSpec::Done,
    ];
    unsafe { kernel::<R, C>(&ops) };
    for (i, x) in sparse.iter().enumerate() {
        if i % 3 == 0 {
            assert_eq!(*x, want[i / 3], "strided store {i}");
        } else {
            assert!(x.is_nan(), "strided store wrote {i}");
        }
    }
    // Operations after `Done` are not run.
    let mut out = vec![f32::NAN; R * n];
    let ops = [
        FusedKerSpec::Clear,
        FusedKerSpec::Done,
        FusedKerSpec::Store(store(&mut out, 4 * n as isize, 4)),
    ];
    unsafe { kernel::<R, C>(&ops) };
    assert!(out.iter().all(|x| x.is_nan()), "ran past Done");
}

#[test]
fn every_operation_on_the_registered_tile() {
    every_operation::<ROWS, COLS>();
}

#[test]
fn every_operation_on_another_tile() {
    every_operation::<8, 3>();
}

#[test]
fn stores_in_every_layout() {
    stores::<ROWS, COLS>();
    stores::<8, 3>();
}
