//! `#[derive(State)]` for lemmings-graph (being written).
use proc_macro::TokenStream;

/// Derives `lemmings_graph::State`.
#[proc_macro_derive(State, attributes(reducer, state))]
pub fn derive_state(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}
