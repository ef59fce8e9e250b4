//! The plots are valid SVG documents with their labels and valid PNG images with text drawn, are
//! written to files in the format of the extension, and refuse empty or non-finite input.

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
    let names3 = names(3);
    let svg = pair_plot(samples.view(), Some(reference.view()), Some(truth.view()), &names3).unwrap().svg().unwrap();
    assert_svg(&svg, &["theta_1", "theta_2", "theta_3", "density", "orange: reference", "red: true parameters"]);
    // Reference points in orange (255,127,14) and the truth in red (214,39,40) are drawn.
    assert!(svg.contains("#FF7F0E"), "no reference colour");
    assert!(svg.contains("#D62728"), "no truth colour");
    // Three scatter panels with 2000 (thinned) + 1000 points each, less the few outside the
    // 0.5%–99.5% quantile ranges.
    let circles = svg.matches("<circle").count();
    assert!(circles > 3 * 2800 && circles <= 3 * 3000, "{circles} circles");
    let plain = pair_plot(samples.view(), None, None, &names3).unwrap().svg().unwrap();
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
    // Finite, but an axis padded around ±1e308 would span ±∞.
    let mut huge = samples.clone();
    (huge[[0, 0]], huge[[1, 0]]) = (1e308, -1e308);
    let error = pair_plot(huge.view(), None, None, &names(2)).unwrap_err();
    assert!(error.to_string().contains("row 0 column 0 is 1e308, beyond"), "{error}");
    assert!(pair_plot(samples.view(), None, None, &[]).is_err());
}

#[test]
fn rank_histograms_show_band_and_pvalues() {
    let theta = gaussian(200, 2, 0.0, 3);
    let samples: Vec<Array2<f64>> = (0..200).map(|i| gaussian(50, 2, 0.0, 100 + i)).collect();
    let result = sbc_ranks(theta.view(), &samples).unwrap();
    let names2 = names(2);
    let svg = rank_histograms(&result, &names2).unwrap().svg().unwrap();
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
    let svg = coverage_plot(&[("TARP", &curve)]).unwrap().svg().unwrap();
    assert_svg(&svg, &["credibility level", "empirical coverage", "calibrated", "TARP (ATC"]);
    let report = TrainReport {
        epochs: 3,
        best_epoch: 2,
        train_loss: vec![2.0, 1.5, 1.2],
        validation_loss: vec![2.1, 1.6, 1.7],
        epoch_seconds: vec![0.1; 3],
        seconds: 0.3,
    };
    let loss = training_curve(&report).unwrap().svg().unwrap();
    assert_svg(&loss, &["epoch", "loss", "training loss", "validation loss", "kept epoch 2"]);
    let folder = std::env::temp_dir().join(format!("lindley-plot-test-{}", std::process::id()));
    let path = folder.join("nested").join("coverage.svg");
    coverage_plot(&[("TARP", &curve)]).unwrap().save(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), svg);
    let error = training_curve(&report).unwrap().save(&folder.join("loss.jpg")).unwrap_err();
    assert!(error.to_string().contains("must be .svg or .png"), "{error}");
    assert!(!folder.join("loss.jpg").exists());
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
    assert_svg(
        &lc2st_plot(&lc2st).unwrap().svg().unwrap(),
        &["L-C2ST: T = 2.000e-2, p = 0.167", "observed", "null hypothesis"],
    );
    lc2st.null_statistics.clear();
    assert!(lc2st_plot(&lc2st).is_err());
}

/// The chunks of a PNG file (type, data), each CRC checked; panics on a malformed file.
fn png_chunks(png: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    let mut chunks = Vec::new();
    let mut at = 8;
    while at < png.len() {
        let length = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = png[at + 4..at + 8].try_into().unwrap();
        let data = png[at + 8..at + 8 + length].to_vec();
        let crc = u32::from_be_bytes(png[at + 8 + length..at + 12 + length].try_into().unwrap());
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&kind);
        hasher.update(&data);
        assert_eq!(hasher.finalize(), crc, "CRC of chunk {}", String::from_utf8_lossy(&kind));
        chunks.push((kind, data));
        at += 12 + length;
    }
    chunks
}

/// Decodes a PNG written by [`encode_png`] (8-bit RGB, filter 0): width, height and RGB bytes.
fn decode_png(png: &[u8]) -> (u32, u32, Vec<u8>) {
    use std::io::Read as _;
    let chunks = png_chunks(png);
    let kinds: Vec<&[u8]> = chunks.iter().map(|(k, _)| k.as_slice()).collect();
    assert_eq!(kinds, [b"IHDR".as_slice(), b"IDAT", b"IEND"]);
    let header = &chunks[0].1;
    let width = u32::from_be_bytes(header[0..4].try_into().unwrap());
    let height = u32::from_be_bytes(header[4..8].try_into().unwrap());
    assert_eq!(&header[8..], &[8, 2, 0, 0, 0], "bit depth 8, RGB, no interlace");
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(chunks[1].1.as_slice()).read_to_end(&mut raw).unwrap();
    let row = 1 + 3 * width as usize;
    assert_eq!(raw.len(), row * height as usize);
    let rgb = raw.chunks_exact(row).flat_map(|line| {
        assert_eq!(line[0], 0, "filter type 0");
        line[1..].to_vec()
    });
    (width, height, rgb.collect())
}

#[test]
fn pair_plot_png_decodes_at_its_size_with_text_and_colours() {
    let samples = gaussian(2000, 2, 0.0, 5);
    let truth = array![0.2, -0.1];
    let labelled = ["theta_1".to_string(), "theta_2".to_string()];
    let figure = pair_plot(samples.view(), None, Some(truth.view()), &labelled).unwrap();
    let path = std::env::temp_dir().join(format!("lindley-plot-png-{}", std::process::id())).join("pairs.PNG");
    figure.save(&path).unwrap();
    let (width, height, rgb) = decode_png(&std::fs::read(&path).unwrap());
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    assert_eq!((width, height), (2 * PANEL, 2 * PANEL + 30));
    assert_eq!(figure.size(), (width, height));
    let pixels: Vec<&[u8]> = rgb.chunks_exact(3).collect();
    let count = |colour: [u8; 3]| pixels.iter().filter(|p| **p == colour).count();
    // Mostly white background, the truth in its exact red (opaque 3-pixel strokes), black axes and text.
    assert!(count([255, 255, 255]) > pixels.len() / 2);
    assert!(count([214, 39, 40]) > 50, "{} truth-coloured pixels", count([214, 39, 40]));
    assert!(count([0, 0, 0]) > 500, "{} black pixels", count([0, 0, 0]));
    // Text is rasterised: other axis labels change the image, and only in the label areas.
    let renamed = ["a".to_string(), "b".to_string()];
    let other = pair_plot(samples.view(), None, Some(truth.view()), &renamed).unwrap().png().unwrap();
    let (_, _, other_rgb) = decode_png(&other);
    let changed = rgb.chunks_exact(3).zip(other_rgb.chunks_exact(3)).filter(|(a, b)| a != b).count();
    assert!(changed > 30 && changed < pixels.len() / 20, "{changed} pixels differ between axis labels");
    assert!(encode_png(2, 2, &[0; 11]).is_err());
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
    let svg = design_trace_plot(&paths, Some(&[0.5, -1.0]), &bounds, Some((grid.view(), &eig))).unwrap().svg().unwrap();
    assert_svg(&svg, &["5 MPR-GA restarts on the EIG surface", "ξ₁", "ξ₂"]);
    let colour = format!("#{:02X}{:02X}{:02X}", PATH_COLOUR.0, PATH_COLOUR.1, PATH_COLOUR.2);
    assert_eq!(polylines_in(&svg, &colour), 5);
    assert!(svg.matches("<rect").count() >= 42, "one heat-map cell per grid design");
    assert!(design_trace_plot(&paths, None, &DesignBox::uniform(3, -1.0, 1.0), None).is_err());
    let curve = eig_surface_plot(grid.slice(ndarray::s![..6, 1..]), &eig[..6], Some(&[0.01; 6]), &names(1))
        .unwrap()
        .svg()
        .unwrap();
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
        log_evidence: Some(-3.0),
        spce: Some(2.5),
        seconds: 3.3,
    };
    let figure = sequential_plot(&run, &bounds, true).unwrap();
    let svg = figure.svg().unwrap();
    assert_svg(&svg, &["adaptive policy, 3 steps, sPCE 2.500 nats", "posterior standard deviation", "θ4"]);
    assert_eq!(polylines_in(&svg, &colour), 1, "one design path");
    // 50 particles × 2 sources in grey.
    assert_eq!(svg.matches("#787878").count(), 100);
    let path = std::env::temp_dir().join(format!("lindley-sequential-plot-{}.svg", std::process::id()));
    figure.save(&path).unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() > 1000);
    std::fs::remove_file(&path).unwrap();
}
