//! Where tensors live. The default is burn's pure-Rust CPU backend `flex`. A build with the `wgpu`
//! or `vulkan` feature (GPU through wgpu; no LLVM download), or `cuda` (whose burn 0.22 build
//! downloads an LLVM bundle and so needs general internet access), can run networks on a GPU,
//! chosen at run time by the environment variable `LINDLEY_DEVICE` (`flex`, `wgpu`, `vulkan`,
//! `cuda`). Numerical results on a GPU agree with the CPU's to f32 rounding, not bit for bit.

use burn::prelude::*;

use crate::{Error, Result};

/// Environment variable that selects the backend.
pub const DEVICE_VARIABLE: &str = "LINDLEY_DEVICE";

/// The backends this build can use, by the names `LINDLEY_DEVICE` accepts.
pub fn available_backends() -> Vec<&'static str> {
    let mut names = vec!["flex"];
    if cfg!(feature = "wgpu") {
        names.push("wgpu");
    }
    if cfg!(feature = "vulkan") {
        names.push("vulkan");
    }
    if cfg!(feature = "cuda") {
        names.push("cuda");
    }
    names
}

/// The device named `name` (see [`available_backends`]); an error names the backends this build
/// has when `name` is unknown or was not compiled in.
pub fn device_named(name: &str) -> Result<Device> {
    match name {
        "flex" | "cpu" => Ok(Device::flex()),
        #[cfg(feature = "wgpu")]
        "wgpu" => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
        #[cfg(feature = "vulkan")]
        "vulkan" => Ok(Device::vulkan(burn::tensor::DeviceKind::DefaultDevice)),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(0)),
        other => Err(Error::InvalidInput(format!(
            "{DEVICE_VARIABLE}={other}: this build of lindley has the backends {}{}",
            available_backends().join(", "),
            if matches!(other, "wgpu" | "vulkan" | "cuda") {
                format!("; rebuild with `--features {other}` for {other}")
            } else {
                String::new()
            }
        ))),
    }
}

/// The device for inference: the one `LINDLEY_DEVICE` names, `flex` when it is unset.
pub fn compute_device() -> Result<Device> {
    match std::env::var(DEVICE_VARIABLE) {
        Ok(name) if !name.trim().is_empty() => device_named(name.trim()),
        _ => Ok(Device::flex()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_or_missing_backends_are_named_in_the_error() {
        assert!(device_named("flex").is_ok());
        let error = device_named("tpu").unwrap_err().to_string();
        assert!(error.contains("LINDLEY_DEVICE=tpu") && error.contains("flex"), "{error}");
        if !cfg!(feature = "cuda") {
            let error = device_named("cuda").unwrap_err().to_string();
            assert!(error.contains("--features cuda"), "{error}");
        }
    }
}
