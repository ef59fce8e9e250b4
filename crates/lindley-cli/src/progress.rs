//! Progress bars for long-running work, drawn on stderr (hidden when stderr is not a terminal).

use indicatif::{ProgressBar, ProgressStyle};
use lindley::train::EpochProgress;

/// A spinner for a training run whose length is set by early stopping; returns the bar and the
/// callback that updates it after every epoch.
pub fn training(label: &str) -> (ProgressBar, impl FnMut(&EpochProgress)) {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix} [{elapsed_precise}] {msg}").expect("valid template"),
    );
    bar.set_prefix(label.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let handle = bar.clone();
    let update = move |p: &EpochProgress| {
        handle.set_message(format!(
            "epoch {} · train loss {:.4} · validation {:.4} (best {:.4}, {}/{} epochs without improvement)",
            p.epoch, p.train_loss, p.validation_loss, p.best_validation_loss, p.epochs_without_improvement, p.patience
        ));
    };
    (bar, update)
}

/// A bar over `total` items of work.
pub fn counter(label: &str, total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
            .expect("valid template"),
    );
    bar.set_prefix(label.to_string());
    bar
}
