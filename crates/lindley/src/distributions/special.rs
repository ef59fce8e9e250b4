//! Special functions needed by the densities.

use std::f64::consts::PI;

/// g of the Lanczos approximation used by [`ln_gamma`].
const LANCZOS_G: f64 = 7.0;

/// Coefficients of the Lanczos series for g = 7, n = 9 (Lanczos 1964; the values tabulated by
/// Godfrey, as given e.g. in Press et al., *Numerical Recipes*, and on Wikipedia).
const LANCZOS_COEF: [f64; 9] = [
    0.999_999_999_999_809_9,
    676.520_368_121_885_1,
    -1_259.139_216_722_402_8,
    771.323_428_777_653_1,
    -176.615_029_162_140_6,
    12.507_343_278_686_905,
    -0.138_571_095_265_720_12,
    9.984_369_578_019_572e-6,
    1.505_632_735_149_311_6e-7,
];

/// ln |Γ(x)|, by the Lanczos approximation (g = 7, 9 terms) for x ≥ 1/2 and the reflection
/// formula Γ(x)Γ(1 − x) = π / sin(πx) below; relative error about 1e-15 away from the zeros of
/// ln Γ at 1 and 2 (absolute error about 1e-15 near them). +∞ at the poles x = 0, −1, −2, …;
/// NaN for NaN; +∞ for +∞.
pub fn ln_gamma(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x == f64::INFINITY {
        return f64::INFINITY;
    }
    if x < 0.5 {
        if x == x.floor() {
            return f64::INFINITY;
        }
        // sin(πx) is evaluated on x reduced to [−1, 1] to keep its argument accurate.
        let s = (PI * (x - 2.0 * (x / 2.0).round())).sin().abs();
        return PI.ln() - s.ln() - ln_gamma(1.0 - x);
    }
    let z = x - 1.0;
    let mut a = LANCZOS_COEF[0];
    for (i, &c) in LANCZOS_COEF.iter().enumerate().skip(1) {
        a += c / (z + i as f64);
    }
    let t = z + LANCZOS_G + 0.5;
    0.5 * (2.0 * PI).ln() + (z + 0.5) * t.ln() - t + a.ln()
}
