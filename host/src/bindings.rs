//! The host side of the `falcon:plugin@0.1.0` contract, generated from `wit/`.
//!
//! This is the only `bindgen!` of the host: every import is async (Falcon
//! calls wait on the network) and trappable (a host failure, such as the
//! plugin overrunning its output limit, stops the plugin instead of handing
//! it an error to ignore).

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "falcon:plugin/hosts.host-stream": crate::api::hosts::HostStream,
    },
});

pub(crate) use self::falcon::plugin::types::{
    Comparison, Denial, Error as PluginError, Filter, UpstreamError,
};
