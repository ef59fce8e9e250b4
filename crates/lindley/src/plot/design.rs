//! Plots of experimental design: MPR-GA restart paths over an EIG surface (Klein et al. 2026,
//! "Supercharging SBI for BOED", Figure 1), EIG curves and surfaces over the design space, and
//! sequential runs (designs in the design plane with the true parameters and the final posterior
//! particles; EIG and posterior spread per step).

use ndarray::{Array2, ArrayView2};
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{Figure, Kind, REFERENCE_COLOUR, SAMPLE_COLOUR, TRUTH_COLOUR, draw_legend, drawing};
use crate::boed::problems::DesignBox;
use crate::boed::sequential::SequentialRun;
use crate::{Error, Result};

/// Colour of MPR-GA restart paths and of a sequential run's design path (`#E41A1C`).
pub const PATH_COLOUR: RGBColor = RGBColor(228, 26, 28);
/// Colour of posterior particles.
const PARTICLE_COLOUR: RGBColor = RGBColor(120, 120, 120);

/// An EIG surface (designs `[n, 2]` and their EIG) with the range of its values.
pub(super) type RangedSurface<'a> = ((ArrayView2<'a, f64>, &'a [f64]), (f64, f64));

/// A chart with f64 axes on any backend.
type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Matplotlib's viridis at u ∈ [0, 1], linear between five of its colours.
fn viridis(u: f64) -> RGBColor {
    const ANCHORS: [(f64, f64, f64); 5] =
        [(68.0, 1.0, 84.0), (59.0, 82.0, 139.0), (33.0, 145.0, 140.0), (94.0, 201.0, 98.0), (253.0, 231.0, 37.0)];
    let x = u.clamp(0.0, 1.0) * 4.0;
    let k = (x.floor() as usize).min(3);
    let f = x - k as f64;
    let (a, b) = (ANCHORS[k], ANCHORS[k + 1]);
    let mix = |p: f64, q: f64| (p + f * (q - p)).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The sorted distinct values of a column (values within 1e-9 relative of each other merged).
fn distinct(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut sorted: Vec<f64> = values.collect();
    sorted.sort_by(f64::total_cmp);
    sorted.dedup_by(|a, b| (*a - *b).abs() <= 1e-9 * (1.0 + b.abs()));
    sorted
}

/// Cell [low, high] around each distinct value: boundaries halfway between neighbours, the outer
/// cells as wide as their inner half. `None` for fewer than two values.
fn cell_edges(values: &[f64]) -> Option<Vec<(f64, f64)>> {
    if values.len() < 2 {
        return None;
    }
    let n = values.len();
    let mid: Vec<f64> = values.windows(2).map(|w| 0.5 * (w[0] + w[1])).collect();
    Some(
        (0..n)
            .map(|i| {
                let low = if i == 0 { 2.0 * values[0] - mid[0] } else { mid[i - 1] };
                let high = if i == n - 1 { 2.0 * values[n - 1] - mid[n - 2] } else { mid[i] };
                (low, high)
            })
            .collect(),
    )
}

/// The cell of every point when the points `[n, 2]` form a full rectangular grid (every pair of
/// distinct x and y values exactly once), else `None`.
fn grid_cells(points: ArrayView2<f64>) -> Option<Vec<[(f64, f64); 2]>> {
    let xs = distinct(points.column(0).iter().copied());
    let ys = distinct(points.column(1).iter().copied());
    if xs.len() * ys.len() != points.nrows() {
        return None;
    }
    let (x_edges, y_edges) = (cell_edges(&xs)?, cell_edges(&ys)?);
    let nearest = |values: &[f64], v: f64| {
        let i = values.partition_point(|&a| a < v);
        if i == 0 || (i < values.len() && values[i] - v < v - values[i - 1]) { i.min(values.len() - 1) } else { i - 1 }
    };
    let mut seen = vec![false; xs.len() * ys.len()];
    let mut cells = Vec::with_capacity(points.nrows());
    for row in points.outer_iter() {
        let (i, j) = (nearest(&xs, row[0]), nearest(&ys, row[1]));
        if std::mem::replace(&mut seen[i * ys.len() + j], true) {
            return None;
        }
        cells.push([(x_edges[i].0, y_edges[j].0), (x_edges[i].1, y_edges[j].1)]);
    }
    Some(cells)
}

/// Smallest and largest of `values`, widened when they coincide.
fn value_range(values: &[f64]) -> (f64, f64) {
    let (low, high) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    if high - low > 1e-12 { (low, high) } else { (low - 0.5, high + 0.5) }
}

/// A heat map of `values` at `points [n, 2]`: filled grid cells when the points form a grid,
/// else coloured dots; colours run from dark (low) to yellow (high) over `range`.
fn draw_heat<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    points: ArrayView2<f64>,
    values: &[f64],
    range: (f64, f64),
    plot: &str,
) -> Result<()> {
    let colour = |v: f64| viridis((v - range.0) / (range.1 - range.0));
    match grid_cells(points) {
        Some(cells) => chart
            .draw_series(cells.iter().zip(values).map(|(&cell, &v)| Rectangle::new(cell, colour(v).filled())))
            .map(|_| ())
            .map_err(drawing(plot)),
        None => chart
            .draw_series(
                points.outer_iter().zip(values).map(|(p, &v)| Circle::new((p[0], p[1]), 4, colour(v).filled())),
            )
            .map(|_| ())
            .map_err(drawing(plot)),
    }
}

/// Fails unless every value is plottable (see [`super::unplottable`]).
fn check_plottable<'a>(plot: &str, what: &str, values: impl IntoIterator<Item = &'a f64>) -> Result<()> {
    match values.into_iter().enumerate().find_map(|(i, v)| super::unplottable(*v).map(|why| (i, why))) {
        Some((i, why)) => Err(Error::InvalidInput(format!("{plot}: {what} value {i} is {why}"))),
        None => Ok(()),
    }
}

/// MPR-GA restart paths in a 2-D design space (Klein et al. 2026, Figure 1): `paths[r]` is the
/// sequence of designs of restart r (e.g. [`MprgaResult::restart_paths`]), drawn as lines in
/// [`PATH_COLOUR`] from an open circle (start) to a filled one (end), the `chosen` design as a
/// black cross, over an optional EIG `surface` (designs `[n, 2]` and their EIG, e.g. the output
/// of `lindley eig` on a grid) drawn as a heat map. Axes span the design box.
///
/// [`MprgaResult::restart_paths`]: crate::boed::optimize::MprgaResult::restart_paths
pub fn design_trace_plot<'a>(
    paths: &'a [Vec<Vec<f64>>],
    chosen: Option<&'a [f64]>,
    bounds: &'a DesignBox,
    surface: Option<(ArrayView2<'a, f64>, &'a [f64])>,
) -> Result<Figure<'a>> {
    const PLOT: &str = "design trace plot";
    if bounds.dim() != 2 {
        return Err(Error::InvalidInput(format!(
            "{PLOT}: draws 2-D design spaces, but the designs have {} coordinates",
            bounds.dim()
        )));
    }
    if paths.is_empty() || paths.iter().any(|p| p.is_empty()) {
        return Err(Error::InvalidInput(format!("{PLOT}: no restart paths, or an empty one")));
    }
    for (r, path) in paths.iter().enumerate() {
        for point in path {
            if point.len() != 2 {
                return Err(Error::shape(
                    format!("{PLOT}: restart {r}"),
                    "2 design coordinates",
                    point.len().to_string(),
                ));
            }
            check_plottable(PLOT, &format!("restart {r} design"), point)?;
        }
    }
    if let Some(chosen) = chosen {
        if chosen.len() != 2 {
            return Err(Error::shape(format!("{PLOT}: chosen design"), "2 coordinates", chosen.len().to_string()));
        }
        check_plottable(PLOT, "chosen design", chosen)?;
    }
    let surface_range = match surface {
        Some((points, values)) => {
            if points.ncols() != 2 || points.nrows() != values.len() || values.is_empty() {
                return Err(Error::shape(
                    format!("{PLOT}: EIG surface"),
                    "designs [n, 2] with n EIG values (n ≥ 1)",
                    format!("[{}, {}] with {} values", points.nrows(), points.ncols(), values.len()),
                ));
            }
            check_plottable(PLOT, "EIG surface", values)?;
            check_plottable(PLOT, "EIG surface design", points.iter())?;
            Some(value_range(values))
        }
        None => None,
    };
    let caption = match surface_range {
        Some((low, high)) => {
            format!("{} MPR-GA restarts on the EIG surface ({low:.2} dark to {high:.2} nats yellow)", paths.len())
        }
        None => format!("{} MPR-GA restart paths", paths.len()),
    };
    Ok(Figure {
        size: (620, 600),
        kind: Kind::DesignTrace { paths, chosen, bounds, surface: surface.zip(surface_range), caption },
    })
}

/// Draws [`design_trace_plot`] on `root`.
pub(super) fn draw_design_trace<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    paths: &[Vec<Vec<f64>>],
    chosen: Option<&[f64]>,
    bounds: &DesignBox,
    surface: Option<RangedSurface<'_>>,
    caption: &str,
) -> Result<()> {
    const PLOT: &str = "design trace plot";
    root.fill(&WHITE).map_err(drawing(PLOT))?;
    let mut chart = design_plane_chart(root, caption, 15, bounds, PLOT)?;
    if let Some(((points, values), range)) = surface {
        draw_heat(&mut chart, points, values, range, PLOT)?;
    }
    for path in paths {
        let points: Vec<(f64, f64)> = path.iter().map(|p| (p[0], p[1])).collect();
        chart.draw_series(LineSeries::new(points.clone(), PATH_COLOUR.stroke_width(2))).map_err(drawing(PLOT))?;
        let (first, last) = (points[0], points[points.len() - 1]);
        chart
            .draw_series([
                Circle::new(first, 3, PATH_COLOUR.stroke_width(1)),
                Circle::new(last, 4, PATH_COLOUR.filled()),
            ])
            .map_err(drawing(PLOT))?;
    }
    if let Some(chosen) = chosen {
        let at = (chosen[0], chosen[1]);
        chart
            .draw_series([EmptyElement::at(at)
                + Circle::new((0, 0), 8, WHITE.filled())
                + Cross::new((0, 0), 6, BLACK.stroke_width(3))])
            .map_err(drawing(PLOT))?;
    }
    root.present().map_err(drawing(PLOT))?;
    Ok(())
}

/// EIG over designs, as written by `lindley eig`: with one design coordinate a curve (sorted by
/// the coordinate) with a ±2 standard error band when `stderr` is given; with two a heat map
/// (grid cells when the designs form a grid, else dots). The best design is marked. `names`
/// name the design coordinates.
pub fn eig_surface_plot<'a>(
    designs: ArrayView2<'a, f64>,
    eig: &'a [f64],
    stderr: Option<&'a [f64]>,
    names: &'a [String],
) -> Result<Figure<'a>> {
    const PLOT: &str = "EIG plot";
    let (n, dim) = designs.dim();
    if n == 0 || eig.len() != n || stderr.is_some_and(|s| s.len() != n) || names.len() != dim {
        return Err(Error::shape(
            PLOT,
            "n ≥ 1 designs with one EIG (and standard error) each and one name per design coordinate",
            format!(
                "{n} designs of {dim} coordinates, {} EIG values, {} standard errors, {} names",
                eig.len(),
                stderr.map_or(0, |s| s.len()),
                names.len()
            ),
        ));
    }
    check_plottable(PLOT, "EIG", eig)?;
    check_plottable(PLOT, "design", designs.iter())?;
    if let Some(stderr) = stderr {
        check_plottable(PLOT, "standard error", stderr)?;
    }
    let best = (0..n).max_by(|&a, &b| eig[a].total_cmp(&eig[b])).expect("n ≥ 1");
    Ok(Figure { size: (620, 520), kind: Kind::EigSurface { designs, eig, stderr, names, best } })
}

/// Draws [`eig_surface_plot`] on `root`.
pub(super) fn draw_eig_surface<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    designs: ArrayView2<f64>,
    eig: &[f64],
    stderr: Option<&[f64]>,
    names: &[String],
    best: usize,
) -> Result<()> {
    const PLOT: &str = "EIG plot";
    let (n, dim) = designs.dim();
    root.fill(&WHITE).map_err(drawing(PLOT))?;
    match dim {
        1 => {
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| designs[[a, 0]].total_cmp(&designs[[b, 0]]));
            let band = |i: usize, sign: f64| eig[i] + sign * 2.0 * stderr.map_or(0.0, |s| s[i]);
            let lows: Vec<f64> = (0..n).map(|i| band(i, -1.0)).collect();
            let highs: Vec<f64> = (0..n).map(|i| band(i, 1.0)).collect();
            let (y_low, _) = value_range(&lows);
            let (_, y_high) = value_range(&highs);
            let pad = 0.05 * (y_high - y_low);
            let (x_low, x_high) = value_range(&designs.column(0).to_vec());
            let mut chart = ChartBuilder::on(root)
                .margin(12)
                .caption(
                    format!("EIG over {}: best {:.4} nats at {:.4}", names[0], eig[best], designs[[best, 0]]),
                    ("sans-serif", 15),
                )
                .x_label_area_size(40)
                .y_label_area_size(55)
                .build_cartesian_2d(x_low..x_high, (y_low - pad)..(y_high + pad))
                .map_err(drawing(PLOT))?;
            chart
                .configure_mesh()
                .x_desc(names[0].as_str())
                .y_desc("EIG (nats)")
                .label_style(("sans-serif", 11))
                .draw()
                .map_err(drawing(PLOT))?;
            if stderr.is_some() {
                let outline: Vec<(f64, f64)> = order
                    .iter()
                    .map(|&i| (designs[[i, 0]], highs[i]))
                    .chain(order.iter().rev().map(|&i| (designs[[i, 0]], lows[i])))
                    .collect();
                chart.draw_series([Polygon::new(outline, SAMPLE_COLOUR.mix(0.2).filled())]).map_err(drawing(PLOT))?;
            }
            let curve = order.iter().map(|&i| (designs[[i, 0]], eig[i]));
            chart.draw_series(LineSeries::new(curve, SAMPLE_COLOUR.stroke_width(2))).map_err(drawing(PLOT))?;
            chart
                .draw_series([Circle::new((designs[[best, 0]], eig[best]), 5, TRUTH_COLOUR.filled())])
                .map_err(drawing(PLOT))?;
        }
        2 => {
            let range = value_range(eig);
            let (x_low, x_high) = value_range(&designs.column(0).to_vec());
            let (y_low, y_high) = value_range(&designs.column(1).to_vec());
            let (x_pad, y_pad) = (0.03 * (x_high - x_low), 0.03 * (y_high - y_low));
            let mut chart = ChartBuilder::on(root)
                .margin(12)
                .caption(
                    format!(
                        "EIG ({:.2} dark to {:.2} nats yellow); best at ({:.3}, {:.3})",
                        range.0,
                        range.1,
                        designs[[best, 0]],
                        designs[[best, 1]]
                    ),
                    ("sans-serif", 15),
                )
                .x_label_area_size(40)
                .y_label_area_size(50)
                .build_cartesian_2d((x_low - x_pad)..(x_high + x_pad), (y_low - y_pad)..(y_high + y_pad))
                .map_err(drawing(PLOT))?;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_desc(names[0].as_str())
                .y_desc(names[1].as_str())
                .label_style(("sans-serif", 11))
                .draw()
                .map_err(drawing(PLOT))?;
            draw_heat(&mut chart, designs, eig, range, PLOT)?;
            let at = (designs[[best, 0]], designs[[best, 1]]);
            chart
                .draw_series([EmptyElement::at(at)
                    + Circle::new((0, 0), 8, WHITE.filled())
                    + Cross::new((0, 0), 6, BLACK.stroke_width(3))])
                .map_err(drawing(PLOT))?;
        }
        _ => {
            return Err(Error::InvalidInput(format!("{PLOT}: draws EIG over 1 or 2 design coordinates, got {dim}")));
        }
    }
    root.present().map_err(drawing(PLOT))?;
    Ok(())
}

/// A chart of the design plane (the first two coordinates of `bounds`, axes ξ₁ and ξ₂) on `area`,
/// captioned in `caption_size` points, its axes drawn.
fn design_plane_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    caption: &str,
    caption_size: u32,
    bounds: &DesignBox,
    plot: &str,
) -> Result<Chart<'a, DB>> {
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .caption(caption, ("sans-serif", caption_size))
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(bounds.low[0]..bounds.high[0], bounds.low[1]..bounds.high[1])
        .map_err(drawing(plot))?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("ξ₁")
        .y_desc("ξ₂")
        .label_style(("sans-serif", 11))
        .draw()
        .map_err(drawing(plot))?;
    Ok(chart)
}

/// A chart over the steps 1…`steps` on `area` with values in `y` (labelled `y_desc` if given),
/// its axes drawn with whole-step ticks.
fn step_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    caption: &str,
    steps: usize,
    y: std::ops::Range<f64>,
    y_desc: Option<&str>,
) -> Result<Chart<'a, DB>> {
    const PLOT: &str = "sequential plot";
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .caption(caption, ("sans-serif", 13))
        .x_label_area_size(30)
        .y_label_area_size(45)
        .build_cartesian_2d(0.5..steps as f64 + 0.5, y)
        .map_err(drawing(PLOT))?;
    let mut mesh = chart.configure_mesh();
    mesh.disable_mesh().x_desc("step").x_label_formatter(&step_label).label_style(("sans-serif", 10));
    if let Some(y_desc) = y_desc {
        mesh.y_desc(y_desc);
    }
    mesh.draw().map_err(drawing(PLOT))?;
    Ok(chart)
}

/// A tick label on a step axis: the step number at whole steps, nothing between them.
fn step_label(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 { format!("{v:.0}") } else { String::new() }
}

/// The points of parameter rows in the design plane when θ is made of blocks of design
/// coordinates (e.g. source locations): every block of every row.
fn blocks_in_plane(rows: impl Iterator<Item = Vec<f64>>, dim: usize) -> Vec<(f64, f64)> {
    rows.flat_map(|row| row.chunks_exact(dim).map(|b| (b[0], b[1])).collect::<Vec<_>>()).collect()
}

/// A sequential run ([`SequentialRun`]) in three panels: the design path in the design plane
/// (numbered by step, in [`PATH_COLOUR`]; for designs of more than two coordinates the first two),
/// with the final posterior particles in grey and the true parameters as red crosses when
/// `parameters_in_design_space` (θ made of blocks of design coordinates, as the source locations
/// of source finding); the estimated EIG of each optimised design (±2 standard errors); and the
/// posterior standard deviation of every parameter after each step. One-coordinate designs are
/// drawn against the step.
pub fn sequential_plot<'a>(
    run: &'a SequentialRun,
    bounds: &'a DesignBox,
    parameters_in_design_space: bool,
) -> Result<Figure<'a>> {
    const PLOT: &str = "sequential plot";
    let dim = bounds.dim();
    let steps = run.steps.len();
    if steps == 0 || dim == 0 {
        return Err(Error::InvalidInput(format!("{PLOT}: the run has no steps or the designs no coordinates")));
    }
    for step in &run.steps {
        if step.design.len() != dim {
            return Err(Error::shape(
                format!("{PLOT}: design of step {}", step.step),
                format!("{dim} coordinates"),
                step.design.len().to_string(),
            ));
        }
        check_plottable(PLOT, &format!("step {} design", step.step), &step.design)?;
    }
    let p = run.true_theta.len();
    let in_plane = parameters_in_design_space && dim >= 2 && p > 0 && p.is_multiple_of(dim);
    let title = format!(
        "{} policy, {steps} steps{}",
        run.policy.name(),
        run.spce.map(|s| format!(", sPCE {s:.3} nats")).unwrap_or_default()
    );
    Ok(Figure { size: (1000, 560), kind: Kind::Sequential { run, bounds, in_plane, title } })
}

/// Draws [`sequential_plot`] on `root`.
pub(super) fn draw_sequential<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    run: &SequentialRun,
    bounds: &DesignBox,
    in_plane: bool,
    title: &str,
) -> Result<()> {
    const PLOT: &str = "sequential plot";
    let (dim, steps, p) = (bounds.dim(), run.steps.len(), run.true_theta.len());
    root.fill(&WHITE).map_err(drawing(PLOT))?;
    let root = root.titled(title, ("sans-serif", 16)).map_err(drawing(PLOT))?;
    let (left, right) = root.split_horizontally(540);
    let (top, bottom) = right.split_vertically(260);
    // Design plane (or design against step for one coordinate).
    if dim >= 2 {
        let caption = "designs, true parameters (red), final posterior (grey)";
        let mut chart = design_plane_chart(&left, caption, 13, bounds, PLOT)?;
        let inside = |&(x, y): &(f64, f64)| {
            (bounds.low[0]..=bounds.high[0]).contains(&x) && (bounds.low[1]..=bounds.high[1]).contains(&y)
        };
        if in_plane {
            let particles = blocks_in_plane(run.particles.iter().cloned(), dim);
            chart
                .draw_series(
                    particles
                        .into_iter()
                        .filter(|q| q.0.is_finite() && q.1.is_finite() && inside(q))
                        .map(|q| Circle::new(q, 1, PARTICLE_COLOUR.mix(0.4).filled())),
                )
                .map_err(drawing(PLOT))?;
        }
        let path: Vec<(f64, f64)> = run.steps.iter().map(|s| (s.design[0], s.design[1])).collect();
        chart.draw_series(LineSeries::new(path.clone(), PATH_COLOUR.stroke_width(2))).map_err(drawing(PLOT))?;
        chart
            .draw_series(path.iter().zip(&run.steps).map(|(&at, step)| {
                EmptyElement::at(at)
                    + Circle::new((0, 0), 4, PATH_COLOUR.filled())
                    + Text::new(step.step.to_string(), (5, -14), ("sans-serif", 12))
            }))
            .map_err(drawing(PLOT))?;
        if in_plane {
            let truth = blocks_in_plane(std::iter::once(run.true_theta.clone()), dim);
            chart
                .draw_series(truth.into_iter().map(|q| Cross::new(q, 7, TRUTH_COLOUR.stroke_width(3))))
                .map_err(drawing(PLOT))?;
        }
    } else {
        let mut chart = step_chart(&left, "design per step", steps, bounds.low[0]..bounds.high[0], Some("ξ"))?;
        let path: Vec<(f64, f64)> = run.steps.iter().map(|s| (s.step as f64, s.design[0])).collect();
        chart.draw_series(LineSeries::new(path.clone(), PATH_COLOUR.stroke_width(2))).map_err(drawing(PLOT))?;
        chart.draw_series(path.into_iter().map(|q| Circle::new(q, 4, PATH_COLOUR.filled()))).map_err(drawing(PLOT))?;
    }
    // Estimated EIG of each optimised design.
    let estimates: Vec<(f64, f64, f64)> = run
        .steps
        .iter()
        .filter_map(|s| {
            let eig = s.eig.filter(|v| v.is_finite())?;
            Some((s.step as f64, eig, 2.0 * s.eig_stderr.filter(|v| v.is_finite()).unwrap_or(0.0)))
        })
        .collect();
    let high = estimates.iter().map(|e| e.1 + e.2).fold(0.1f64, f64::max);
    let mut chart = step_chart(&top, "estimated EIG of the chosen design (nats)", steps, 0.0..high * 1.1, None)?;
    chart
        .draw_series(
            estimates
                .iter()
                .map(|&(t, e, w)| PathElement::new([(t, (e - w).max(0.0)), (t, e + w)], SAMPLE_COLOUR.stroke_width(2))),
        )
        .map_err(drawing(PLOT))?;
    chart
        .draw_series(estimates.iter().map(|&(t, e, _)| Circle::new((t, e), 4, SAMPLE_COLOUR.filled())))
        .map_err(drawing(PLOT))?;
    // Posterior standard deviation of every parameter per step.
    let sds: Array2<f64> = Array2::from_shape_fn((steps, p), |(t, j)| {
        run.steps[t].posterior_sd.get(j).copied().filter(|v| v.is_finite()).unwrap_or(0.0)
    });
    let top_sd = sds.iter().copied().fold(0.1f64, f64::max);
    let mut chart = step_chart(&bottom, "posterior standard deviation per parameter", steps, 0.0..top_sd * 1.1, None)?;
    let palette = [SAMPLE_COLOUR, REFERENCE_COLOUR, RGBColor(44, 160, 44), RGBColor(148, 103, 189)];
    for j in 0..p {
        let colour = palette[j % palette.len()];
        let line = (0..steps).map(|t| (run.steps[t].step as f64, sds[[t, j]]));
        chart
            .draw_series(LineSeries::new(line, colour.stroke_width(2)))
            .map_err(drawing(PLOT))?
            .label(format!("θ{}", j + 1))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2)));
    }
    if p > 0 {
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight, PLOT)?;
    }
    root.present().map_err(drawing(PLOT))?;
    Ok(())
}
