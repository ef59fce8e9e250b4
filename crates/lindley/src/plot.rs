//! Plots as SVG or PNG, drawn with `plotters`: each plot is one drawing routine, generic over the
//! backend, run on the SVG backend ([`Figure::svg`]) or on an RGB bitmap that is encoded as PNG
//! ([`Figure::png`]); [`Figure::save`] picks the format from the file's extension. Text is laid
//! out (and, in PNGs, rasterised) with a built-in subset of DejaVu Sans, so no system fonts are
//! needed.
//!
//! - [`pair_plot`]: corner plot of posterior samples — 1-D histograms on the diagonal, 2-D
//!   scatter below it — with optional reference samples in another colour and the true
//!   parameters marked;
//! - [`rank_histograms`]: SBC rank histograms (Talts et al. 2018) with the 99% band of a
//!   uniform histogram (binomial 0.5% and 99.5% quantiles per bin);
//! - [`coverage_plot`]: expected-coverage / TARP curves against the diagonal;
//! - [`lc2st_plot`]: the L-C2ST null distribution (histogram) with the observed statistic;
//! - [`training_curve`]: training and validation loss per epoch;
//! - [`curves_plot`]: y against x for several labelled curves with optional ± bands (e.g. EIG
//!   curves over a 1-D design), each curve's maximum marked;
//! - [`design_trace_plot`]: MPR-GA restart paths over an EIG heat map (Klein et al. 2026, Fig. 1);
//! - [`eig_surface_plot`]: EIG over one design coordinate (curve) or two (heat map);
//! - [`sequential_plot`]: a sequential design run — design path, true parameters, final
//!   posterior particles, EIG and posterior spread per step.
//!
//! Each function checks its input and returns a [`Figure`], drawn only when rendered.

use std::io::Write as _;
use std::path::Path;
use std::sync::OnceLock;

use ndarray::{ArrayView1, ArrayView2};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::boed::problems::DesignBox;
use crate::boed::sequential::SequentialRun;
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

/// Draws the legend of `chart`'s labelled series at `position` on a translucent white box.
fn draw_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    plot: &str,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 11))
        .draw()
        .map_err(drawing(plot))
}

/// Most pixels of a PNG (its RGB buffer is 3 bytes per pixel).
const MAX_PNG_PIXELS: u64 = 100_000_000;
/// DejaVu Sans cut down to Latin, Greek and common mathematical symbols (Bitstream Vera licence,
/// see `assets/DejaVuSans-LICENSE.txt`): the font of every plot, built in so that text renders
/// the same on machines without system fonts.
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans-subset.ttf");

/// Registers [`FONT`] as plotters' "sans-serif" font (once per process).
fn register_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput("plot: the built-in font (DejaVu Sans) could not be loaded".into()))
    }
}

/// File format of a plot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// SVG text (vector; text as `<text>` elements).
    Svg,
    /// PNG image (8-bit RGB, at the plot's size in pixels).
    Png,
}

impl Format {
    /// The format named by the extension of `path`: `.svg` or `.png` (any case); any other or
    /// no extension is an error naming the path.
    pub fn of_path(path: &Path) -> Result<Format> {
        let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("svg") => Ok(Format::Svg),
            Some("png") => Ok(Format::Png),
            _ => Err(Error::InvalidInput(format!(
                "plot file {}: the extension must be .svg or .png (it chooses the image format)",
                path.display()
            ))),
        }
    }
}

/// A checked plot, ready to draw at its size in pixels: rendered as an SVG document
/// ([`Figure::svg`]) or a PNG image ([`Figure::png`]) by the same drawing routine, or written to
/// a file in the format of its extension ([`Figure::save`]).
#[derive(Debug)]
pub struct Figure<'a> {
    size: (u32, u32),
    kind: Kind<'a>,
}

/// What a [`Figure`] draws, with the quantities computed while checking the input.
#[derive(Debug)]
enum Kind<'a> {
    Pairs {
        samples: ArrayView2<'a, f64>,
        reference: Option<ArrayView2<'a, f64>>,
        truth: Option<ArrayView1<'a, f64>>,
        names: &'a [String],
        ranges: Vec<(f64, f64)>,
    },
    Ranks {
        result: &'a SbcResult,
        names: &'a [String],
        sizes: Vec<usize>,
        bands: Vec<(f64, f64, f64)>,
    },
    Coverage {
        curves: Vec<(String, CoverageResult)>,
    },
    Lc2st {
        result: &'a Lc2stResult,
        counts: Vec<usize>,
        width: f64,
        right: f64,
    },
    Training {
        report: &'a TrainReport,
        low: f64,
        high: f64,
    },
    Curves {
        labels: [&'a str; 3],
        curves: &'a [Curve],
        x_range: (f64, f64),
        y_range: (f64, f64),
    },
    DesignTrace {
        paths: &'a [Vec<Vec<f64>>],
        chosen: Option<&'a [f64]>,
        bounds: &'a DesignBox,
        surface: Option<design::RangedSurface<'a>>,
        caption: String,
    },
    EigSurface {
        designs: ArrayView2<'a, f64>,
        eig: &'a [f64],
        stderr: Option<&'a [f64]>,
        names: &'a [String],
        best: usize,
    },
    Sequential {
        run: &'a SequentialRun,
        bounds: &'a DesignBox,
        in_plane: bool,
        title: String,
    },
}

impl Figure<'_> {
    /// Width and height in pixels (of the PNG; the SVG's viewport).
    pub fn size(&self) -> (u32, u32) {
        self.size
    }

    /// The plot as an SVG document.
    pub fn svg(&self) -> Result<String> {
        register_font()?;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, self.size).into_drawing_area();
            self.draw(&root)?;
        }
        Ok(svg)
    }

    /// The plot as a PNG file's bytes (8-bit RGB; see [`encode_png`]).
    pub fn png(&self) -> Result<Vec<u8>> {
        let (width, height) = self.size;
        let pixels = u64::from(width) * u64::from(height);
        if pixels > MAX_PNG_PIXELS {
            return Err(Error::InvalidInput(format!(
                "plot of {width} × {height} pixels is too large for a PNG (at most {MAX_PNG_PIXELS} pixels); write .svg instead"
            )));
        }
        register_font()?;
        let mut rgb = vec![0u8; pixels as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, self.size).into_drawing_area();
            self.draw(&root)?;
        }
        encode_png(width, height, &rgb)
    }

    /// The plot's file contents in `format`.
    pub fn render(&self, format: Format) -> Result<Vec<u8>> {
        match format {
            Format::Svg => self.svg().map(String::into_bytes),
            Format::Png => self.png(),
        }
    }

    /// Writes the plot to `path` as SVG or PNG by its extension ([`Format::of_path`]), creating
    /// missing parent folders.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.render(Format::of_path(path)?)?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
    }

    /// Draws the plot on `root`, whatever the backend.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        match &self.kind {
            Kind::Pairs { samples, reference, truth, names, ranges } => {
                draw_pairs(root, *samples, *reference, *truth, names, ranges)
            }
            Kind::Ranks { result, names, sizes, bands } => draw_ranks(root, result, names, sizes, bands),
            Kind::Coverage { curves } => draw_coverage(root, curves),
            Kind::Lc2st { result, counts, width, right } => draw_lc2st(root, result, counts, *width, *right),
            Kind::Training { report, low, high } => draw_training(root, report, *low, *high),
            Kind::Curves { labels, curves, x_range, y_range } => draw_curves(root, *labels, curves, *x_range, *y_range),
            Kind::DesignTrace { paths, chosen, bounds, surface, caption } => {
                design::draw_design_trace(root, paths, *chosen, bounds, *surface, caption)
            }
            Kind::EigSurface { designs, eig, stderr, names, best } => {
                design::draw_eig_surface(root, *designs, eig, *stderr, names, *best)
            }
            Kind::Sequential { run, bounds, in_plane, title } => {
                design::draw_sequential(root, run, bounds, *in_plane, title)
            }
        }
    }
}

/// A PNG file (W3C PNG specification, 2nd ed.) of an image of `width × height` pixels given as
/// row-major 8-bit RGB triples: the signature, then the IHDR (bit depth 8, colour type 2,
/// no interlace), one zlib-compressed IDAT (every scanline with filter type 0) and IEND chunks,
/// each chunk as length, type, data and the CRC-32 of type and data.
pub fn encode_png(width: u32, height: u32, rgb: &[u8]) -> Result<Vec<u8>> {
    let row = width as usize * 3;
    if width == 0 || height == 0 || rgb.len() != row * height as usize {
        return Err(Error::shape(
            "PNG image",
            format!("{} RGB bytes for {width} × {height} pixels (both ≥ 1)", row * height as usize),
            format!("{} bytes", rgb.len()),
        ));
    }
    let compress = || -> std::io::Result<Vec<u8>> {
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        for line in rgb.chunks_exact(row) {
            encoder.write_all(&[0])?;
            encoder.write_all(line)?;
        }
        encoder.finish()
    };
    let data = compress().map_err(|e| Error::InvalidInput(format!("PNG image: compression failed: {e}")))?;
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, body) in [(b"IHDR", header.as_slice()), (b"IDAT", data.as_slice()), (b"IEND", &[] as &[u8])] {
        png.extend_from_slice(&(body.len() as u32).to_be_bytes());
        png.extend_from_slice(kind);
        png.extend_from_slice(body);
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(body);
        png.extend_from_slice(&crc.finalize().to_be_bytes());
    }
    Ok(png)
}

/// Largest magnitude a plotted value may have: beyond it a padded axis range can overflow to ±∞,
/// on which plotters' tick placement never ends.
const PLOTTABLE: f64 = 1e300;

/// Why a value cannot be plotted (it is not finite or beyond ±[`PLOTTABLE`]), or `None`.
fn unplottable(v: f64) -> Option<String> {
    if !v.is_finite() {
        Some(format!("{v}"))
    } else if v.abs() > PLOTTABLE {
        Some(format!("{v:e}, beyond the ±{PLOTTABLE:e} a plot axis can span"))
    } else {
        None
    }
}

/// Fails unless `values` has at least one row, `dim` columns and only plottable entries (see
/// [`unplottable`]).
fn check_sample(plot: &str, name: &str, values: ArrayView2<f64>, dim: usize) -> Result<()> {
    if values.nrows() == 0 {
        return Err(Error::InvalidInput(format!("{plot}: the {name} have no rows")));
    }
    if values.ncols() != dim {
        return Err(Error::shape(format!("{plot}: {name}"), format!("{dim} columns"), format!("{}", values.ncols())));
    }
    match values.indexed_iter().find_map(|(at, v)| unplottable(*v).map(|why| (at, why))) {
        Some(((row, col), why)) => Err(Error::InvalidInput(format!("{plot}: {name} row {row} column {col} is {why}"))),
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
pub fn pair_plot<'a>(
    samples: ArrayView2<'a, f64>,
    reference: Option<ArrayView2<'a, f64>>,
    truth: Option<ArrayView1<'a, f64>>,
    names: &'a [String],
) -> Result<Figure<'a>> {
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
    Ok(Figure { size: (side, side + 30), kind: Kind::Pairs { samples, reference, truth, names, ranges } })
}

/// Draws the pair plot of [`pair_plot`].
fn draw_pairs<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    samples: ArrayView2<f64>,
    reference: Option<ArrayView2<f64>>,
    truth: Option<ArrayView1<f64>>,
    names: &[String],
    ranges: &[(f64, f64)],
) -> Result<()> {
    const PLOT: &str = "pair plot";
    let dim = names.len();
    {
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
    Ok(())
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
pub fn rank_histograms<'a>(result: &'a SbcResult, names: &'a [String]) -> Result<Figure<'a>> {
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
    Ok(Figure { size: (300 * dim as u32, 280), kind: Kind::Ranks { result, names, sizes, bands } })
}

/// Draws the rank histograms of [`rank_histograms`] (`sizes`: ranks per bin; `bands`: lower
/// band edge, expected count and upper band edge per bin).
fn draw_ranks<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    result: &SbcResult,
    names: &[String],
    sizes: &[usize],
    bands: &[(f64, f64, f64)],
) -> Result<()> {
    const PLOT: &str = "rank histogram";
    let dim = names.len();
    let l = result.posterior_samples;
    let bins = sizes.len();
    let bin_of = |r: usize| r * bins / (l + 1);
    {
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
            for &size in sizes {
                edges.push((left, left + size as f64));
                left += size as f64;
            }
            chart
                .draw_series(edges.iter().zip(bands).map(|(&(a, b), &(low, _, high))| {
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
            let expected = edges.iter().zip(bands).flat_map(|(&(a, b), &(_, mean, _))| [(a, mean), (b, mean)]);
            chart.draw_series(LineSeries::new(expected, BLACK.stroke_width(1))).map_err(drawing(PLOT))?;
        }
        root.present().map_err(drawing(PLOT))?;
    }
    Ok(())
}

/// Empirical coverage curves (`(label, curve)` pairs, e.g. HPD expected coverage and TARP)
/// against the dashed diagonal of a calibrated posterior; each legend entry shows the curve's
/// area to curve (ATC) and KS p-value.
pub fn coverage_plot(curves: &[(&str, &CoverageResult)]) -> Result<Figure<'static>> {
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
    let curves = curves.iter().map(|(label, curve)| (label.to_string(), (*curve).clone())).collect();
    Ok(Figure { size: (480, 440), kind: Kind::Coverage { curves } })
}

/// Draws the coverage curves of [`coverage_plot`].
fn draw_coverage<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, curves: &[(String, CoverageResult)]) -> Result<()> {
    const PLOT: &str = "coverage plot";
    let palette = [SAMPLE_COLOUR, REFERENCE_COLOUR, RGBColor(44, 160, 44), RGBColor(148, 103, 189)];
    {
        root.fill(&WHITE).map_err(drawing(PLOT))?;
        let mut chart = ChartBuilder::on(root)
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
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft, PLOT)?;
        root.present().map_err(drawing(PLOT))?;
    }
    Ok(())
}

/// Histogram of the L-C2ST statistics under the null hypothesis (one per null classifier) with
/// the observed statistic as a red vertical line and the p-value in the title (Linhart et al.
/// 2023, fig. 2 style).
pub fn lc2st_plot(result: &Lc2stResult) -> Result<Figure<'_>> {
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
    Ok(Figure { size: (520, 380), kind: Kind::Lc2st { result, counts, width, right } })
}

/// Draws the L-C2ST histogram of [`lc2st_plot`] (`counts` of null statistics in bins of `width`
/// over [0, `right`]).
fn draw_lc2st<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    result: &Lc2stResult,
    counts: &[usize],
    width: f64,
    right: f64,
) -> Result<()> {
    const PLOT: &str = "L-C2ST plot";
    let highest = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    {
        root.fill(&WHITE).map_err(drawing(PLOT))?;
        let mut chart = ChartBuilder::on(root)
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
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight, PLOT)?;
        root.present().map_err(drawing(PLOT))?;
    }
    Ok(())
}

/// Training and validation loss per epoch from a [`TrainReport`], with the kept (best) epoch
/// marked by a dashed vertical line.
pub fn training_curve(report: &TrainReport) -> Result<Figure<'_>> {
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
    Ok(Figure { size: (560, 400), kind: Kind::Training { report, low, high } })
}

/// Draws the training curve of [`training_curve`] (losses within [`low`, `high`]).
fn draw_training<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    report: &TrainReport,
    low: f64,
    high: f64,
) -> Result<()> {
    const PLOT: &str = "training curve";
    let epochs = report.train_loss.len();
    let pad = 0.05 * (high - low).max(1e-9);
    {
        root.fill(&WHITE).map_err(drawing(PLOT))?;
        let mut chart = ChartBuilder::on(root)
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
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight, PLOT)?;
        root.present().map_err(drawing(PLOT))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;

/// One labelled curve of [`curves_plot`]: y over x, with an optional half-width per point drawn as
/// a shaded band y ± band.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Legend label.
    pub label: String,
    /// Abscissae.
    pub x: Vec<f64>,
    /// Ordinates, one per abscissa.
    pub y: Vec<f64>,
    /// Half-widths of the band (e.g. two standard errors), one per abscissa.
    pub band: Option<Vec<f64>>,
}

impl Curve {
    /// The band's half-width at point `i` (0 without a band).
    fn half_width(&self, i: usize) -> f64 {
        self.band.as_ref().map_or(0.0, |b| b[i].abs())
    }
}

/// Line plot of several [`Curve`]s on shared axes (x and y labelled `x_desc`, `y_desc`), each with
/// its optional shaded band and its maximum marked by a dot. Curves need at least two points,
/// matching lengths and finite values.
pub fn curves_plot<'a>(title: &'a str, x_desc: &'a str, y_desc: &'a str, curves: &'a [Curve]) -> Result<Figure<'a>> {
    const PLOT: &str = "curves plot";
    if curves.is_empty() {
        return Err(Error::InvalidInput(format!("{PLOT}: no curves")));
    }
    for c in curves {
        let band_ok = c.band.as_ref().is_none_or(|b| b.len() == c.x.len());
        if c.x.len() < 2 || c.y.len() != c.x.len() || !band_ok {
            return Err(Error::InvalidInput(format!(
                "{PLOT}: curve '{}' needs at least 2 points and as many y (and band) values as x values",
                c.label
            )));
        }
        if c.x.iter().chain(&c.y).chain(c.band.iter().flatten()).any(|v| !v.is_finite()) {
            return Err(Error::InvalidInput(format!("{PLOT}: curve '{}' has a NaN or infinite value", c.label)));
        }
    }
    let (mut x_low, mut x_high, mut y_low, mut y_high) =
        (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for c in curves {
        for i in 0..c.x.len() {
            x_low = x_low.min(c.x[i]);
            x_high = x_high.max(c.x[i]);
            y_low = y_low.min(c.y[i] - c.half_width(i));
            y_high = y_high.max(c.y[i] + c.half_width(i));
        }
    }
    let pad = 0.05 * (y_high - y_low).max(1e-9);
    let x_high = if x_high > x_low { x_high } else { x_low + 1.0 };
    Ok(Figure {
        size: (600, 420),
        kind: Kind::Curves {
            labels: [title, x_desc, y_desc],
            curves,
            x_range: (x_low, x_high),
            y_range: (y_low - pad, y_high + pad),
        },
    })
}

/// Draws the curves of [`curves_plot`] (`labels`: title, x and y descriptions) on the given axes.
fn draw_curves<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    [title, x_desc, y_desc]: [&str; 3],
    curves: &[Curve],
    x_range: (f64, f64),
    y_range: (f64, f64),
) -> Result<()> {
    const PLOT: &str = "curves plot";
    let palette = [SAMPLE_COLOUR, REFERENCE_COLOUR, RGBColor(44, 160, 44), RGBColor(148, 103, 189)];
    root.fill(&WHITE).map_err(drawing(PLOT))?;
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .caption(title, ("sans-serif", 16))
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)
        .map_err(drawing(PLOT))?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(("sans-serif", 11))
        .draw()
        .map_err(drawing(PLOT))?;
    for (index, c) in curves.iter().enumerate() {
        let colour = palette[index % palette.len()];
        if c.band.is_some() {
            let upper = (0..c.x.len()).map(|i| (c.x[i], c.y[i] + c.half_width(i)));
            let lower = (0..c.x.len()).rev().map(|i| (c.x[i], c.y[i] - c.half_width(i)));
            chart
                .draw_series(std::iter::once(Polygon::new(
                    upper.chain(lower).collect::<Vec<_>>(),
                    colour.mix(0.2).filled(),
                )))
                .map_err(drawing(PLOT))?;
        }
        chart
            .draw_series(LineSeries::new(c.x.iter().copied().zip(c.y.iter().copied()), colour.stroke_width(2)))
            .map_err(drawing(PLOT))?
            .label(c.label.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
        if let Some(best) = (0..c.y.len()).max_by(|&a, &b| c.y[a].total_cmp(&c.y[b])) {
            chart
                .draw_series(std::iter::once(Circle::new((c.x[best], c.y[best]), 5, colour.filled())))
                .map_err(drawing(PLOT))?;
        }
    }
    draw_legend(&mut chart, SeriesLabelPosition::LowerRight, PLOT)?;
    root.present().map_err(drawing(PLOT))?;
    Ok(())
}
