//! Settings files (TOML): what a file leaves out keeps the method's own defaults, at every depth,
//! and a key that no setting has is an error rather than silently ignored.
//!
//! A file is read in two passes. The first deserialises it alone into the settings type, which
//! checks every value against its type (with the file's line and column in the message). The
//! second merges the file's tables over the serialised base settings (the method's defaults) and
//! deserialises the result, collecting the keys the type does not know, so a partial
//! `[training]` table changes only the fields it names. A file that cannot be read alone but
//! merges well is accepted: a table of a tagged enum that names fields of the base's variant
//! without its `kind` (e.g. only `epsilon` of TSNPE's `[sequential]`). A table that names another
//! variant than the base (a different `kind` or `family`, or another key of a one-key table such
//! as an externally tagged enum) replaces the base's table instead: the base's fields belong to
//! the other variant.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;
use toml::{Table, Value};

/// A parsed settings file, to be applied over one or more bases with [`SettingsFile::over`].
#[derive(Clone, Debug)]
pub struct SettingsFile {
    path: PathBuf,
    text: String,
    table: Table,
}

impl SettingsFile {
    /// Read and parse a TOML file; an error names the file and, for bad TOML, the line.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let table: Table = toml::from_str(&text).with_context(|| format!("{}: not valid TOML", path.display()))?;
        Ok(Self { path: path.to_path_buf(), text, table })
    }

    /// The settings `base` with this file's values merged over it (see the module documentation);
    /// an error names the file and the offending key or value.
    pub fn over<T: Serialize + DeserializeOwned>(&self, base: &T) -> Result<T> {
        let name = short_type_name::<T>();
        let parser = toml::Deserializer::parse(&self.text)
            .with_context(|| format!("{}: not valid TOML", self.path.display()))?;
        let alone = T::deserialize(parser);
        let Value::Table(mut merged) = Value::try_from(base).context("the default settings do not serialise")? else {
            bail!("the default settings of {name} are not a table");
        };
        merge(&mut merged, &self.table);
        let mut unknown = Vec::new();
        let combined = serde_ignored::deserialize::<_, _, T>(Value::Table(merged), |key| unknown.push(key.to_string()));
        let settings = match (alone, combined) {
            (_, Ok(settings)) => settings,
            // The file alone names the line of a wrong value; the merged table cannot.
            (Err(error), Err(_)) => {
                return Err(error).with_context(|| format!("{}: invalid settings for {name}", self.path.display()));
            }
            (Ok(_), Err(error)) => {
                return Err(error).with_context(|| {
                    format!("{}: its settings do not combine with the defaults of {name}", self.path.display())
                });
            }
        };
        if !unknown.is_empty() {
            bail!(
                "{}: unknown setting{} {} for {name} (misspelt, or meant for another command?)",
                self.path.display(),
                if unknown.len() == 1 { "" } else { "s" },
                unknown.iter().map(|key| format!("`{key}`")).collect::<Vec<_>>().join(", ")
            );
        }
        Ok(settings)
    }
}

/// Read the settings file at `path` over `base`, or return `base` when no file is given.
pub fn read_over<T: Serialize + DeserializeOwned>(path: Option<&PathBuf>, base: T) -> Result<T> {
    match path {
        None => Ok(base),
        Some(path) => SettingsFile::read(path)?.over(&base),
    }
}

/// Merge `file` into `base`: tables of the same variant recursively, everything else replaced.
fn merge(base: &mut Table, file: &Table) {
    for (key, value) in file {
        match (base.get_mut(key), value) {
            (Some(Value::Table(base_table)), Value::Table(file_table)) if same_variant(base_table, file_table) => {
                merge(base_table, file_table)
            }
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Whether a file's table describes the same variant as the base's: no differing `kind` or
/// `family` tag, and not two one-key tables with different keys (externally tagged enums).
fn same_variant(base: &Table, file: &Table) -> bool {
    let same_tag = ["kind", "family"].iter().all(|tag| match (base.get(*tag), file.get(*tag)) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    });
    let other_key = base.len() == 1 && file.len() == 1 && base.keys().next() != file.keys().next();
    same_tag && !other_key
}

/// The name of `T` without its module path, for messages.
fn short_type_name<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    name.rsplit("::").next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lindley::inference::{NleConfig, NpeConfig, NreConfig, SequentialNpe, VaeConfig, VaeKind};
    use lindley::mcmc::Resampling;
    use lindley::train::TrainConfig;

    fn file(text: &str) -> SettingsFile {
        SettingsFile { path: PathBuf::from("test.toml"), text: text.to_string(), table: toml::from_str(text).unwrap() }
    }

    #[test]
    fn a_partial_table_keeps_the_methods_own_defaults() {
        let vae: VaeConfig = file("[training]\nbatch_size = 16\n").over(&VaeConfig::default()).unwrap();
        let expected = TrainConfig { batch_size: 16, ..VaeConfig::default().training };
        assert_eq!(vae.training, expected);
        assert_ne!(vae.training, TrainConfig { batch_size: 16, ..TrainConfig::default() });

        let nle: NleConfig = file("[estimator]\ntransforms = 3\n").over(&NleConfig::default()).unwrap();
        let expected = NleConfig::default().estimator;
        assert_eq!(nle.estimator.transforms, 3);
        assert_eq!(
            (nle.estimator.kind, nle.estimator.made_activation, nle.estimator.made_order),
            (expected.kind, expected.made_activation, expected.made_order)
        );
        assert_ne!(expected.kind, lindley::flows::EstimatorConfig::default().kind);

        let nested: NleConfig = file("[mcmc]\ninit_resampling = \"distinct\"\n").over(&NleConfig::default()).unwrap();
        assert_eq!(nested.mcmc.init_resampling, Resampling::Distinct);
        assert_eq!(nested.mcmc.chains, NleConfig::default().mcmc.chains);

        // `train tsnpe` reads its file over truncated rounds, so ε alone is enough.
        let npe: NpeConfig = file("[sequential]\nepsilon = 0.001\n").over(&NpeConfig::tsnpe()).unwrap();
        assert_eq!(npe.sequential, SequentialNpe::Truncated { epsilon: 0.001 });
    }

    #[test]
    fn a_file_applies_over_any_base_and_an_absent_file_returns_it() {
        let base = VaeConfig::for_sbibm_task(VaeKind::Conditional, "slcp");
        let vae: VaeConfig = file("hidden = [256, 256]\n").over(&base).unwrap();
        assert_eq!(vae.hidden, vec![256, 256]);
        assert_eq!(vae.training, base.training);
        assert_eq!(read_over(None, base.clone()).unwrap(), base);
    }

    #[test]
    fn a_table_of_another_kind_replaces_the_defaults_of_the_old_kind() {
        let nle: NleConfig = file("[estimator]\nkind = \"nsf\"\n").over(&NleConfig::default()).unwrap();
        assert_eq!(nle.estimator, lindley::flows::EstimatorConfig::default());

        let missing = file("[loss]\nkind = \"multiclass\"\nclasses = 3\n").over(&NreConfig::default()).unwrap_err();
        assert!(format!("{missing:#}").contains("gamma"), "{missing:#}");
        let nre: NreConfig =
            file("[loss]\nkind = \"multiclass\"\nclasses = 3\ngamma = 2.0\n").over(&NreConfig::default()).unwrap();
        assert_eq!(nre.loss, lindley::inference::NreLoss::Multiclass { classes: 3, gamma: 2.0 });
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors_that_name_them() {
        let error = file("[training]\nlearnig_rate = 1e-3\n").over(&NpeConfig::default()).unwrap_err();
        let message = format!("{error:#}");
        assert!(message.contains("test.toml") && message.contains("training.learnig_rate"), "{message}");
        assert!(message.contains("NpeConfig"), "{message}");

        let error = file("[training]\nbatch_size = \"many\"\n").over(&NpeConfig::default()).unwrap_err();
        let message = format!("{error:#}");
        assert!(message.contains("test.toml") && message.contains("batch_size"), "{message}");
    }

    #[test]
    fn every_shipped_settings_file_loads_for_its_method() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let read = |name: &str| SettingsFile::read(&root.join(name)).unwrap();
        for name in
            ["nle-made2", "nle-nsf", "nle-relu", "nle-reversed", "mcmc-init100k", "mcmc-per-chain", "mcmc-distinct"]
        {
            read(&format!("benches/configs/{name}.toml")).over(&NleConfig::default()).unwrap();
        }
        let mcmc = |name: &str| read(&format!("benches/configs/{name}.toml")).over(&NreConfig::default()).unwrap().mcmc;
        assert_eq!(mcmc("mcmc-per-chain").init_resampling, Resampling::PerChain);
        assert_eq!(mcmc("mcmc-distinct").init_resampling, Resampling::Distinct);
        let shared = mcmc("mcmc-init100k");
        assert_eq!((shared.init_candidates, shared.init_resampling), (100_000, Resampling::Distinct));
        read("benches/configs/npe-deepsets-slcp.toml").over(&NpeConfig::default()).unwrap();
        let wide = read("benches/configs/cpvae-slcp-wide.toml")
            .over(&VaeConfig::for_sbibm_task(VaeKind::Conditional, "slcp"))
            .unwrap();
        assert_eq!((wide.hidden, wide.training.batch_size), (vec![512; 3], 16));
        read("benches/results/nle-dequantize.toml").over(&NleConfig::default()).unwrap();
        read("benches/results/acquisition-small.toml").over(&lindley::boed::optimize::MprgaConfig::default()).unwrap();
        read("benches/results/aphid-50k.toml").over(&lindley::boed::eig::FlowEigConfig::default()).unwrap();
        for name in ["sequential-small", "sequential-npe"] {
            read(&format!("benches/results/{name}.toml"))
                .over(&lindley::boed::sequential::SequentialConfig::default())
                .unwrap();
        }
    }
}
