//! Each crate's build matrix, declared in its own manifest and read with `cargo metadata`,
//! so that a new crate cannot silently escape the checks.
//!
//! ```toml
//! [package.metadata.portnet]
//! # Built for the thumb targets without default features, once per feature set
//! # ("" is none; step `no-std`). Empty or absent: not a no_std crate.
//! no-std = ["", "embedded-tls"]
//! # Checked with the MSRV toolchain (step `msrv`); "all-features" checks it a second
//! # time with `--all-features`.
//! msrv = true            # or "all-features", or false
//! # Documented minimal feature sets that must build (step `features`): on the host,
//! # or as a table with the `target` they are for.
//! minimal = ["rustls", { features = "tcp,slip", target = "thumbv7m-none-eabi" }]
//! # Feature sets that make no sense: each must fail with its `compile_error!`
//! # message (step `features`); `target` if the check only holds there.
//! impossible = [{ features = "", message = "needs a socket kind" }]
//! ```
//!
//! Every feature of a crate must be in one of these sets or in its defaults, so that a
//! new feature is built on its own somewhere (the `gaps` test).

use serde_json::Value;

/// One workspace package, as far as the checks care.
#[derive(Debug)]
pub(crate) struct Package {
    pub(crate) name: String,
    /// Whether it has a library target (the crates the matrix must cover).
    pub(crate) lib: bool,
    /// `publish` is not `false`.
    pub(crate) publishable: bool,
    /// `[package.metadata.portnet]`, if present.
    pub(crate) matrix: Option<Matrix>,
    /// Its features, `default` and those it enables left out.
    pub(crate) optional_features: Vec<String>,
    /// `[package.metadata.docs.rs]`, if present.
    pub(crate) docs_rs: Option<DocsRs>,
    /// The fields crates.io shows that the manifest leaves empty, and a missing
    /// `CHANGELOG.md` next to it.
    pub(crate) missing_fields: Vec<&'static str>,
}

/// What a published crate's page needs (cargo metadata's names).
const FIELDS: [&str; 7] = [
    "description",
    "repository",
    "keywords",
    "categories",
    "rust_version",
    "license",
    "readme",
];

/// What docs.rs reads from `[package.metadata.docs.rs]`, as far as the crates use it.
#[derive(Debug, Default)]
pub(crate) struct DocsRs {
    pub(crate) all_features: bool,
    pub(crate) no_default_features: bool,
    pub(crate) features: Vec<String>,
    pub(crate) default_target: Option<String>,
    pub(crate) rustdoc_args: Vec<String>,
}

/// `[package.metadata.portnet]` of one crate.
#[derive(Debug, Default)]
pub(crate) struct Matrix {
    pub(crate) no_std: Vec<String>,
    pub(crate) msrv: Msrv,
    pub(crate) minimal: Vec<FeatureSet>,
    pub(crate) impossible: Vec<Impossible>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Msrv {
    /// Not checked with the MSRV toolchain.
    #[default]
    No,
    /// Checked with its default features.
    Default,
    /// Checked with its default features and again with `--all-features`.
    AllFeatures,
}

/// A feature set that must build, on the host or for `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FeatureSet {
    pub(crate) features: String,
    pub(crate) target: Option<String>,
}

/// A feature set that must fail to build, with the message that says how to fix it.
#[derive(Debug)]
pub(crate) struct Impossible {
    pub(crate) features: String,
    pub(crate) target: Option<String>,
    pub(crate) message: String,
}

/// The workspace's packages, in the order of its `members`.
pub(crate) fn packages() -> Result<Vec<Package>, String> {
    let out = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let json: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("cargo metadata: bad JSON: {e}"))?;
    parse(&json)
}

/// The workspace's crates that declare a matrix, with it, in workspace order.
pub(crate) fn matrices() -> Result<Vec<(String, Matrix)>, String> {
    Ok(packages()?
        .into_iter()
        .filter_map(|p| Some((p.name, p.matrix?)))
        .collect())
}

fn parse(json: &Value) -> Result<Vec<Package>, String> {
    let packages = json["packages"]
        .as_array()
        .ok_or("cargo metadata: no `packages`")?;
    let members: Vec<&str> = json["workspace_members"]
        .as_array()
        .map(|m| m.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut result = Vec::new();
    for id in members {
        let Some(package) = packages.iter().find(|p| p["id"].as_str() == Some(id)) else {
            continue;
        };
        let name = package["name"].as_str().unwrap_or_default().to_owned();
        let lib = package["targets"].as_array().is_some_and(|targets| {
            targets.iter().any(|t| {
                t["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "lib"))
            })
        });
        // `null` is "anywhere"; `[]` is `publish = false`.
        let publishable = package["publish"]
            .as_array()
            .is_none_or(|registries| !registries.is_empty());
        let matrix = match &package["metadata"]["portnet"] {
            Value::Null => None,
            table => Some(matrix(table).map_err(|e| format!("{name}: metadata.portnet: {e}"))?),
        };
        let features = package["features"].as_object();
        let defaults: Vec<&str> = features
            .and_then(|f| f.get("default")?.as_array())
            .map(|d| d.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let optional_features = features
            .into_iter()
            .flat_map(|f| f.keys())
            .filter(|f| *f != "default" && !defaults.contains(&f.as_str()))
            .cloned()
            .collect();
        let docs_rs = match &package["metadata"]["docs"]["rs"] {
            Value::Null => None,
            table => Some(docs_rs(table)),
        };
        let missing_fields = FIELDS
            .into_iter()
            .filter(|field| match &package[*field] {
                Value::Null => true,
                Value::String(s) => s.is_empty(),
                Value::Array(a) => a.is_empty(),
                _ => false,
            })
            .chain(
                package["manifest_path"]
                    .as_str()
                    .map(std::path::Path::new)
                    .and_then(std::path::Path::parent)
                    .is_some_and(|dir| !dir.join("CHANGELOG.md").is_file())
                    .then_some("CHANGELOG.md"),
            )
            .collect();
        result.push(Package {
            name,
            lib,
            publishable,
            matrix,
            optional_features,
            docs_rs,
            missing_fields,
        });
    }
    Ok(result)
}

fn docs_rs(table: &Value) -> DocsRs {
    let strings = |key: &str| -> Vec<String> {
        table[key]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    DocsRs {
        all_features: table["all-features"].as_bool().unwrap_or(false),
        no_default_features: table["no-default-features"].as_bool().unwrap_or(false),
        features: strings("features"),
        default_target: table["default-target"].as_str().map(str::to_owned),
        rustdoc_args: strings("rustdoc-args"),
    }
}

fn matrix(table: &Value) -> Result<Matrix, String> {
    let strings = |key: &str| -> Result<Vec<String>, String> {
        match &table[key] {
            Value::Null => Ok(Vec::new()),
            Value::Array(items) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("`{key}` holds a non-string"))
                })
                .collect(),
            _ => Err(format!("`{key}` is not a list of feature sets")),
        }
    };
    let msrv = match &table["msrv"] {
        Value::Null | Value::Bool(false) => Msrv::No,
        Value::Bool(true) => Msrv::Default,
        Value::String(s) if s == "all-features" => Msrv::AllFeatures,
        other => {
            return Err(format!(
                "`msrv` is true, false or \"all-features\", not {other}"
            ));
        }
    };
    let impossible = match &table["impossible"] {
        Value::Null => Vec::new(),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                let field = |k: &str| i[k].as_str().map(str::to_owned);
                Ok(Impossible {
                    features: field("features").ok_or("`impossible` entry without `features`")?,
                    target: field("target"),
                    message: field("message").ok_or("`impossible` entry without `message`")?,
                })
            })
            .collect::<Result<_, &str>>()?,
        _ => return Err("`impossible` is not a list".into()),
    };
    for key in table.as_object().into_iter().flat_map(|t| t.keys()) {
        if !["no-std", "msrv", "minimal", "impossible"].contains(&key.as_str()) {
            return Err(format!("unknown key `{key}`"));
        }
    }
    let minimal = match &table["minimal"] {
        Value::Null => Vec::new(),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(features) => Ok(FeatureSet {
                    features: features.clone(),
                    target: None,
                }),
                table => Ok(FeatureSet {
                    features: table["features"]
                        .as_str()
                        .ok_or("`minimal` entry without `features`")?
                        .to_owned(),
                    target: table["target"].as_str().map(str::to_owned),
                }),
            })
            .collect::<Result<_, &str>>()?,
        _ => return Err("`minimal` is not a list".into()),
    };
    Ok(Matrix {
        no_std: strings("no-std")?,
        msrv,
        minimal,
        impossible,
    })
}

/// What the matrix misses: library crates without one; publishable libraries the MSRV
/// check leaves out (a crate that declares `rust-version` must keep it), or without
/// docs.rs settings or the fields of a crates.io page.
pub(crate) fn gaps(packages: &[Package]) -> Vec<String> {
    let mut gaps = Vec::new();
    for p in packages.iter().filter(|p| p.lib) {
        match &p.matrix {
            None => gaps.push(format!(
                "{}: a library crate without [package.metadata.portnet] (keys: xtask/src/matrix.rs)",
                p.name
            )),
            Some(m) if p.publishable && m.msrv == Msrv::No => gaps.push(format!(
                "{}: publishable, but not checked with the MSRV toolchain (`msrv = false`)",
                p.name
            )),
            Some(m) => {
                let sets = m
                    .no_std
                    .iter()
                    .chain(m.minimal.iter().map(|s| &s.features))
                    .chain(m.impossible.iter().map(|s| &s.features));
                let covered: Vec<&str> = sets.flat_map(|s| s.split(',')).collect();
                let unbuilt: Vec<&str> = p
                    .optional_features
                    .iter()
                    .map(String::as_str)
                    .filter(|f| !covered.contains(f))
                    .collect();
                if !unbuilt.is_empty() {
                    gaps.push(format!(
                        "{}: features in no set of its matrix nor in its defaults: {}",
                        p.name,
                        unbuilt.join(", ")
                    ));
                }
            }
        }
        if p.publishable && !p.missing_fields.is_empty() {
            gaps.push(format!(
                "{}: publishable, but without: {}",
                p.name,
                p.missing_fields.join(", ")
            ));
        }
        if p.publishable && p.docs_rs.is_none() {
            gaps.push(format!(
                "{}: publishable, but without [package.metadata.docs.rs]",
                p.name
            ));
        }
    }
    gaps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_library_crate_declares_its_matrix() {
        let packages = packages().unwrap();
        assert!(packages.iter().any(|p| p.name == "portnet"), "{packages:?}");
        let gaps = gaps(&packages);
        assert!(gaps.is_empty(), "{gaps:#?}");
    }

    #[test]
    fn finds_gaps() {
        let package = |name: &str, lib, publishable, msrv: Option<Msrv>| Package {
            name: name.into(),
            lib,
            publishable,
            matrix: msrv.map(|msrv| Matrix {
                msrv,
                ..Matrix::default()
            }),
            optional_features: Vec::new(),
            docs_rs: publishable.then(DocsRs::default),
            missing_fields: Vec::new(),
        };
        let mut packages = vec![
            package("covered", true, true, Some(Msrv::Default)),
            package("tool", false, false, None),
            package("internal", true, false, Some(Msrv::No)),
            package("new", true, false, None),
            package("unchecked", true, true, Some(Msrv::No)),
        ];
        let mut featured = package("featured", true, false, Some(Msrv::No));
        featured.optional_features = vec!["x".into(), "y".into(), "z".into()];
        if let Some(m) = &mut featured.matrix {
            m.no_std = vec!["x".into()];
            m.minimal = vec![FeatureSet {
                features: "x,z".into(),
                target: None,
            }];
        }
        packages.push(featured);
        let gaps = gaps(&packages);
        assert_eq!(gaps.len(), 3, "{gaps:?}");
        assert!(gaps[0].starts_with("new:") && gaps[1].starts_with("unchecked:"));
        assert!(
            gaps[2].starts_with("featured:") && gaps[2].ends_with(": y"),
            "{gaps:?}"
        );
    }

    #[test]
    fn reads_a_matrix_and_refuses_typos() {
        let json: Value = serde_json::from_str(
            r#"{"workspace_members": ["a", "b"], "packages": [
                {"id": "b", "name": "b", "publish": [], "targets": [{"kind": ["bin"]}],
                 "metadata": null},
                {"id": "a", "name": "a", "publish": null, "targets": [{"kind": ["lib"]}],
                 "features": {"default": ["d"], "d": [], "x": [], "t": []},
                 "metadata": {"portnet": {"no-std": ["", "x"], "msrv": "all-features",
                    "minimal": ["x", {"features": "t", "target": "thumbv7m-none-eabi"}],
                    "impossible": [{"features": "", "message": "enable x"}]}}}
            ]}"#,
        )
        .unwrap();
        let packages = parse(&json).unwrap();
        assert_eq!(packages[0].name, "a", "workspace order");
        assert!(packages[0].lib && packages[0].publishable);
        assert!(!packages[1].lib && !packages[1].publishable);
        let m = packages[0].matrix.as_ref().unwrap();
        assert_eq!(m.no_std, ["", "x"]);
        assert_eq!(m.msrv, Msrv::AllFeatures);
        assert_eq!(m.impossible[0].message, "enable x");
        assert_eq!(m.minimal[1].target.as_deref(), Some("thumbv7m-none-eabi"));
        assert_eq!(
            packages[0].optional_features,
            ["t", "x"],
            "defaults left out"
        );
        assert!(packages[1].matrix.is_none());
        assert!(packages[0].docs_rs.is_none());
        for bad in [
            r#"{"nostd": []}"#,
            r#"{"msrv": "yes"}"#,
            r#"{"no-std": "x"}"#,
            r#"{"impossible": [{"features": ""}]}"#,
        ] {
            assert!(
                matrix(&serde_json::from_str(bad).unwrap()).is_err(),
                "{bad}"
            );
        }
    }
}
