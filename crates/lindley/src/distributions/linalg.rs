//! Small dense linear algebra on `ndarray` for covariance matrices: Cholesky factorisation,
//! triangular solves, log-determinants and inverses of symmetric positive-definite matrices.
//!
//! Sizes here are those of parameter vectors (tens), so plain O(D³) loops are used.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

/// Lower-triangular L with A = LLᵀ (Cholesky–Banachiewicz, row by row), reading only the lower
/// triangle of `a`. `Err(k)` if the k-th pivot is not positive and finite (A not positive
/// definite), or if `a` is not square (k = 0).
pub(crate) fn cholesky(a: ArrayView2<f64>) -> Result<Array2<f64>, usize> {
    let n = a.nrows();
    if a.ncols() != n {
        return Err(0);
    }
    let mut l = Array2::<f64>::zeros((n, n));
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[[i, j]];
            for k in 0..j {
                s -= l[[i, k]] * l[[j, k]];
            }
            if i == j {
                if !(s > 0.0 && s.is_finite()) {
                    return Err(i);
                }
                l[[i, i]] = s.sqrt();
            } else {
                l[[i, j]] = s / l[[j, j]];
            }
        }
    }
    Ok(l)
}

/// x with Lx = b, by forward substitution (L lower triangular with non-zero diagonal).
pub(crate) fn solve_lower(l: ArrayView2<f64>, b: ArrayView1<f64>) -> Array1<f64> {
    let n = b.len();
    let mut x = Array1::<f64>::zeros(n);
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= l[[i, k]] * x[k];
        }
        x[i] = s / l[[i, i]];
    }
    x
}

/// x with Lᵀx = b, by back substitution (L lower triangular with non-zero diagonal).
pub(crate) fn solve_lower_transposed(l: ArrayView2<f64>, b: ArrayView1<f64>) -> Array1<f64> {
    let n = b.len();
    let mut x = Array1::<f64>::zeros(n);
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= l[[k, i]] * x[k];
        }
        x[i] = s / l[[i, i]];
    }
    x
}

/// log det A = 2 Σᵢ log Lᵢᵢ from the Cholesky factor of A.
pub(crate) fn log_det_from_cholesky(l: ArrayView2<f64>) -> f64 {
    2.0 * l.diag().iter().map(|d| d.ln()).sum::<f64>()
}

/// A⁻¹ from the Cholesky factor L of A: column j solves LLᵀx = eⱼ. The result is made exactly
/// symmetric by averaging it with its transpose.
pub(crate) fn inverse_from_cholesky(l: ArrayView2<f64>) -> Array2<f64> {
    let n = l.nrows();
    let mut inv = Array2::<f64>::zeros((n, n));
    for j in 0..n {
        let mut e = Array1::<f64>::zeros(n);
        e[j] = 1.0;
        let y = solve_lower(l, e.view());
        let x = solve_lower_transposed(l, y.view());
        inv.column_mut(j).assign(&x);
    }
    (&inv + &inv.t()) * 0.5
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_reproduces_the_matrix_and_rejects_indefinite_ones() {
        let a = ndarray::array![[4.0, 2.0, 0.4], [2.0, 5.0, 1.0], [0.4, 1.0, 3.0]];
        let l = cholesky(a.view()).unwrap();
        assert!((l.dot(&l.t()) - &a).iter().all(|v| v.abs() < 1e-12));
        assert_eq!(l[[0, 1]], 0.0);
        let inverse = inverse_from_cholesky(l.view());
        assert!((inverse.dot(&a) - Array2::<f64>::eye(3)).iter().all(|v| v.abs() < 1e-12));
        assert_eq!(cholesky(ndarray::array![[1.0, 2.0], [2.0, 1.0]].view()), Err(1));
        assert_eq!(cholesky(ndarray::array![[f64::INFINITY]].view()), Err(0));
    }
}
