//! The learned EIG estimators by command-line name, one table for `design`, `eig`, `sequential`
//! and `bench acquisition`; each command refuses the entries it cannot run.

use anyhow::{Result, bail};
use lindley::boed::eig::{CriticObjective, FlowEigKind};
use lindley::boed::optimize::MprgaEstimator;

/// A learned EIG estimator: how MPR-GA trains it online at the current designs, and how it is
/// trained once amortised over the design box (flows), where it can be.
#[derive(Debug, Clone, Copy)]
pub struct LearnedEstimator {
    /// The command-line name.
    pub name: &'static str,
    /// Other names for it.
    pub aliases: &'static [&'static str],
    /// The bound MPR-GA ascends (`None`: no online form).
    pub online: Option<MprgaEstimator>,
    /// The critic's training objective where the name fixes it (otherwise the settings file's).
    pub objective: Option<CriticObjective>,
    /// The same estimator as flows amortised over the design box (`None`: online only).
    pub flows: Option<FlowEigKind>,
}

/// A table row with an online form only.
const fn online_only(name: &'static str, aliases: &'static [&'static str], bound: MprgaEstimator) -> LearnedEstimator {
    LearnedEstimator { name, aliases, online: Some(bound), objective: None, flows: None }
}

/// Every learned estimator.
const TABLE: [LearnedEstimator; 7] = [
    online_only("infonce", &["nre"], MprgaEstimator::InfoNce),
    LearnedEstimator { objective: Some(CriticObjective::Bce), ..online_only("npe-nre", &[], MprgaEstimator::InfoNce) },
    online_only("nle-pce", &[], MprgaEstimator::NleContrastive),
    online_only("ince", &[], MprgaEstimator::InceLambda),
    LearnedEstimator {
        flows: Some(FlowEigKind::BarberAgakov),
        ..online_only("ba", &["npe"], MprgaEstimator::BarberAgakov)
    },
    LearnedEstimator { flows: Some(FlowEigKind::NleDirect), ..online_only("nle", &[], MprgaEstimator::NleDirect) },
    LearnedEstimator {
        name: "upper",
        aliases: &[],
        online: None,
        objective: None,
        flows: Some(FlowEigKind::MarginalUpper),
    },
];

/// Every name, aliases in parentheses, for error messages.
pub fn all_names() -> String {
    TABLE
        .iter()
        .map(
            |e| {
                if e.aliases.is_empty() { e.name.to_string() } else { format!("{} ({})", e.name, e.aliases.join(", ")) }
            },
        )
        .collect::<Vec<_>>()
        .join(", ")
}

/// The estimator called `name` (or one of its aliases), or `None`.
pub fn find(name: &str) -> Option<LearnedEstimator> {
    TABLE.iter().find(|e| e.name == name || e.aliases.contains(&name)).copied()
}

/// The MPR-GA bound and the critic objective (`default_objective` where the name does not fix
/// one) of `name`; an error naming `command` for unknown names and flow-only estimators.
pub fn online(
    name: &str,
    command: &str,
    default_objective: CriticObjective,
) -> Result<(MprgaEstimator, CriticObjective)> {
    match find(name) {
        Some(LearnedEstimator { online: Some(bound), objective, .. }) => {
            Ok((bound, objective.unwrap_or(default_objective)))
        }
        Some(found) => bail!("{command} trains its estimator online by MPR-GA, which '{}' has no form for", found.name),
        None => bail!("unknown {command} estimator '{name}'; available: {}", online_names()),
    }
}

/// The names with an online form.
fn online_names() -> String {
    let names = |e: &LearnedEstimator| std::iter::once(e.name).chain(e.aliases.iter().copied()).collect::<Vec<_>>();
    TABLE.iter().filter(|e| e.online.is_some()).map(|e| names(e).join("/")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_resolve_to_the_same_estimator_and_unknown_names_are_listed() {
        let (ba, npe) = (find("ba").unwrap(), find("npe").unwrap());
        assert_eq!((ba.name, npe.name), ("ba", "ba"));
        assert_eq!(npe.online, Some(MprgaEstimator::BarberAgakov));
        assert_eq!(find("npe-nre").unwrap().objective, Some(CriticObjective::Bce));
        assert_eq!(online("nre", "test", CriticObjective::InfoNce).unwrap().0, MprgaEstimator::InfoNce);
        let upper = online("upper", "test", CriticObjective::InfoNce).unwrap_err().to_string();
        assert!(upper.contains("'upper' has no form"), "{upper}");
        let unknown = online("pce", "test", CriticObjective::InfoNce).unwrap_err().to_string();
        assert!(unknown.contains("infonce/nre, npe-nre, nle-pce, ince, ba/npe, nle"), "{unknown}");
        assert!(all_names().contains("ba (npe), nle, upper"));
    }
}
