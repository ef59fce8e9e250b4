//! `lindley`: simulation-based inference and Bayesian experimental design from the command line.
//! Every subcommand is a thin layer over the `lindley` library; see `lindley --help`.

mod commands;
mod progress;
mod settings;

use clap::{Parser, Subcommand};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Simulation-based inference and Bayesian optimal experimental design.
#[derive(Parser)]
#[command(name = "lindley", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// More log output (-v: debug, -vv: trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the built-in tasks with their dimensions.
    Tasks,
    /// Simulate (θ, x) pairs from a task's prior or a user simulator program.
    Simulate(commands::simulate::Args),
    /// Train an inference method and write a model file.
    #[command(subcommand)]
    Train(Box<commands::train::Method>),
    /// Draw posterior samples for an observation from a trained model.
    Sample(commands::sample::Args),
    /// Find the maximum-a-posteriori parameters for an observation.
    Map(commands::sample::MapArgs),
    /// Check a trained model's calibration (simulation-based calibration, coverage).
    #[command(subcommand)]
    Diagnose(commands::diagnose::Diagnose),
    /// Draw plots (SVG or PNG) of samples, designs and sequential runs.
    #[command(subcommand)]
    Plot(commands::plot::Plot),
    /// Run a benchmark and print its table.
    #[command(subcommand)]
    Bench(commands::bench::Bench),
    /// Optimise a design by multiple parallel restart gradient ascent (MPR-GA) on a learned EIG
    /// bound (infonce), pick the best of many candidates with amortised flows (ba, nle, upper), or
    /// optimise without gradients (--optimizer spsa|design-distribution|grid|random), and write
    /// the design, its EIG and the trace or the candidates' scores as JSON.
    Design(commands::design::DesignArgs),
    /// Sequential design: choose each design by MPR-GA on the current posterior, measure at a hidden
    /// true θ, update the posterior, design again; over rollouts, against random designs, scored
    /// by sPCE (JSON output).
    Sequential(commands::sequential::SequentialArgs),
    /// Score designs (CSV, one per row) by a true-likelihood EIG estimator (PCE, NMC, sNMC) or a
    /// learned one (Barber–Agakov, NLE direct, marginal upper bound).
    Eig(commands::design::EigArgs),
    /// A small end-to-end run (about a minute): train NPE on two_moons and compare its posterior
    /// with the reference posterior.
    Demo(commands::demo::Args),
}

fn main() {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::Tasks => commands::tasks::run(),
        Command::Simulate(args) => commands::simulate::run(args),
        Command::Train(method) => commands::train::run(*method),
        Command::Sample(args) => commands::sample::run(args),
        Command::Map(args) => commands::sample::run_map(args),
        Command::Diagnose(diagnose) => commands::diagnose::run(diagnose),
        Command::Plot(plot) => commands::plot::run(plot),
        Command::Bench(bench) => commands::bench::run(bench),
        Command::Design(args) => commands::design::run_design(args),
        Command::Eig(args) => commands::design::run_eig(args),
        Command::Sequential(args) => commands::sequential::run(args),
        Command::Demo(args) => commands::demo::run(args),
    };
    if let Err(error) = result {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("lindley={level},lindley_cli={level}")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .without_time()
        .with_writer(std::io::stderr)
        .init();
}
