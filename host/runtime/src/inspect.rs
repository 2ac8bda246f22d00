//! Static checks on a component before it is accepted: is it wasm, is it a component,
//! does it export the `step` interface of a WIT version this host serves.

use crate::error::LoadError;
use std::fmt;
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

/// The version of the `framepipe:plugin` WIT package this host implements.
pub const HOST_WIT_VERSION: WitVersion = WitVersion {
    major: 0,
    minor: 1,
    patch: 0,
};

const STEP_EXPORT: &str = "framepipe:plugin/step";

/// A semantic version of the WIT package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WitVersion {
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Patch.
    pub patch: u64,
}

impl WitVersion {
    /// Parses `X.Y.Z` (pre-release suffixes are not accepted).
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.split('.').map(|p| p.parse::<u64>().ok());
        let v = WitVersion {
            major: parts.next()??,
            minor: parts.next()??,
            patch: parts.next()??,
        };
        parts.next().is_none().then_some(v)
    }

    /// Whether a plugin built against `self` links against a host offering `host`: same
    /// major (and, while 0.x, same minor) and not newer than the host.
    pub fn served_by(&self, host: &WitVersion) -> bool {
        let same_line = if self.major == 0 {
            self.major == host.major && self.minor == host.minor
        } else {
            self.major == host.major
        };
        same_line && (self.minor, self.patch) <= (host.minor, host.patch)
    }
}

impl fmt::Display for WitVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Rejects what is not a component, before any compilation.
pub(crate) fn check_binary(bytes: &[u8]) -> Result<(), LoadError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(LoadError::NotWasm(
            "the file does not start with the `\\0asm` header".into(),
        ));
    }
    match bytes[4..8] {
        [1, 0, 0, 0] => Err(LoadError::CoreModule),
        [0x0d, 0x00, 0x01, 0x00] => Ok(()),
        _ => Err(LoadError::NotWasm(format!(
            "unknown WebAssembly version/layer {:02x?}",
            &bytes[4..8]
        ))),
    }
}

/// Checks the component's `step` export and returns the WIT version it targets.
pub(crate) fn check_world(component: &Component, engine: &Engine) -> Result<WitVersion, LoadError> {
    let ty = component.component_type();
    let exports: Vec<(String, ComponentItem)> = ty
        .exports(engine)
        .map(|(n, i)| (n.to_owned(), i.ty))
        .collect();
    let Some((name, item)) = exports.iter().find(|(n, _)| n.starts_with(STEP_EXPORT)) else {
        let names: Vec<&str> = exports.iter().map(|(n, _)| n.as_str()).collect();
        return Err(LoadError::MissingExport(format!(
            "no export `{STEP_EXPORT}@{HOST_WIT_VERSION}` (the component exports: {})",
            if names.is_empty() {
                "nothing".to_owned()
            } else {
                names.join(", ")
            }
        )));
    };
    let version = name
        .split_once('@')
        .and_then(|(_, v)| WitVersion::parse(v))
        .ok_or_else(|| LoadError::MissingExport(format!("export `{name}` carries no version")))?;
    if !version.served_by(&HOST_WIT_VERSION) {
        return Err(LoadError::IncompatibleVersion {
            plugin: version.to_string(),
            host: HOST_WIT_VERSION.to_string(),
        });
    }
    let ComponentItem::ComponentInstance(instance) = item else {
        return Err(LoadError::MissingExport(format!(
            "`{name}` is not an interface instance"
        )));
    };
    let funcs: Vec<String> = instance
        .exports(engine)
        .map(|(n, _)| n.to_owned())
        .collect();
    for required in ["describe", "run"] {
        if !funcs.iter().any(|f| f == required) {
            return Err(LoadError::MissingExport(format!(
                "`{name}` has no function `{required}`"
            )));
        }
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_compatibility() {
        let host = WitVersion::parse("0.1.3").unwrap();
        assert!(WitVersion::parse("0.1.0").unwrap().served_by(&host));
        assert!(WitVersion::parse("0.1.3").unwrap().served_by(&host));
        assert!(!WitVersion::parse("0.1.4").unwrap().served_by(&host));
        assert!(!WitVersion::parse("0.2.0").unwrap().served_by(&host));
        assert!(!WitVersion::parse("1.0.0").unwrap().served_by(&host));
        assert!(
            WitVersion::parse("1.2.0")
                .unwrap()
                .served_by(&WitVersion::parse("1.4.0").unwrap())
        );
        assert_eq!(WitVersion::parse("0.1"), None);
    }

    #[test]
    fn rejects_non_components() {
        assert!(matches!(
            check_binary(b"hello world"),
            Err(LoadError::NotWasm(_))
        ));
        assert!(matches!(
            check_binary(b"\0asm\x01\0\0\0"),
            Err(LoadError::CoreModule)
        ));
        assert!(check_binary(b"\0asm\x0d\0\x01\0").is_ok());
    }
}
