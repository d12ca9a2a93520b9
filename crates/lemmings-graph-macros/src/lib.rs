//! `#[derive(State)]` for lemmings-graph: the entry point; `parse` checks the input, `expand`
//! writes the code.

mod expand;
mod parse;

use proc_macro::TokenStream;

/// Derives `lemmings_graph::State` for a struct with named fields, and generates its update type.
///
/// Each field is a channel, numbered in declaration order and named after the field (without
/// `r#`). Its reducer is picked by a field attribute:
///
/// | attribute                      | reducer                                             |
/// |--------------------------------|-----------------------------------------------------|
/// | none, `#[reducer(last_value)]` | `LastValue`: one writer per superstep               |
/// | `#[reducer(append)]`           | `Append`: the update is a list, appended            |
/// | `#[reducer(add)]`              | `Add`: the update is added (`+=`)                   |
/// | `#[reducer(messages)]`         | `Messages`: upsert and remove by id                 |
/// | `#[reducer(with = Type)]`      | `Type`, which implements `Reducer<FieldType>`       |
/// | `#[reducer(fn = path)]`        | a `fn(&mut FieldType, FieldType)` folding an update |
///
/// The update type, `<Struct>Update` unless the struct says `#[state(update = Name)]`, has the
/// struct's visibility and one `Option<Write<..>>` field per channel, serialized as
/// `{"field": update}` or `{"field": {"__overwrite__": value}}`. For each field `x` it has two
/// setters: `x(update)` writes through the reducer and `overwrite_x(value)` replaces the value.
/// The update converts into `Command<Struct>`.
///
/// ```text
/// #[derive(Clone, Debug, Default, State)]
/// pub struct Chat {
///     #[reducer(append)]
///     pub log: Vec<String>,
///     pub turn: u32,
/// }
///
/// let update = ChatUpdate::default().log(vec!["hi".to_owned()]).turn(1_u32);
/// ```
///
/// The field types must be serde-serializable and have a `Default`, and the struct must be
/// `Clone + Default + Debug + Send + Sync + 'static`. Generic structs, tuple structs, enums and
/// unions are refused, as are states of more than 256 channels.
#[proc_macro_derive(State, attributes(reducer, state))]
pub fn derive_state(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::expand(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
