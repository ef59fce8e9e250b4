//! `lindley train <method>`: train an inference method on simulations from a task, a simulator
//! program, or the user's own files, and write a model file.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use lindley::data::Dataset;
use lindley::distributions::Distribution;
use lindley::flows::{EstimatorConfig, EstimatorKind};
use lindley::inference::{
    AnyPosterior, Nle, NleConfig, Npe, NpeConfig, Nre, NreConfig, NreLoss, RoundMethod, SequentialConfig, ThetaSpace,
    Vae, VaeConfig, VaeKind, run_rounds,
};
use lindley::mcmc::Sampler;
use lindley::nn::{EmbeddingConfig, EmbeddingKind};
use lindley::train::{EpochProgress, TrainConfig, TrainReport};

use super::simulate::{Resolved, Source};
use crate::progress;

/// The methods `lindley train` knows.
#[derive(clap::Subcommand)]
pub enum Method {
    /// Neural posterior estimation: a conditional flow q(θ | x), amortised over observations.
    Npe(Args),
    /// Neural likelihood estimation: a conditional flow q(x | θ); the posterior is sampled by
    /// MCMC (default: MAF, 5 transforms, 50 hidden units; 100 slice-sampling chains). For count or
    /// binary data put `dequantize = true` in --config (the flow is trained on x + U(−½, ½)).
    Nle(McmcArgs),
    /// Neural ratio estimation: a ResNet classifier of (θ, x) (of (θ, e(x)) with --embedding)
    /// trained with the loss of --loss (default NRE-B, contrastive with 10 atoms); the posterior is
    /// sampled by MCMC.
    Nre(NreArgs),
    /// Rejection ABC for one observation (--observation): simulate --budget draws from the prior,
    /// keep the closest (default 100, as sbibm; --quantile, --keep or --epsilon), optionally with
    /// Beaumont's regression adjustment. Trains no model: --out receives posterior samples (CSV
    /// with the parameter names as header, or .npy), drawn from a KDE of the kept parameters.
    Abc(super::abc::RejectionArgs),
    /// SMC-ABC (population Monte Carlo ABC, Beaumont et al. 2009, sbibm's settings) for one
    /// observation (--observation). Trains no model: --out receives posterior samples (CSV with the
    /// parameter names as header, or .npy), drawn from a KDE of the final population.
    Smcabc(super::abc::SmcArgs),
    /// Sequential NPE (SNPE-C / APT, Greenberg et al. 2019): the budget spent in rounds at one
    /// observation, round 1 from the prior, later rounds from the current posterior, trained with
    /// the atomic loss (10 atoms). The model is an NPE model, accurate near --observation.
    Snpe(SequentialArgs),
    /// Truncated sequential NPE (TSNPE, Deistler et al. 2022): like snpe, but rounds after the
    /// first draw θ from the prior truncated to the current posterior's highest-density region
    /// (mass 1 − 10⁻⁴; `[sequential] epsilon` in --config), and every round trains by maximum
    /// likelihood. Writes an NPE model, accurate near --observation.
    Tsnpe(SequentialArgs),
    /// Sequential NLE: rounds whose parameters are MCMC draws of the current posterior at
    /// --observation; the likelihood flow is trained on all rounds. Writes an NLE model.
    Snle(SequentialMcmcArgs),
    /// Sequential NRE: rounds whose parameters are MCMC draws of the current posterior at
    /// --observation; the classifier is trained on all rounds with the loss of --loss (default
    /// NRE-B, i.e. SNRE-B). Writes an NRE model.
    Snre(SequentialNreArgs),
    /// CP-VAE ("Accelerating SBI with variational autoencoders"): encoder q(z | θ, x), conditional
    /// prior p(z | x) and decoder p(θ | x, z), Leaky-ReLU MLPs (default 3 × 128 units, latent
    /// dimension = number of parameters; batch 32, AdamW 5e-4, gradient clipping 3). The posterior
    /// is sampled by decoding; it has no density (no `lindley map`).
    Cpvae(VaeArgs),
    /// UP-VAE: like CP-VAE with the standard-normal prior p(z) and a data decoder p(x | z); loss
    /// weights 0.4 (KL), 0.4 (θ), 0.2 (x).
    Upvae(VaeArgs),
}

/// The NRE losses selectable on the command line.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum NreLossKind {
    /// NRE-A: binary classification of joint against marginal pairs (Hermans et al. 2020).
    A,
    /// NRE-B: contrastive classification among 10 atoms (Durkan et al. 2020).
    B,
    /// NRE-C: K = 5 classes and γ = 1, with the all-marginal class 0 (Miller et al. 2022).
    C,
    /// BNRE: NRE-A with the balancing penalty, λ = 100 (Delaunoy et al. 2022).
    Bnre,
}

impl NreLossKind {
    /// The loss with its default settings.
    pub fn loss(self) -> NreLoss {
        match self {
            NreLossKind::A => NreLoss::Binary,
            NreLossKind::B => NreLoss::Contrastive { atoms: 10 },
            NreLossKind::C => NreLoss::multiclass(),
            NreLossKind::Bnre => NreLoss::balanced(),
        }
    }
}

/// Arguments of `lindley train nre`.
#[derive(clap::Args)]
pub struct NreArgs {
    #[command(flatten)]
    method: McmcArgs,
    /// Classification loss: a, b, c (NRE-C) or bnre; overrides [loss] of --config, with that
    /// loss's default settings (set K, γ or λ in --config instead).
    #[arg(long)]
    loss: Option<NreLossKind>,
}

/// Arguments of `lindley train cpvae` and `lindley train upvae`.
#[derive(clap::Args)]
pub struct VaeArgs {
    #[command(flatten)]
    common: Args,
    /// Latent dimension (default: the number of parameters).
    #[arg(long)]
    latent: Option<usize>,
    /// Hidden layers of every network (each --hidden units wide; default 3 × 128).
    #[arg(long)]
    layers: Option<usize>,
}

impl VaeArgs {
    /// VAE settings of `kind`: the settings file with the command-line overrides applied.
    fn vae_config(&self, kind: VaeKind) -> Result<VaeConfig> {
        let args = &self.common;
        if args.density.is_some() || args.transforms.is_some() {
            bail!("--density and --transforms set a flow; a VAE has MLPs (use --hidden, --layers and --latent)");
        }
        let mut config: VaeConfig = super::read_config(args.config.as_ref())?;
        config.kind = kind;
        if args.hidden.is_some() || self.layers.is_some() {
            let width = args.hidden.unwrap_or_else(|| config.hidden.first().copied().unwrap_or(128));
            let layers = self.layers.unwrap_or(config.hidden.len());
            config.hidden = vec![width; layers];
        }
        let mut estimator = EstimatorConfig::default();
        args.apply(&mut estimator, &mut config.training);
        if self.latent.is_some() {
            config.latent = self.latent;
        }
        Ok(config)
    }
}

/// Arguments of the sequential rounds.
#[derive(clap::Args)]
pub struct RoundArgs {
    /// Rounds the budget is split over evenly: round 1 draws parameters from the prior, every
    /// later round from the current posterior at --observation.
    #[arg(long, default_value_t = 10)]
    rounds: usize,
    /// The observation the rounds focus on: CSV with a header row and one data row, or a `.npy`
    /// vector.
    #[arg(long)]
    observation: PathBuf,
}

/// Arguments of `lindley train snpe`.
#[derive(clap::Args)]
pub struct SequentialArgs {
    #[command(flatten)]
    common: Args,
    #[command(flatten)]
    rounds: RoundArgs,
}

/// Arguments of `lindley train snle`.
#[derive(clap::Args)]
pub struct SequentialMcmcArgs {
    #[command(flatten)]
    method: McmcArgs,
    #[command(flatten)]
    rounds: RoundArgs,
}

/// Arguments of `lindley train snre`.
#[derive(clap::Args)]
pub struct SequentialNreArgs {
    #[command(flatten)]
    method: McmcArgs,
    #[command(flatten)]
    rounds: RoundArgs,
    /// Classification loss of every round: a, b, c (NRE-C) or bnre; overrides [loss] of
    /// --config, with that loss's default settings (set K, γ or λ in --config instead).
    #[arg(long)]
    loss: Option<NreLossKind>,
}

/// The MCMC kernels selectable on the command line.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum SamplerKind {
    /// Coordinate-wise slice sampling, vectorised over chains (sbi's default).
    Slice,
    /// Adaptive Gaussian random-walk Metropolis.
    Metropolis,
    /// The No-U-Turn sampler with gradients of the network (Stan's settings: depth 10,
    /// acceptance 0.8, diagonal mass matrix).
    Nuts,
}

impl SamplerKind {
    /// The kernel with its initial scale (both adapt during warm-up).
    pub fn sampler(self) -> Sampler {
        match self {
            SamplerKind::Slice => Sampler::Slice { width: 1.0 },
            SamplerKind::Metropolis => Sampler::Metropolis { step: 0.5 },
            SamplerKind::Nuts => Sampler::nuts(),
        }
    }
}

/// Arguments of the MCMC-sampled methods (NLE, NRE).
#[derive(clap::Args)]
pub struct McmcArgs {
    #[command(flatten)]
    common: Args,
    /// MCMC kernel of the posterior (stored in the model file): slice, metropolis or nuts.
    #[arg(long, visible_alias = "mcmc")]
    sampler: Option<SamplerKind>,
    /// Coordinates in which the network reads θ (stored in the model file): `prior` (θ as the
    /// prior draws it) or `unconstrained` (the prior's bijection onto ℝᴰ: logit of bounded, log
    /// of positive parameters). Defaults: unconstrained for NLE, prior for NRE.
    #[arg(long, value_parser = parse_theta_space)]
    theta_space: Option<ThetaSpace>,
}

/// A [`ThetaSpace`] from its settings-file name.
fn parse_theta_space(name: &str) -> Result<ThetaSpace> {
    serde_json::from_value(serde_json::Value::String(name.into()))
        .map_err(|_| anyhow::anyhow!("`{name}` is not a θ space: use `prior` or `unconstrained`"))
}

/// Arguments shared by every method.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    source: Source,
    /// Number of simulations to run (with --task or --program).
    #[arg(long, default_value_t = 10_000)]
    budget: usize,
    /// Train on simulations in a file instead: `.csv` with a header row whose first columns are
    /// the parameters (as many as the prior has) and the rest the data, or `.npz` with arrays
    /// theta and x. Needs --prior (or --task for a built-in prior).
    #[arg(long, conflicts_with_all = ["program", "theta"])]
    data: Option<PathBuf>,
    /// Parameters in a file of their own (`.csv` or `.npy`), with --x.
    #[arg(long, requires = "x")]
    theta: Option<PathBuf>,
    /// Simulated data in a file of their own (`.csv` or `.npy`), with --theta.
    #[arg(long, requires = "theta")]
    x: Option<PathBuf>,
    /// Settings file (TOML) with [estimator] and [training] tables; flags below override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Density estimator: nsf, nsf_autoregressive, maf, affine_coupling, mdn, gaussian.
    #[arg(long)]
    density: Option<EstimatorKind>,
    /// Flow layers.
    #[arg(long)]
    transforms: Option<usize>,
    /// Hidden units per conditioner layer.
    #[arg(long)]
    hidden: Option<usize>,
    /// Embedding (summary) net for x, trained with the estimator (NPE) or classifier (NRE):
    /// mlp; deepsets (permutation invariant, for iid trials; see --trial-dim); cnn or lstm
    /// (1-D convolutional / bidirectional LSTM, for time series; see --channels). Stored in the
    /// model file.
    #[arg(long)]
    embedding: Option<EmbeddingKind>,
    /// Values per trial for --embedding deepsets: x holds its iid trials one after another, each
    /// of this many values (default 1).
    #[arg(long)]
    trial_dim: Option<usize>,
    /// Number of series for --embedding cnn|lstm: x holds each channel's whole series in turn,
    /// all of the same length (default 1).
    #[arg(long)]
    channels: Option<usize>,
    /// Output features of the embedding net (default 20).
    #[arg(long)]
    embedding_features: Option<usize>,
    /// Hidden units of the embedding net's layers (default 50).
    #[arg(long)]
    embedding_hidden: Option<usize>,
    /// Mini-batch size.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Learning rate.
    #[arg(long)]
    learning_rate: Option<f64>,
    /// Epochs without validation improvement before stopping.
    #[arg(long)]
    patience: Option<usize>,
    /// Upper limit on epochs.
    #[arg(long)]
    max_epochs: Option<usize>,
    /// Seed of the simulations, the network initialisation and the training order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Model file to write (safetensors with a JSON header).
    #[arg(long)]
    out: PathBuf,
    /// Also draw the training and validation loss per epoch to this file (.svg or .png).
    #[arg(long)]
    loss_plot: Option<PathBuf>,
}

impl Args {
    /// Apply the command-line overrides of the estimator and the training loop.
    fn apply(&self, estimator: &mut EstimatorConfig, training: &mut TrainConfig) {
        if let Some(kind) = self.density {
            estimator.kind = kind;
        }
        let set = |target: &mut usize, value: Option<usize>| {
            if let Some(v) = value {
                *target = v;
            }
        };
        set(&mut estimator.transforms, self.transforms);
        set(&mut estimator.hidden, self.hidden);
        set(&mut training.batch_size, self.batch_size);
        set(&mut training.patience, self.patience);
        set(&mut training.max_epochs, self.max_epochs);
        if let Some(lr) = self.learning_rate {
            training.learning_rate = lr;
        }
        training.seed = self.seed;
    }

    /// The embedding net: the settings file's (`base`) with the command-line flags applied;
    /// shape flags that do not belong to the chosen net are errors.
    fn embedding(&self, base: Option<EmbeddingConfig>) -> Result<Option<EmbeddingConfig>> {
        let mut config = match (self.embedding, base) {
            (Some(kind), Some(base)) if base.kind == kind => base,
            (Some(kind), _) => EmbeddingConfig::of_kind(kind),
            (None, Some(base)) => base,
            (None, None) => {
                if self.trial_dim.is_some()
                    || self.channels.is_some()
                    || self.embedding_features.is_some()
                    || self.embedding_hidden.is_some()
                {
                    bail!("--trial-dim, --channels, --embedding-features and --embedding-hidden need --embedding KIND");
                }
                return Ok(None);
            }
        };
        if let Some(trial_dim) = self.trial_dim {
            if config.kind != EmbeddingKind::DeepSets {
                bail!("--trial-dim is for --embedding deepsets, not {}", config.kind.name());
            }
            config.trial_dim = trial_dim;
        }
        if let Some(channels) = self.channels {
            if !matches!(config.kind, EmbeddingKind::Cnn | EmbeddingKind::Lstm) {
                bail!("--channels is for --embedding cnn or lstm, not {}", config.kind.name());
            }
            config.channels = channels;
        }
        if let Some(features) = self.embedding_features {
            config.features = features;
        }
        if let Some(hidden) = self.embedding_hidden {
            config.hidden = hidden;
        }
        Ok(Some(config))
    }

    /// NPE settings: the settings file with the command-line overrides applied.
    fn npe_config(&self, base: NpeConfig) -> Result<NpeConfig> {
        let mut config = crate::settings::read_over(self.config.as_ref(), base)?;
        self.apply(&mut config.estimator, &mut config.training);
        config.estimator.embedding = self.embedding(config.estimator.embedding.take())?;
        Ok(config)
    }

    /// The simulations to train on, with the prior, names and task they come with.
    fn simulations(&self) -> Result<Prepared> {
        if self.data.is_some() || self.theta.is_some() {
            let prior = match (&self.source.prior, &self.source.task) {
                (Some(path), _) => super::read_prior(path)?,
                (None, Some(name)) => super::task(name)?.prior,
                (None, None) => bail!("training on a data file needs the prior: --prior FILE (or --task NAME)"),
            };
            let data = match (&self.data, &self.theta, &self.x) {
                (Some(path), _, _) => Dataset::load(path, Some(prior.dim()))?,
                (None, Some(theta), Some(x)) => Dataset::load_pair(theta, x)?,
                _ => bail!("give the simulations as --data FILE, or as --theta FILE with --x FILE"),
            };
            let parameter_names = data.parameter_names().to_vec();
            let data_names = data.data_names().to_vec();
            Ok(Prepared { prior, parameter_names, data_names, task: None, data })
        } else {
            let resolved = self.source.resolve()?;
            let start = std::time::Instant::now();
            let data = resolved.simulate(self.budget, self.seed).context("simulation failed")?;
            tracing::info!("simulated {} pairs in {:.1} s", data.len(), start.elapsed().as_secs_f64());
            Ok(Prepared {
                prior: resolved.prior.clone(),
                parameter_names: resolved.parameter_names.clone(),
                data_names: resolved.data_names.clone(),
                task: resolved.task.clone(),
                data,
            })
        }
    }
}

impl McmcArgs {
    /// NLE settings: the settings file with the command-line overrides applied.
    fn nle_config(&self) -> Result<NleConfig> {
        if self.common.embedding.is_some() {
            bail!("--embedding summarises x for NPE and NRE; NLE's flow models x itself and conditions on θ");
        }
        let mut config: NleConfig = super::read_config(self.common.config.as_ref())?;
        self.common.apply(&mut config.estimator, &mut config.training);
        config.estimator.embedding = self.common.embedding(config.estimator.embedding.take())?;
        config.theta_space = self.theta_space.unwrap_or(config.theta_space);
        if let Some(kind) = self.sampler {
            config.mcmc.sampler = kind.sampler();
            if matches!(kind, SamplerKind::Nuts) {
                // NUTS draws are nearly independent: no thinning.
                config.mcmc.thin = 1;
            }
        }
        Ok(config)
    }

    /// NRE settings: the settings file with the command-line overrides applied (--hidden sets
    /// the classifier's width, `loss` the loss; the flow flags do not apply).
    fn nre_config(&self, loss: Option<NreLossKind>) -> Result<NreConfig> {
        let args = &self.common;
        if args.density.is_some() || args.transforms.is_some() {
            bail!(
                "--density and --transforms set a flow; NRE trains a classifier (use --hidden, or [classifier] in --config)"
            );
        }
        let mut config: NreConfig = super::read_config(args.config.as_ref())?;
        if let Some(kind) = loss {
            config.loss = kind.loss();
        }
        let mut estimator = EstimatorConfig { hidden: config.classifier.hidden, ..Default::default() };
        args.apply(&mut estimator, &mut config.training);
        config.classifier.hidden = estimator.hidden;
        config.classifier.embedding = args.embedding(config.classifier.embedding.take())?;
        config.theta_space = self.theta_space.unwrap_or(config.theta_space);
        if let Some(kind) = self.sampler {
            config.mcmc.sampler = kind.sampler();
            if matches!(kind, SamplerKind::Nuts) {
                // NUTS draws are nearly independent: no thinning.
                config.mcmc.thin = 1;
            }
        }
        Ok(config)
    }
}

impl RoundArgs {
    /// Run the rounds of `method` (already built with no simulations) on the simulator of `args`,
    /// logging each round, and return the last round's posterior and training report.
    fn run<M: RoundMethod>(
        &self,
        args: &Args,
        make: impl FnOnce(&Resolved) -> Result<M>,
        label: &str,
    ) -> Result<(M::Posterior, TrainReport)> {
        if args.data.is_some() || args.theta.is_some() {
            bail!("sequential rounds simulate as they go: give --task NAME or --program CMD, not a data file");
        }
        let resolved = args.source.resolve()?;
        let observation = super::read_observation(&self.observation, resolved.data_names.len())?;
        let mut method = make(&resolved)?;
        let config = SequentialConfig { rounds: self.rounds, seed: args.seed, ..Default::default() };
        let (bar, mut update) = progress::training(label);
        let mut shown = 0;
        let (posterior, report) = run_rounds(
            &mut method,
            resolved.simulator.as_ref(),
            observation.view(),
            args.budget,
            &config,
            &mut |round, epoch| {
                if round != shown {
                    bar.set_prefix(format!("{label}, round {round}/{}", self.rounds));
                    shown = round;
                }
                update(epoch)
            },
        )?;
        bar.finish_and_clear();
        for round in &report.rounds {
            for warning in &round.warnings {
                tracing::warn!("round {}: {warning}", round.round);
            }
            tracing::info!(
                "round {}: {} simulations ({} dropped), proposals {:.1} s, simulation {:.1} s, training {} epochs {:.1} s",
                round.round,
                round.simulations,
                round.dropped,
                round.proposal_seconds,
                round.simulation_seconds,
                round.training.epochs,
                round.training.seconds
            );
        }
        let last = report.rounds.last().map(|r| r.training.clone()).unwrap_or_default();
        Ok((posterior, last))
    }
}

/// Simulations ready to append, with what the model file records about them.
struct Prepared {
    prior: Distribution,
    parameter_names: Vec<String>,
    data_names: Vec<String>,
    task: Option<String>,
    data: Dataset,
}

/// Build a method from its settings (read first, so that a bad settings file is reported before
/// any simulation runs) and prepared simulations, append them, and warn about dropped rows.
macro_rules! with_simulations {
    ($method:ident, $config:expr, $prepared:expr) => {{
        let config = $config;
        let p = $prepared;
        let mut method = $method::new(p.prior, config).with_names(p.parameter_names, p.data_names)?.with_task(p.task);
        let dropped = method.append_simulations(p.data)?;
        if dropped.count > 0 {
            tracing::warn!("{dropped}");
        }
        method
    }};
}

/// A method with no simulations yet, under the prior of a resolved source with its names.
macro_rules! named {
    ($method:ident, $resolved:expr, $config:expr) => {{
        let r: &Resolved = $resolved;
        Ok($method::new(r.prior.clone(), $config)
            .with_names(r.parameter_names.clone(), r.data_names.clone())?
            .with_task(r.task.clone()))
    }};
}

/// Training of an amortised method, reporting each epoch to the callback.
type AmortisedTraining<'a> = dyn Fn(&mut dyn FnMut(&EpochProgress)) -> Result<(AnyPosterior, TrainReport)> + 'a;

/// Train the chosen method and write its model file.
pub fn run(method: Method) -> Result<()> {
    let (label, common) = match &method {
        Method::Abc(args) => return super::abc::run_rejection(args),
        Method::Smcabc(args) => return super::abc::run_smc(args),
        Method::Npe(args) => ("training NPE", args),
        Method::Nle(args) => ("training NLE", &args.common),
        Method::Nre(args) => ("training NRE", &args.method.common),
        Method::Snpe(args) => ("training SNPE", &args.common),
        Method::Tsnpe(args) => ("training TSNPE", &args.common),
        Method::Snle(args) => ("training SNLE", &args.method.common),
        Method::Snre(args) => ("training SNRE", &args.method.common),
        Method::Cpvae(args) => ("training CP-VAE", &args.common),
        Method::Upvae(args) => ("training UP-VAE", &args.common),
    };
    let (out, loss_plot) = (common.out.clone(), common.loss_plot.clone());
    if let Some(path) = &loss_plot {
        // A wrong extension is refused before training, not after.
        lindley::plot::Format::of_path(path)?;
    }
    let amortised = |train: &AmortisedTraining| {
        let (bar, mut update) = progress::training(label);
        let result = train(&mut update);
        bar.finish_and_clear();
        result
    };
    let (posterior, report) = match &method {
        Method::Npe(args) => amortised(&|update| {
            let npe = with_simulations!(Npe, args.npe_config(NpeConfig::default())?, args.simulations()?);
            let (posterior, report) = npe.train(update)?;
            Ok((AnyPosterior::Direct(posterior), report))
        })?,
        Method::Nle(args) => amortised(&|update| {
            let nle = with_simulations!(Nle, args.nle_config()?, args.common.simulations()?);
            let (posterior, report) = nle.train(update)?;
            Ok((AnyPosterior::Mcmc(posterior), report))
        })?,
        Method::Nre(args) => amortised(&|update| {
            let config = args.method.nre_config(args.loss)?;
            let nre = with_simulations!(Nre, config, args.method.common.simulations()?);
            let (posterior, report) = nre.train(update)?;
            Ok((AnyPosterior::Mcmc(posterior), report))
        })?,
        Method::Snpe(args) | Method::Tsnpe(args) => {
            // TSNPE is NPE with truncated rounds: its settings file is read over that default.
            let base = if matches!(method, Method::Tsnpe(_)) { NpeConfig::tsnpe() } else { NpeConfig::default() };
            let config = args.common.npe_config(base)?;
            let (posterior, report) = args.rounds.run(&args.common, |r| named!(Npe, r, config), label)?;
            (AnyPosterior::Direct(posterior), report)
        }
        Method::Snle(args) => {
            let config = args.method.nle_config()?;
            let (posterior, report) = args.rounds.run(&args.method.common, |r| named!(Nle, r, config), label)?;
            (AnyPosterior::Mcmc(posterior), report)
        }
        Method::Snre(args) => {
            let config = args.method.nre_config(args.loss)?;
            config.loss.validate()?;
            let (posterior, report) = args.rounds.run(&args.method.common, |r| named!(Nre, r, config), label)?;
            (AnyPosterior::Mcmc(posterior), report)
        }
        Method::Cpvae(args) | Method::Upvae(args) => amortised(&|update| {
            let kind = if matches!(method, Method::Cpvae(_)) { VaeKind::Conditional } else { VaeKind::Unconditional };
            let vae = with_simulations!(Vae, args.vae_config(kind)?, args.common.simulations()?);
            let (posterior, report) = vae.train(update)?;
            Ok((AnyPosterior::Vae(posterior), report))
        })?,
        Method::Abc(_) | Method::Smcabc(_) => unreachable!("ABC methods returned above"),
    };
    posterior.save(&out)?;
    if let Some(path) = &loss_plot {
        lindley::plot::training_curve(&report)?.save(path)?;
        tracing::info!("wrote the training curve to {}", path.display());
    }
    let summary = &posterior.header().training;
    tracing::info!(
        "trained on {} simulations: {} epochs (best {}), validation loss {:.4}, {:.1} s ({:.3} s/epoch); wrote {}",
        summary.simulations,
        report.epochs,
        report.best_epoch,
        summary.best_validation_loss,
        report.seconds,
        report.seconds / report.epochs.max(1) as f64,
        out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn theta_spaces_parse_by_their_settings_names_and_others_are_named_in_the_error() {
        assert_eq!(parse_theta_space("prior").unwrap(), ThetaSpace::Prior);
        assert_eq!(parse_theta_space("unconstrained").unwrap(), ThetaSpace::Unconstrained);
        let error = parse_theta_space("logit").unwrap_err().to_string();
        assert!(error.contains("`logit` is not a θ space") && error.contains("`prior` or `unconstrained`"), "{error}");
    }
}
