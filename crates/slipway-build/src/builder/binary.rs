//! Prebuilt binaries: one file per platform, found through a path template.

use std::path::Path;

use slipway_types::Platform;

use super::{Built, unhashed};
use crate::BuildError;

/// The path for `platform` from `template` (`{os}`, `{arch}`, `{variant}`), relative to `base`.
pub fn path_for(template: &str, platform: &Platform, base: &Path) -> std::path::PathBuf {
    let p = template
        .replace("{os}", platform.os())
        .replace("{arch}", platform.architecture())
        .replace("{variant}", platform.variant().unwrap_or(""));
    base.join(p)
}

/// Takes the prebuilt binaries.
pub fn collect(
    image: &str,
    template: &str,
    platforms: &[Platform],
    base: &Path,
) -> Result<Vec<Built>, BuildError> {
    platforms
        .iter()
        .map(|p| {
            let path = path_for(template, p, base);
            if !path.is_file() {
                return Err(BuildError::Spec {
                    image: image.to_owned(),
                    message: format!(
                        "binary.path: no file at `{}` for {p} (template `{template}`)",
                        path.display()
                    ),
                });
            }
            // Hashed as it streams into the layer: read once, and the state records exactly
            // the bytes the image holds.
            unhashed(p, path)
        })
        .collect()
}
