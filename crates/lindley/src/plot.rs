//! Plots as SVG text, drawn with `plotters`' SVG backend (no system fonts needed: text is written
//! as SVG `<text>` elements and rendered by the viewer).
//!
//! - [`pair_plot`]: corner plot of posterior samples — 1-D histograms on the diagonal, 2-D
//!   scatter below it — with optional reference samples in another colour and the true
//!   parameters marked;
//! - [`rank_histograms`]: SBC rank histograms (Talts et al. 2018) with the 99% band of a
//!   uniform histogram (binomial 0.5% and 99.5% quantiles per bin);
//! - [`coverage_plot`]: expected-coverage / TARP curves against the diagonal;
//! - [`lc2st_plot`]: the L-C2ST null distribution (histogram) with the observed statistic;
//! - [`training_curve`]: training and validation loss per epoch;
//! - [`design_trace_plot`]: MPR-GA restart paths over an EIG heat map (Klein et al. 2026, Fig. 1);
//! - [`eig_surface_plot`]: EIG over one design coordinate (curve) or two (heat map);
//! - [`sequential_plot`]: a sequential design run — design path, true parameters, final
//!   posterior particles, EIG and posterior spread per step.
//!
//! Each function returns the SVG document; [`save_svg`] writes it to a file.

use std::path::Path;

use ndarray::{ArrayView1, ArrayView2};
use plotters::prelude::*;

use crate::diagnostics::lc2st::Lc2stResult;
use crate::diagnostics::sbc::{CoverageResult, SbcResult};
use crate::train::TrainReport;
use crate::{Error, Result};

mod design;
pub use design::{PATH_COLOUR, design_trace_plot, eig_surface_plot, sequential_plot};

/// Colour of the samples being checked.
const SAMPLE_COLOUR: RGBColor = RGBColor(31, 119, 180);
/// Colour of reference samples.
const REFERENCE_COLOUR: RGBColor = RGBColor(255, 127, 14);
/// Colour of the true parameters.
const TRUTH_COLOUR: RGBColor = RGBColor(214, 39, 40);
/// Points drawn per sample set in a scatter panel (rows are thinned evenly beyond this).
const MAX_SCATTER_POINTS: usize = 2000;
/// Histogram bins on the diagonal of a pair plot.
const PAIR_BINS: usize = 30;
/// Side of one pair-plot panel in pixels.
const PANEL: u32 = 280;

/// Turns a plotters drawing error into [`Error::InvalidInput`] naming the plot.
fn drawing<E: std::fmt::Debug>(plot: &str) -> impl Fn(E) -> Error + '_ {
    move |error| Error::InvalidInput(format!("{plot}: drawing failed: {error:?}"))
}

/// Writes `svg` to `path`, creating missing parent folders.
pub fn save_svg(path: &Path, svg: &str) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    std::fs::write(path, svg).map_err(|e| Error::io(path, e))
}

/// Fails unless `values` has at least one row, `dim` columns and only finite entries.
fn check_sample(plot: &str, name: &str, values: ArrayView2<f64>, dim: usize) -> Result<()> {
    if values.nrows() == 0 {
        return Err(Error::InvalidInput(format!("{plot}: the {name} have no rows")));
    }
    if values.ncols() != dim {
        return Err(Error::shape(format!("{plot}: {name}"), format!("{dim} columns"), format!("{}", values.ncols())));
    }
    match values.indexed_iter().find(|(_, v)| !v.is_finite()) {
        Some(((row, col), v)) => Err(Error::InvalidInput(format!("{plot}: {name} row {row} column {col} is {v}"))),
        None => Ok(()),
    }
}

/// The `q`-quantile (0 ≤ q ≤ 1) of `values` (nearest rank).
fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * q).round() as usize]
}

/// Evenly spaced row indices, at most `limit` of `rows`.
fn thinned(rows: usize, limit: usize) -> impl Iterator<Item = usize> {
    let kept = rows.min(limit);
    (0..kept).map(move |k| k * rows / kept)
}

/// Corner plot of `samples` (`[n, D]`, column d named `names[d]`): density histograms on the
/// diagonal, scatter plots below it (row i against column j < i). `reference` samples (same
/// columns) are overlaid in orange, `truth` (D values) is marked in red. Axis ranges cover the
/// 0.5%–99.5% quantiles of all samples and the truth.
pub fn pair_plot(
    samples: ArrayView2<f64>,
    reference: Option<ArrayView2<f64>>,
    truth: Option<ArrayView1<f64>>,
    names: &[String],
) -> Result<String> {
    const PLOT: &str = "pair plot";
    let dim = names.len();
    if dim == 0 {
        return Err(Error::InvalidInput(format!("{PLOT}: no parameter names (need one per column)")));
    }
    check_sample(PLOT, "samples", samples, dim)?;
    if let Some(reference) = reference {
        check_sample(PLOT, "reference samples", reference, dim)?;
    }
    if let Some(truth) = truth {
        check_sample(PLOT, "true parameters", truth.insert_axis(ndarray::Axis(0)), dim)?;
    }
    let ranges: Vec<(f64, f64)> = (0..dim)
        .map(|d| {
            let mut values: Vec<f64> = samples.column(d).to_vec();
            if let Some(reference) = reference {
                values.extend(reference.column(d).iter());
            }
            let (mut low, mut high) = (quantile(&mut values, 0.005), quantile(&mut values, 0.995));
            if let Some(truth) = truth {
                (low, high) = (low.min(truth[d]), high.max(truth[d]));
            }
            let pad = 0.05 * (high - low).max(1e-9 * (1.0 + low.abs()));
            (low - pad, high + pad)
        })
        .collect();
    let side = PANEL * dim as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (side, side + 30)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing(PLOT))?;
        let legend = match (reference.is_some(), truth.is_some()) {
            (true, true) => "blue: samples, orange: reference, red: true parameters",
            (true, false) => "blue: samples, orange: reference",
            (false, true) => "blue: samples, red: true parameters",
            (false, false) => "posterior samples",
        };
        let root = root.titled(legend, ("sans-serif", 16)).map_err(drawing(PLOT))?;
        let panels = root.split_evenly((dim, dim));
        for (index, panel) in panels.iter().enumerate() {
            let (row, col) = (index / dim, index % dim);
            if col > row {
                continue;
            }
            let (x_low, x_high) = ranges[col];
            let x_desc = if row == dim - 1 { names[col].as_str() } else { "" };
            if row == col {
                let histogram = |values: ArrayView1<f64>| density_histogram(values, x_low, x_high, PAIR_BINS);
                let own = histogram(samples.column(col));
                let other = reference.map(|r| histogram(r.column(col)));
                let peak = own.iter().chain(other.iter().flatten()).fold(0.0f64, |a, &b| a.max(b)).max(1e-12);
                let mut chart = ChartBuilder::on(panel)
                    .margin(6)
                    .x_label_area_size(35)
                    .y_label_area_size(45)
                    .build_cartesian_2d(x_low..x_high, 0.0..peak * 1.1)
                    .map_err(drawing(PLOT))?;
                let y_desc = if col == 0 { "density" } else { "" };
                chart
                    .configure_mesh()
                    .disable_mesh()
                    .x_labels(4)
                    .y_labels(3)
                    .x_desc(x_desc)
                    .y_desc(y_desc)
                    .label_style(("sans-serif", 10))
                    .draw()
                    .map_err(drawing(PLOT))?;
                let width = (x_high - x_low) / PAIR_BINS as f64;
                chart
                    .draw_series(own.iter().enumerate().map(|(b, &h)| {
                        let left = x_low + b as f64 * width;
                        Rectangle::new([(left, 0.0), (left + width, h)], SAMPLE_COLOUR.mix(0.5).filled())
                    }))
                    .map_err(drawing(PLOT))?;
                if let Some(other) = other {
                    let steps = other.iter().enumerate().flat_map(|(b, &h)| {
                        let left = x_low + b as f64 * width;
                        [(left, h), (left + width, h)]
                    });
                    chart
                        .draw_series(LineSeries::new(steps, REFERENCE_COLOUR.stroke_width(2)))
                        .map_err(drawing(PLOT))?;
                }
                if let Some(truth) = truth {
                    let line = [(truth[col], 0.0), (truth[col], peak * 1.1)];
                    chart.draw_series(LineSeries::new(line, TRUTH_COLOUR.stroke_width(2))).map_err(drawing(PLOT))?;
                }
            } else {
                let (y_low, y_high) = ranges[row];
                let mut chart = ChartBuilder::on(panel)
                    .margin(6)
                    .x_label_area_size(35)
                    .y_label_area_size(45)
                    .build_cartesian_2d(x_low..x_high, y_low..y_high)
                    .map_err(drawing(PLOT))?;
                let y_desc = if col == 0 { names[row].as_str() } else { "" };
                chart
                    .configure_mesh()
                    .disable_mesh()
                    .x_labels(4)
                    .y_labels(4)
                    .x_desc(x_desc)
                    .y_desc(y_desc)
                    .label_style(("sans-serif", 10))
                    .draw()
                    .map_err(drawing(PLOT))?;
                let inside = |x: f64, y: f64| (x_low..=x_high).contains(&x) && (y_low..=y_high).contains(&y);
                let sets = reference.iter().map(|r| (*r, REFERENCE_COLOUR)).chain([(samples, SAMPLE_COLOUR)]);
                for (set, colour) in sets {
                    let points = thinned(set.nrows(), MAX_SCATTER_POINTS)
                        .map(|i| (set[[i, col]], set[[i, row]]))
                        .filter(|&(x, y)| inside(x, y));
                    chart
                        .draw_series(points.map(|p| Circle::new(p, 1, colour.mix(0.35).filled())))
                        .map_err(drawing(PLOT))?;
                }
                if let Some(truth) = truth {
                    let mark = Cross::new((truth[col], truth[row]), 6, TRUTH_COLOUR.stroke_width(3));
                    chart.draw_series(std::iter::once(mark)).map_err(drawing(PLOT))?;
                }
            }
        }
        root.present().map_err(drawing(PLOT))?;
    }
    Ok(svg)
}

/// Density-normalised histogram of `values` on `bins` equal bins of [low, high] (values outside
/// are left out of the counts but not of the normalisation).
fn density_histogram(values: ArrayView1<f64>, low: f64, high: f64, bins: usize) -> Vec<f64> {
    let width = (high - low) / bins as f64;
    let mut counts = vec![0.0; bins];
    for &v in values {
        let b = ((v - low) / width).floor();
        if b >= 0.0 && (b as usize) < bins {
            counts[b as usize] += 1.0;
        }
    }
    let norm = values.len() as f64 * width;
    counts.iter().map(|c| c / norm).collect()
}

/// The smallest k with P(K ≤ k) ≥ q for K ~ Binomial(n, p).
fn binomial_quantile(n: usize, p: f64, q: f64) -> usize {
    if p <= 0.0 {
        return 0;
    }
    if p >= 1.0 {
        return n;
    }
    let nf = n as f64;
    let log_choose = |k: f64| libm::lgamma(nf + 1.0) - libm::lgamma(k + 1.0) - libm::lgamma(nf - k + 1.0);
    let mut cumulative = 0.0;
    for k in 0..=n {
        let kf = k as f64;
        cumulative += (log_choose(kf) + kf * p.ln() + (nf - kf) * (1.0 - p).ln()).exp();
        if cumulative >= q {
            return k;
        }
    }
    n
}

/// SBC rank histograms, one panel per dimension (named by `names`), with at most 20 bins over
/// the ranks 0..=L (bins differ by at most one rank when 20 does not divide L + 1), the expected
/// count under uniformity (black line) and its 99% band (binomial 0.5% and 99.5% quantiles per
/// bin) in grey, and the dimension's KS p-value in the panel title.
pub fn rank_histograms(result: &SbcResult, names: &[String]) -> Result<String> {
    const PLOT: &str = "rank histogram";
    let (n, dim) = result.ranks.dim();
    if n == 0 || dim == 0 {
        return Err(Error::InvalidInput(format!("{PLOT}: no ranks ({n} simulations × {dim} dimensions)")));
    }
    if names.len() != dim {
        return Err(Error::shape(PLOT, format!("{dim} parameter names"), format!("{}", names.len())));
    }
    let l = result.posterior_samples;
    if let Some(((row, col), r)) = result.ranks.indexed_iter().find(|(_, r)| **r > l) {
        return Err(Error::InvalidInput(format!("{PLOT}: rank {r} at row {row} column {col} exceeds L = {l}")));
    }
    let bins = (l + 1).min(20);
    let bin_of = |r: usize| r * bins / (l + 1);
    let mut sizes = vec![0usize; bins];
    for r in 0..=l {
        sizes[bin_of(r)] += 1;
    }
    let bands: Vec<(f64, f64, f64)> = sizes
        .iter()
        .map(|&size| {
            let p = size as f64 / (l + 1) as f64;
            (binomial_quantile(n, p, 0.005) as f64, n as f64 * p, binomial_quantile(n, p, 0.995) as f64)
        })
        .collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (300 * dim as u32, 280)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing(PLOT))?;
        for (d, panel) in root.split_evenly((1, dim)).iter().enumerate() {
            let mut counts = vec![0usize; bins];
            for &r in result.ranks.column(d) {
                counts[bin_of(r)] += 1;
            }
            let top = counts.iter().map(|&c| c as f64).chain(bands.iter().map(|b| b.2)).fold(1.0f64, f64::max);
            let caption = match result.ks_pvalues.get(d) {
                Some(p) => format!("{}  (KS p = {p:.3})", names[d]),
                None => names[d].clone(),
            };
            let mut chart = ChartBuilder::on(panel)
                .margin(8)
                .caption(caption, ("sans-serif", 14))
                .x_label_area_size(35)
                .y_label_area_size(45)
                .build_cartesian_2d(0.0..(l + 1) as f64, 0.0..top * 1.1)
                .map_err(drawing(PLOT))?;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_desc("rank")
                .y_desc("count")
                .x_label_formatter(&|rank| format!("{rank:.0}"))
                .y_label_formatter(&|count| format!("{count:.0}"))
                .label_style(("sans-serif", 10))
                .draw()
                .map_err(drawing(PLOT))?;
            let mut left = 0.0;
            let mut edges = Vec::with_capacity(bins);
            for &size in &sizes {
                edges.push((left, left + size as f64));
                left += size as f64;
            }
            chart
                .draw_series(edges.iter().zip(&bands).map(|(&(a, b), &(low, _, high))| {
                    Rectangle::new([(a, low), (b, high)], RGBColor(200, 200, 200).mix(0.6).filled())
                }))
                .map_err(drawing(PLOT))?;
            // Opaque bars, narrower than their bins so that the band shows between them.
            chart
                .draw_series(edges.iter().zip(&counts).map(|(&(a, b), &c)| {
                    let inset = 0.15 * (b - a);
                    Rectangle::new([(a + inset, 0.0), (b - inset, c as f64)], SAMPLE_COLOUR.filled())
                }))
                .map_err(drawing(PLOT))?;
            let expected = edges.iter().zip(&bands).flat_map(|(&(a, b), &(_, mean, _))| [(a, mean), (b, mean)]);
            chart.draw_series(LineSeries::new(expected, BLACK.stroke_width(1))).map_err(drawing(PLOT))?;
        }
        root.present().map_err(drawing(PLOT))?;
    }
    Ok(svg)
}

/// Empirical coverage curves (`(label, curve)` pairs, e.g. HPD expected coverage and TARP)
/// against the dashed diagonal of a calibrated posterior; each legend entry shows the curve's
/// area to curve (ATC) and KS p-value.
pub fn coverage_plot(curves: &[(&str, &CoverageResult)]) -> Result<String> {
    const PLOT: &str = "coverage plot";
    if curves.is_empty() {
        return Err(Error::InvalidInput(format!("{PLOT}: no coverage curves")));
    }
    for (label, curve) in curves {
        if curve.levels.len() < 2 || curve.levels.len() != curve.coverage.len() {
            return Err(Error::InvalidInput(format!("{PLOT}: curve {label} has mismatched or too few levels")));
        }
        if curve.levels.iter().chain(&curve.coverage).any(|v| !v.is_finite()) {
            return Err(Error::InvalidInput(format!("{PLOT}: curve {label} has a NaN or infinite value")));
        }
    }
    let palette = [SAMPLE_COLOUR, REFERENCE_COLOUR, RGBColor(44, 160, 44), RGBColor(148, 103, 189)];
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (480, 440)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing(PLOT))?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .caption("expected coverage", ("sans-serif", 16))
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..1.0, 0.0..1.0)
            .map_err(drawing(PLOT))?;
        chart
            .configure_mesh()
            .x_desc("credibility level")
            .y_desc("empirical coverage")
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(drawing(PLOT))?;
        chart
            .draw_series(DashedLineSeries::new([(0.0, 0.0), (1.0, 1.0)], 6, 4, BLACK.mix(0.6).stroke_width(1)))
            .map_err(drawing(PLOT))?
            .label("calibrated")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.6)));
        for (index, (label, curve)) in curves.iter().enumerate() {
            let colour = palette[index % palette.len()];
            let points = curve.levels.iter().copied().zip(curve.coverage.iter().copied());
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                .map_err(drawing(PLOT))?
                .label(format!("{label} (ATC {:+.3}, KS p {:.3})", curve.atc, curve.ks_pvalue))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 11))
            .draw()
            .map_err(drawing(PLOT))?;
        root.present().map_err(drawing(PLOT))?;
    }
    Ok(svg)
}

/// Histogram of the L-C2ST statistics under the null hypothesis (one per null classifier) with
/// the observed statistic as a red vertical line and the p-value in the title (Linhart et al.
/// 2023, fig. 2 style).
pub fn lc2st_plot(result: &Lc2stResult) -> Result<String> {
    const PLOT: &str = "L-C2ST plot";
    if result.null_statistics.is_empty() {
        return Err(Error::InvalidInput(format!("{PLOT}: no null statistics (null_trials = 0)")));
    }
    if !result.statistic.is_finite() || result.null_statistics.iter().any(|v| !v.is_finite()) {
        return Err(Error::InvalidInput(format!("{PLOT}: a statistic is NaN or infinite")));
    }
    let top = result.null_statistics.iter().copied().fold(result.statistic, f64::max);
    let right = if top > 0.0 { top * 1.1 } else { 1e-6 };
    let bins = result.null_statistics.len().clamp(5, 30);
    let width = right / bins as f64;
    let mut counts = vec![0usize; bins];
    for &t in &result.null_statistics {
        counts[((t / width) as usize).min(bins - 1)] += 1;
    }
    let highest = *counts.iter().max().expect("bins ≥ 5") as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (520, 380)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing(PLOT))?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .caption(format!("L-C2ST: T = {:.3e}, p = {:.3}", result.statistic, result.p_value), ("sans-serif", 16))
            .x_label_area_size(40)
            .y_label_area_size(45)
            .build_cartesian_2d(0.0..right, 0.0..highest * 1.15)
            .map_err(drawing(PLOT))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("statistic (mean squared distance of d from 1/2)")
            .y_desc("null classifiers")
            .x_label_formatter(&|v| format!("{v:.1e}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style(("sans-serif", 10))
            .draw()
            .map_err(drawing(PLOT))?;
        chart
            .draw_series(counts.iter().enumerate().map(|(k, &c)| {
                let a = k as f64 * width;
                Rectangle::new([(a + 0.05 * width, 0.0), (a + 0.95 * width, c as f64)], SAMPLE_COLOUR.mix(0.8).filled())
            }))
            .map_err(drawing(PLOT))?
            .label("under the null hypothesis")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], SAMPLE_COLOUR.mix(0.8).filled()));
        chart
            .draw_series(LineSeries::new(
                [(result.statistic, 0.0), (result.statistic, highest * 1.15)],
                TRUTH_COLOUR.stroke_width(2),
            ))
            .map_err(drawing(PLOT))?
            .label("observed")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], TRUTH_COLOUR.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 11))
            .draw()
            .map_err(drawing(PLOT))?;
        root.present().map_err(drawing(PLOT))?;
    }
    Ok(svg)
}

/// Training and validation loss per epoch from a [`TrainReport`], with the kept (best) epoch
/// marked by a dashed vertical line.
pub fn training_curve(report: &TrainReport) -> Result<String> {
    const PLOT: &str = "training curve";
    let epochs = report.train_loss.len();
    if epochs == 0 {
        return Err(Error::InvalidInput(format!("{PLOT}: the report has no epochs")));
    }
    if report.validation_loss.len() != epochs {
        return Err(Error::shape(
            PLOT,
            format!("{epochs} validation losses (one per epoch)"),
            format!("{}", report.validation_loss.len()),
        ));
    }
    let losses = report.train_loss.iter().chain(&report.validation_loss);
    if let Some(position) = losses.clone().position(|v| !v.is_finite()) {
        let (which, epoch) = if position < epochs { ("training", position) } else { ("validation", position - epochs) };
        return Err(Error::InvalidInput(format!("{PLOT}: {which} loss of epoch {} is not finite", epoch + 1)));
    }
    let (low, high) = losses.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let pad = 0.05 * (high - low).max(1e-9);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 400)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing(PLOT))?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .caption("training curve", ("sans-serif", 16))
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(1.0..(epochs.max(2)) as f64, (low - pad)..(high + pad))
            .map_err(drawing(PLOT))?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("loss")
            .x_label_formatter(&|epoch| format!("{epoch:.0}"))
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(drawing(PLOT))?;
        for (label, values, colour) in [
            ("training loss", &report.train_loss, SAMPLE_COLOUR),
            ("validation loss", &report.validation_loss, REFERENCE_COLOUR),
        ] {
            let points = values.iter().enumerate().map(|(e, &v)| ((e + 1) as f64, v));
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                .map_err(drawing(PLOT))?
                .label(label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
        }
        if (1..=epochs).contains(&report.best_epoch) {
            let best = report.best_epoch as f64;
            chart
                .draw_series(DashedLineSeries::new(
                    [(best, low - pad), (best, high + pad)],
                    5,
                    4,
                    BLACK.mix(0.5).stroke_width(1),
                ))
                .map_err(drawing(PLOT))?
                .label(format!("kept epoch {}", report.best_epoch))
                .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.5)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 11))
            .draw()
            .map_err(drawing(PLOT))?;
        root.present().map_err(drawing(PLOT))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests;
