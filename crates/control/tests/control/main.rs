//! The control plane through its public operations, as the API calls them.

mod ports;
mod requests;
