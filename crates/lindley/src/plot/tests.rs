//! The plots are valid SVG documents with their labels, are written to files, and refuse empty
//! or non-finite input.

use ndarray::{Array1, Array2, array};
use rand_distr::{Distribution as _, StandardNormal};

use super::*;
use crate::diagnostics::sbc::sbc_ranks;
use crate::rng::seeded;

fn gaussian(n: usize, dim: usize, shift: f64, seed: u64) -> Array2<f64> {
    let mut rng = seeded(seed);
    Array2::from_shape_fn((n, dim), |_| {
        let z: f64 = StandardNormal.sample(&mut rng);
        shift + z
    })
}

fn names(dim: usize) -> Vec<String> {
    (1..=dim).map(|d| format!("theta_{d}")).collect()
}

/// A document plotters wrote: one `<svg` root that is closed, with the given texts inside.
fn assert_svg(svg: &str, texts: &[&str]) {
    assert!(svg.trim_start().starts_with("<svg"), "does not start with <svg: {}", &svg[..svg.len().min(80)]);
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<svg").count(), 1);
    for text in texts {
        assert!(svg.contains(&format!(">{text}<")) || svg.contains(text), "missing text {text}");
    }
}

#[test]
fn pair_plot_has_every_panel_label_reference_and_truth() {
    let samples = gaussian(3000, 3, 0.0, 1);
    let reference = gaussian(1000, 3, 0.3, 2);
    let truth = array![0.1, -0.2, 0.5];
    let svg = pair_plot(samples.view(), Some(reference.view()), Some(truth.view()), &names(3)).unwrap();
    assert_svg(&svg, &["theta_1", "theta_2", "theta_3", "density", "orange: reference", "red: true parameters"]);
    // Reference points in orange (255,127,14) and the truth in red (214,39,40) are drawn.
    assert!(svg.contains("#FF7F0E"), "no reference colour");
    assert!(svg.contains("#D62728"), "no truth colour");
    // Three scatter panels with 2000 (thinned) + 1000 points each, less the few outside the
    // 0.5%–99.5% quantile ranges.
    let circles = svg.matches("<circle").count();
    assert!(circles > 3 * 2800 && circles <= 3 * 3000, "{circles} circles");
    let plain = pair_plot(samples.view(), None, None, &names(3)).unwrap();
    assert!(!plain.contains("#FF7F0E") && !plain.contains("#D62728"));
}

#[test]
fn pair_plot_refuses_empty_nan_and_mismatched_input() {
    let samples = gaussian(100, 2, 0.0, 1);
    let empty = Array2::<f64>::zeros((0, 2));
    assert!(matches!(pair_plot(empty.view(), None, None, &names(2)), Err(Error::InvalidInput(_))));
    let mut nan = samples.clone();
    nan[[7, 1]] = f64::NAN;
    let error = pair_plot(nan.view(), None, None, &names(2)).unwrap_err();
    assert!(error.to_string().contains("row 7 column 1"), "{error}");
    assert!(matches!(pair_plot(samples.view(), None, None, &names(3)), Err(Error::Shape { .. })));
    let truth = Array1::from(vec![0.0, f64::INFINITY]);
    assert!(pair_plot(samples.view(), None, Some(truth.view()), &names(2)).is_err());
    assert!(pair_plot(samples.view(), None, None, &[]).is_err());
}

#[test]
fn rank_histograms_show_band_and_pvalues() {
    let theta = gaussian(200, 2, 0.0, 3);
    let samples: Vec<Array2<f64>> = (0..200).map(|i| gaussian(50, 2, 0.0, 100 + i)).collect();
    let result = sbc_ranks(theta.view(), &samples).unwrap();
    let svg = rank_histograms(&result, &names(2)).unwrap();
    assert_svg(&svg, &["rank", "count", "theta_1", "theta_2", "KS p ="]);
    assert!(svg.matches("<rect").count() >= 2 * 2 * 20, "bars and band rectangles");
    assert!(rank_histograms(&result, &names(1)).is_err());
    let mut broken = result.clone();
    broken.ranks[[0, 0]] = 51;
    assert!(rank_histograms(&broken, &names(2)).is_err());
}

#[test]
fn binomial_quantiles_bracket_the_mean() {
    // Binomial(200, 0.05): mean 10, sd ≈ 3.08; 99% interval about [3, 19].
    let (low, high) = (binomial_quantile(200, 0.05, 0.005), binomial_quantile(200, 0.05, 0.995));
    assert!((2..=4).contains(&low) && (18..=20).contains(&high), "[{low}, {high}]");
    assert_eq!(binomial_quantile(10, 0.0, 0.5), 0);
}

#[test]
fn coverage_and_training_plots_are_written_as_svg_files() {
    let theta = gaussian(100, 2, 0.0, 4);
    let samples: Vec<Array2<f64>> = (0..100).map(|i| gaussian(40, 2, 0.0, 200 + i)).collect();
    let curve = crate::diagnostics::sbc::tarp(theta.view(), &samples, 21, 0).unwrap();
    let svg = coverage_plot(&[("TARP", &curve)]).unwrap();
    assert_svg(&svg, &["credibility level", "empirical coverage", "calibrated", "TARP (ATC"]);
    let report = TrainReport {
        epochs: 3,
        best_epoch: 2,
        train_loss: vec![2.0, 1.5, 1.2],
        validation_loss: vec![2.1, 1.6, 1.7],
        epoch_seconds: vec![0.1; 3],
        seconds: 0.3,
    };
    let loss = training_curve(&report).unwrap();
    assert_svg(&loss, &["epoch", "loss", "training loss", "validation loss", "kept epoch 2"]);
    let folder = std::env::temp_dir().join(format!("lindley-plot-test-{}", std::process::id()));
    let path = folder.join("nested").join("coverage.svg");
    save_svg(&path, &svg).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), svg);
    std::fs::remove_dir_all(&folder).unwrap();
    let mut nan = report.clone();
    nan.validation_loss[1] = f64::NAN;
    let error = training_curve(&nan).unwrap_err();
    assert!(error.to_string().contains("validation loss of epoch 2"), "{error}");
    assert!(training_curve(&TrainReport::default()).is_err());
    assert!(coverage_plot(&[]).is_err());
    let mut lc2st = crate::diagnostics::Lc2stResult {
        statistic: 0.02,
        null_statistics: vec![0.001, 0.002, 0.004, 0.003, 0.0015],
        p_value: 1.0 / 6.0,
        probabilities: vec![0.5; 4],
    };
    assert_svg(&lc2st_plot(&lc2st).unwrap(), &["L-C2ST: T = 2.000e-2, p = 0.167", "observed", "null hypothesis"]);
    lc2st.null_statistics.clear();
    assert!(lc2st_plot(&lc2st).is_err());
}

/// The `<polyline` elements drawn in `colour` (e.g. `#E41A1C`).
fn polylines_in(svg: &str, colour: &str) -> usize {
    svg.split("<polyline").skip(1).filter(|tail| tail[..tail.find("/>").unwrap_or(tail.len())].contains(colour)).count()
}

#[test]
fn design_plots_draw_one_path_per_restart_and_the_sequential_run() {
    use crate::boed::problems::DesignBox;
    use crate::boed::sequential::{DesignSource, SequentialPolicy, SequentialRun, SequentialStep};
    let bounds = DesignBox::uniform(2, -6.0, 6.0);
    let paths: Vec<Vec<Vec<f64>>> = (0..5)
        .map(|r| (0..4).map(|k| vec![-5.0 + r as f64 + 0.3 * k as f64, 1.0 - 0.5 * k as f64]).collect())
        .collect();
    // An EIG surface on a 7 × 6 grid.
    let grid =
        Array2::from_shape_fn(
            (42, 2),
            |(i, j)| if j == 0 { -6.0 + 2.0 * (i / 6) as f64 } else { -5.0 + 2.0 * (i % 6) as f64 },
        );
    let eig: Vec<f64> = grid.outer_iter().map(|d| (-0.05 * (d[0] * d[0] + d[1] * d[1])).exp()).collect();
    let svg = design_trace_plot(&paths, Some(&[0.5, -1.0]), &bounds, Some((grid.view(), &eig))).unwrap();
    assert_svg(&svg, &["5 MPR-GA restarts on the EIG surface", "ξ₁", "ξ₂"]);
    let colour = format!("#{:02X}{:02X}{:02X}", PATH_COLOUR.0, PATH_COLOUR.1, PATH_COLOUR.2);
    assert_eq!(polylines_in(&svg, &colour), 5);
    assert!(svg.matches("<rect").count() >= 42, "one heat-map cell per grid design");
    assert!(design_trace_plot(&paths, None, &DesignBox::uniform(3, -1.0, 1.0), None).is_err());
    let curve = eig_surface_plot(grid.slice(ndarray::s![..6, 1..]), &eig[..6], Some(&[0.01; 6]), &names(1)).unwrap();
    assert_svg(&curve, &["EIG over theta_1", "EIG (nats)"]);

    let steps: Vec<SequentialStep> = (1..=3)
        .map(|t| SequentialStep {
            step: t,
            design: vec![t as f64, -(t as f64)],
            observation: vec![0.1],
            chosen_by: if t == 1 { DesignSource::Protocol } else { DesignSource::Mprga },
            eig: (t > 1).then_some(0.5 * t as f64),
            eig_stderr: (t > 1).then_some(0.05),
            posterior_mean: vec![0.0; 4],
            posterior_sd: vec![1.0 / t as f64; 4],
            effective_size: 100.0,
            acceptance: 0.3,
            design_seconds: 1.0,
            seconds: 1.1,
        })
        .collect();
    let run = SequentialRun {
        policy: SequentialPolicy::Adaptive,
        true_theta: vec![0.5, 0.5, -1.0, 2.0],
        steps,
        particles: (0..50).map(|i| vec![0.01 * i as f64, 0.5, -1.0, 2.0 - 0.01 * i as f64]).collect(),
        log_evidence: -3.0,
        spce: Some(2.5),
        seconds: 3.3,
    };
    let svg = sequential_plot(&run, &bounds, true).unwrap();
    assert_svg(&svg, &["adaptive policy, 3 steps, sPCE 2.500 nats", "posterior standard deviation", "θ4"]);
    assert_eq!(polylines_in(&svg, &colour), 1, "one design path");
    // 50 particles × 2 sources in grey.
    assert_eq!(svg.matches("#787878").count(), 100);
    let path = std::env::temp_dir().join(format!("lindley-sequential-plot-{}.svg", std::process::id()));
    save_svg(&path, &svg).unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() > 1000);
    std::fs::remove_file(&path).unwrap();
}
