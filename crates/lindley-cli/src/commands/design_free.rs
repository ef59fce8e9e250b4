//! `lindley design --optimizer spsa|design-distribution|grid|random`: gradient-free design
//! optimisation ([`optimize_gradient_free`]) for any problem, driven by the true-likelihood PCE or
//! by a learned-density estimator trained once over the design box.

use anyhow::{Context, Result, bail};
use lindley::boed::eig::{ContrastiveEig, ContrastiveKind, EigEstimator, FlowEig, FlowEigConfig, FlowEigKind};
use lindley::boed::optimize::{
    EigObjective, GradientFreeConfig, GradientFreeMethod, estimator_objective, optimize_gradient_free,
};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::design::{DesignArgs, Target, chosen_pce};
use crate::progress;

/// The settings file of the gradient-free optimisers: `[optimizer]` and, for ba/nle/upper, `[flows]`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct Settings {
    optimizer: GradientFreeConfig,
    flows: FlowEigConfig,
}

/// Run `lindley design` with a gradient-free optimiser.
pub fn run(args: DesignArgs) -> Result<()> {
    let Ok(method) = args.optimizer.parse::<GradientFreeMethod>() else {
        bail!("unknown optimiser '{}'; available: mprga, spsa, design-distribution, grid, random", args.optimizer);
    };
    let target = Target::new(&args.problem, args.theta_samples.as_ref())?;
    let settings: Settings = super::read_config(args.config.as_ref())?;
    let mut config = settings.optimizer;
    config.method = method;
    config.seed = args.seed;
    match (args.restarts, method) {
        (Some(n), GradientFreeMethod::Random) => config.candidates = n,
        (Some(n), _) => config.restarts = n,
        (None, _) => {}
    }
    if let Some(steps) = args.steps {
        config.iterations = steps;
    }
    if let Some(points) = args.grid_points {
        config.grid_points = points;
    }
    let pce = ContrastiveEig::new(ContrastiveKind::Pce, args.pce_outer, args.pce_inner);
    let flows;
    let mut objective: Box<dyn EigObjective + '_> = match args.estimator.as_str() {
        "pce" => {
            let Some(explicit) = target.explicit() else {
                bail!(
                    "PCE needs the likelihood, which the simulator-only '{}' does not have; use ba or nle",
                    args.problem
                );
            };
            Box::new(estimator_objective(move |d, s| pce.estimate(explicit, d, s)))
        }
        other => match super::estimators::find(other).and_then(|e| e.flows) {
            Some(kind) => {
                if kind == FlowEigKind::BarberAgakov && args.theta_samples.is_some() {
                    bail!("--theta-samples has no density, which the Barber-Agakov bound (ba) needs");
                }
                target.check_kind(kind, &args.problem)?;
                eprintln!(
                    "training the '{}' flows on {} simulations over the design box of {} …",
                    kind.name(),
                    settings.flows.simulations,
                    args.problem
                );
                flows = FlowEig::train(target.simulator(), &[kind], &settings.flows, None, args.seed)
                    .with_context(|| format!("training the '{}' flows", kind.name()))?;
                let (target, flows) = (&target, &flows);
                Box::new(estimator_objective(move |d, s| target.score(flows, d, s)))
            }
            None => bail!(
                "--optimizer {} needs --estimator pce, ba, nle or upper, not '{other}' (the online critics are \
                     trained at the current designs by MPR-GA: use --optimizer mprga)",
                method.name()
            ),
        },
    };
    let bar = progress::counter(&format!("{} {}", method.name(), args.problem), config.iterations as u64);
    let result = optimize_gradient_free(&target.simulator().design_box(), objective.as_mut(), &config, &mut |p| {
        bar.set_length(p.steps as u64);
        bar.set_position(p.step as u64);
        bar.set_message(format!("best EIG {:.4} · {} running", p.best_eig, p.running));
    })?;
    bar.finish_and_clear();
    let chosen = Array2::from_shape_vec((1, result.design.len()), result.design.clone())?;
    let pce_json = match target.explicit() {
        Some(explicit) => chosen_pce(explicit, chosen.view(), &args)?,
        None => serde_json::Value::Null,
    };
    let analytic = target.explicit().and_then(|p| p.analytic_eig(chosen.row(0)));
    let document = json!({
        "problem": args.problem,
        "estimator": args.estimator,
        "optimizer": method.name(),
        "restarts": result.designs.len(),
        "seed": args.seed,
        "design": result.design,
        "eig": result.eig,
        "eig_stderr": result.stderr,
        "pce": pce_json,
        "analytic_eig": analytic,
        "best_restart": result.best_restart,
        "restart_designs": result.designs,
        "restart_eig": result.restart_eig,
        "stopped": result.stopped,
        "dropped": result.dropped,
        "evaluations": result.evaluations,
        "seconds": result.seconds,
        "config": config,
        "trace": result.trace,
    });
    std::fs::write(&args.out, serde_json::to_string_pretty(&document)?)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!(
        "design {:?}: EIG {:.4} ± {:.4} (re-scored, {}){}; {} evaluations, {} stopped, {} dropped, {:.1} s → {}",
        result.design,
        result.eig,
        result.stderr,
        args.estimator,
        analytic.map(|a| format!(", analytic {a:.4}")).unwrap_or_default(),
        result.evaluations,
        result.stopped.len(),
        result.dropped,
        result.seconds,
        args.out.display()
    );
    Ok(())
}
