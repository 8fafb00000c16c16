//! The `alipay` command's library: [`doctor`], the checks `alipay doctor` runs on a
//! configuration. The SDK itself is the `alipay` crate; this crate is what a command line needs on
//! top of it (argument parsing, a runtime, name resolution, TOML files), kept out of the SDK so
//! that nobody who only takes payments compiles a CLI.

pub mod doctor;
