//! Reads the derive input and its `#[reducer(...)]` / `#[state(...)]` attributes into a [`Model`].
//!
//! All checks that can be made on the syntax live here, so that `expand` only has to print
//! tokens. Errors are collected rather than returned at the first one, so a user fixing a struct
//! sees every bad attribute in one compile.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Fields, Ident, Meta, Token, Type, Visibility};

/// Mirrors `lemmings_graph::MAX_CHANNELS`: the macro cannot read the constant, so it checks this
/// copy for a good error span, and the generated code asserts the real one.
pub(crate) const MAX_CHANNELS: usize = 256;

/// What every `#[reducer(...)]` error lists as the valid spellings.
const EXPECTED_REDUCERS: &str = "expected one of last_value, append, add, messages, fn = path, with = Type";

/// A `#[derive(State)]` struct, checked.
pub(crate) struct Model {
    /// The state struct.
    pub(crate) ident: Ident,
    /// The struct's visibility, given to the update type, its fields and its setters.
    pub(crate) vis: Visibility,
    /// The update type's name (`<Struct>Update` unless `#[state(update = Name)]`).
    pub(crate) update: Ident,
    /// The fields, in declaration order: field `i` is channel `i`.
    pub(crate) fields: Vec<FieldModel>,
}

/// One field, that is one channel.
pub(crate) struct FieldModel {
    /// The field as written, possibly raw (`r#type`).
    pub(crate) ident: Ident,
    /// The channel name: the identifier without `r#`.
    pub(crate) name: String,
    pub(crate) ty: Type,
    pub(crate) reducer: ReducerChoice,
    /// The field's `#[doc]` attributes, copied onto the update field and the setters.
    pub(crate) docs: Vec<Attribute>,
}

/// The reducer a field asked for.
pub(crate) enum ReducerChoice {
    /// No attribute, or `#[reducer(last_value)]`; the span is the attribute's word or the field type.
    LastValue(Span),
    Append(Span),
    Add(Span),
    Messages(Span),
    /// `#[reducer(with = Type)]`.
    With(Type),
    /// `#[reducer(fn = path)]`: a `fn(&mut T, T)`, wrapped in a generated reducer type.
    Fn(syn::ExprPath),
}

/// Collects errors so that all of them are reported together.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(first) => first.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Checks the derive input and builds the model.
pub(crate) fn parse(input: DeriveInput) -> syn::Result<Model> {
    let mut errors = Errors::default();

    // Channels are typed by the struct's field types, and the update type, the hidden reducer
    // types and the `Command<S>` conversion would all need the same parameters and bounds; no
    // use case needs it yet, so generics are refused rather than half supported.
    if !input.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &input.generics,
            "`#[derive(State)]` does not support generic structs; give the fields concrete types",
        ));
    } else if let Some(where_clause) = &input.generics.where_clause {
        errors.push(syn::Error::new_spanned(
            where_clause,
            "`#[derive(State)]` does not support where clauses; remove it",
        ));
    }

    let update = match parse_container_attrs(&input.attrs) {
        Ok(update) => update,
        Err(error) => {
            errors.push(error);
            None
        }
    };
    let update =
        update.unwrap_or_else(|| quote::format_ident!("{}Update", input.ident.unraw(), span = input.ident.span()));
    if update.unraw() == input.ident.unraw() {
        errors.push(syn::Error::new(
            update.span(),
            "the update type cannot have the state's name; pick another, e.g. `#[state(update = StepUpdate)]`",
        ));
    }

    let named = match input.data {
        Data::Struct(data) => match data.fields {
            Fields::Named(named) => Some(named.named),
            Fields::Unnamed(unnamed) => {
                errors.push(syn::Error::new_spanned(
                    unnamed,
                    "`#[derive(State)]` needs named fields, one per channel; write `struct Name { field: Type }`",
                ));
                None
            }
            Fields::Unit => {
                errors.push(syn::Error::new(
                    data.semi_token.map_or(input.ident.span(), |semi| semi.span),
                    "`#[derive(State)]` needs named fields, one per channel; write `struct Name { field: Type }`",
                ));
                None
            }
        },
        Data::Enum(data) => {
            errors.push(syn::Error::new(
                data.enum_token.span,
                "`#[derive(State)]` works on structs with named fields, not enums; \
                 write `struct Name { field: Type }`",
            ));
            None
        }
        Data::Union(data) => {
            errors.push(syn::Error::new(
                data.union_token.span,
                "`#[derive(State)]` works on structs with named fields, not unions; \
                 write `struct Name { field: Type }`",
            ));
            None
        }
    };

    let mut fields = Vec::new();
    if let Some(named) = named {
        if named.len() > MAX_CHANNELS {
            errors.push(syn::Error::new_spanned(
                &named[MAX_CHANNELS],
                format!(
                    "a state has at most {MAX_CHANNELS} channels but `{}` has {} fields; \
                     group related fields into a struct-valued field",
                    input.ident.unraw(),
                    named.len()
                ),
            ));
        }
        for field in named {
            match parse_field(field) {
                Ok(field) => fields.push(field),
                Err(error) => errors.push(error),
            }
        }
    }
    if let Err(error) = check_setter_names(&fields) {
        errors.push(error);
    }

    errors.finish()?;
    Ok(Model {
        ident: input.ident,
        vis: input.vis,
        update,
        fields,
    })
}

/// Reads the struct's attributes: `#[state(update = Name)]`, and a misplaced `#[reducer]`.
fn parse_container_attrs(attrs: &[Attribute]) -> syn::Result<Option<Ident>> {
    let mut errors = Errors::default();
    let mut update: Option<Ident> = None;
    for attr in attrs {
        if attr.path().is_ident("reducer") {
            errors.push(syn::Error::new_spanned(
                attr,
                "`#[reducer(...)]` goes on a field, not on the struct; \
                 for the update type's name write `#[state(update = Name)]`",
            ));
        } else if attr.path().is_ident("state")
            && let Err(error) = parse_state_attr(attr, &mut update)
        {
            errors.push(error);
        }
    }
    errors.finish()?;
    Ok(update)
}

/// Parses one `#[state(...)]` into `update`, refusing a second `update = ...`.
fn parse_state_attr(attr: &Attribute, update: &mut Option<Ident>) -> syn::Result<()> {
    const USAGE: &str = "expected `#[state(update = Name)]`";
    let Meta::List(list) = &attr.meta else {
        return Err(syn::Error::new_spanned(attr, USAGE));
    };
    if list.tokens.is_empty() {
        return Err(syn::Error::new_spanned(attr, USAGE));
    }
    list.parse_args_with(|input: ParseStream<'_>| {
        loop {
            let key = input.call(Ident::parse_any)?;
            if key != "update" {
                return Err(syn::Error::new(
                    key.span(),
                    format!("unknown state option `{key}`; {USAGE}"),
                ));
            }
            if !input.peek(Token![=]) {
                return Err(syn::Error::new(key.span(), format!("`update` needs a name; {USAGE}")));
            }
            input.parse::<Token![=]>()?;
            let name: Ident = input.parse()?;
            if update.is_some() {
                return Err(syn::Error::new(
                    key.span(),
                    "duplicate `update` option; the update type has one name, keep one",
                ));
            }
            *update = Some(name);
            if input.is_empty() {
                return Ok(());
            }
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                return Ok(());
            }
        }
    })
}

/// Reads one field: its channel name, reducer and docs.
fn parse_field(field: syn::Field) -> syn::Result<FieldModel> {
    let ident = field.ident.expect("named fields have identifiers");
    let mut errors = Errors::default();
    let mut reducer: Option<ReducerChoice> = None;
    let mut docs = Vec::new();
    for attr in field.attrs {
        if attr.path().is_ident("reducer") {
            if reducer.is_some() {
                errors.push(syn::Error::new_spanned(
                    &attr,
                    "duplicate `#[reducer]` attribute; a field has one reducer, keep one",
                ));
                continue;
            }
            match parse_reducer_attr(&attr) {
                Ok(choice) => reducer = Some(choice),
                Err(error) => errors.push(error),
            }
        } else if attr.path().is_ident("state") {
            errors.push(syn::Error::new_spanned(
                &attr,
                "`#[state(...)]` goes on the struct, not on a field; \
                 for the field's reducer write `#[reducer(...)]`",
            ));
        } else if attr.path().is_ident("doc") {
            docs.push(attr);
        }
    }
    errors.finish()?;
    let reducer = reducer.unwrap_or_else(|| ReducerChoice::LastValue(field.ty.span()));
    Ok(FieldModel {
        name: ident.unraw().to_string(),
        ident,
        ty: field.ty,
        reducer,
        docs,
    })
}

/// Parses `#[reducer(word)]`, `#[reducer(with = Type)]` or `#[reducer(fn = path)]`.
fn parse_reducer_attr(attr: &Attribute) -> syn::Result<ReducerChoice> {
    let Meta::List(list) = &attr.meta else {
        return Err(syn::Error::new_spanned(
            attr,
            format!("expected `#[reducer(...)]`; {EXPECTED_REDUCERS}"),
        ));
    };
    if list.tokens.is_empty() {
        return Err(syn::Error::new_spanned(
            attr,
            format!("empty `#[reducer()]`; {EXPECTED_REDUCERS}"),
        ));
    }
    list.parse_args_with(|input: ParseStream<'_>| {
        if !input.peek(Ident::peek_any) {
            return Err(input.error(format!("expected a reducer name; {EXPECTED_REDUCERS}")));
        }
        // `parse_any` because `fn` is a keyword.
        let key = input.call(Ident::parse_any)?;
        let word = key.to_string();
        let choice = match word.as_str() {
            "last_value" => ReducerChoice::LastValue(key.span()),
            "append" => ReducerChoice::Append(key.span()),
            "add" => ReducerChoice::Add(key.span()),
            "messages" => ReducerChoice::Messages(key.span()),
            "with" => ReducerChoice::With(value_of(
                input,
                &key,
                "`with` needs a reducer type; write `#[reducer(with = Type)]`",
            )?),
            "fn" => ReducerChoice::Fn(value_of(
                input,
                &key,
                "`fn` needs a function; write `#[reducer(fn = path::to::function)]`",
            )?),
            _ => {
                return Err(syn::Error::new(
                    key.span(),
                    format!("unknown reducer `{word}`; {EXPECTED_REDUCERS}"),
                ));
            }
        };
        if !matches!(choice, ReducerChoice::With(_) | ReducerChoice::Fn(_)) && input.peek(Token![=]) {
            return Err(syn::Error::new(
                key.span(),
                format!("`{word}` takes no value; write `#[reducer({word})]`"),
            ));
        }
        if input.is_empty() {
            return Ok(choice);
        }
        input.parse::<Token![,]>()?;
        if input.is_empty() {
            return Ok(choice);
        }
        // Reducers do not compose, so a second one is always a mistake; name both.
        let second = if input.peek(Ident::peek_any) {
            input.call(Ident::parse_any)?.to_string()
        } else {
            input.parse::<proc_macro2::TokenTree>()?.to_string()
        };
        Err(syn::Error::new_spanned(
            attr,
            format!("a field has one reducer, but this attribute names both `{word}` and `{second}`; keep one"),
        ))
    })
}

/// Parses the `= value` after `key`, or fails with `usage` at `key`.
fn value_of<T: syn::parse::Parse>(input: ParseStream<'_>, key: &Ident, usage: &str) -> syn::Result<T> {
    if !input.peek(Token![=]) {
        return Err(syn::Error::new(key.span(), usage));
    }
    input.parse::<Token![=]>()?;
    input.parse()
}

/// Every field gets a setter with its own name and `overwrite_<name>`; a field called
/// `overwrite_x` next to a field `x` would define the same method twice.
fn check_setter_names(fields: &[FieldModel]) -> syn::Result<()> {
    let overwriters: HashMap<String, &FieldModel> = fields
        .iter()
        .map(|field| (format!("overwrite_{}", field.name), field))
        .collect();
    let mut errors = Errors::default();
    for field in fields {
        if let Some(owner) = overwriters.get(&field.name) {
            errors.push(syn::Error::new(
                field.ident.span(),
                format!(
                    "field `{}` clashes with `{}`, the overwrite setter generated for field `{}`; rename one of them",
                    field.name, field.name, owner.name
                ),
            ));
        }
    }
    errors.finish()
}

#[cfg(test)]
mod tests {
    use syn::parse_quote;

    use crate::expand::expand;

    /// The messages of the errors `expand` reports, in order.
    fn errors(input: syn::DeriveInput) -> Vec<String> {
        match expand(input) {
            Ok(tokens) => panic!("expected an error, got {tokens}"),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    fn error(input: syn::DeriveInput) -> String {
        let mut all = errors(input);
        assert_eq!(all.len(), 1, "expected one error, got {all:?}");
        all.remove(0)
    }

    #[test]
    fn accepts_every_reducer_spelling() {
        let input: syn::DeriveInput = parse_quote! {
            #[state(update = Step)]
            pub struct S {
                a: i64,
                #[reducer(last_value)] b: i64,
                #[reducer(append)] c: Vec<u8>,
                #[reducer(add)] d: u32,
                #[reducer(messages)] e: Vec<M>,
                #[reducer(with = my::Max,)] f: u8,
                #[reducer(fn = merge::<u8>)] g: Vec<u8>,
                #[reducer(fn = <X as Y>::merge)] h: Vec<u8>,
            }
        };
        expand(input).unwrap();
    }

    #[test]
    fn unknown_reducer_lists_the_spellings() {
        let input = parse_quote! { struct S { #[reducer(apend)] log: Vec<String> } };
        assert_eq!(
            error(input),
            "unknown reducer `apend`; expected one of last_value, append, add, messages, fn = path, with = Type"
        );
    }

    #[test]
    fn non_word_reducer_is_refused() {
        let input = parse_quote! { struct S { #[reducer("append")] log: Vec<String> } };
        assert_eq!(
            error(input),
            "expected a reducer name; expected one of last_value, append, add, messages, fn = path, with = Type"
        );
    }

    #[test]
    fn bare_and_empty_reducer_attributes_are_refused() {
        let input = parse_quote! { struct S { #[reducer] a: u8, #[reducer()] b: u8, #[reducer = "add"] c: u8 } };
        assert_eq!(
            errors(input),
            [
                "expected `#[reducer(...)]`; expected one of last_value, append, add, messages, fn = path, with = Type",
                "empty `#[reducer()]`; expected one of last_value, append, add, messages, fn = path, with = Type",
                "expected `#[reducer(...)]`; expected one of last_value, append, add, messages, fn = path, with = Type",
            ]
        );
    }

    #[test]
    fn word_reducers_take_no_value() {
        let input = parse_quote! { struct S { #[reducer(append = true)] log: Vec<String> } };
        assert_eq!(error(input), "`append` takes no value; write `#[reducer(append)]`");
    }

    #[test]
    fn with_and_fn_need_a_value() {
        let input = parse_quote! { struct S { #[reducer(with)] a: u8, #[reducer(fn)] b: u8 } };
        assert_eq!(
            errors(input),
            [
                "`with` needs a reducer type; write `#[reducer(with = Type)]`",
                "`fn` needs a function; write `#[reducer(fn = path::to::function)]`",
            ]
        );
    }

    #[test]
    fn fn_and_with_together_are_refused() {
        let input = parse_quote! { struct S { #[reducer(fn = merge, with = Max)] a: u8 } };
        assert_eq!(
            error(input),
            "a field has one reducer, but this attribute names both `fn` and `with`; keep one"
        );
    }

    #[test]
    fn two_words_are_refused() {
        let input = parse_quote! { struct S { #[reducer(append, add)] a: Vec<u8> } };
        assert_eq!(
            error(input),
            "a field has one reducer, but this attribute names both `append` and `add`; keep one"
        );
    }

    #[test]
    fn duplicate_reducer_attribute_is_refused() {
        let input = parse_quote! { struct S { #[reducer(append)] #[reducer(add)] a: Vec<u8> } };
        assert_eq!(
            error(input),
            "duplicate `#[reducer]` attribute; a field has one reducer, keep one"
        );
    }

    #[test]
    fn attributes_in_the_wrong_place_are_refused() {
        let input = parse_quote! {
            #[reducer(append)]
            struct S { #[state(update = U)] a: u8 }
        };
        assert_eq!(
            errors(input),
            [
                "`#[reducer(...)]` goes on a field, not on the struct; for the update type's name write `#[state(update = Name)]`",
                "`#[state(...)]` goes on the struct, not on a field; for the field's reducer write `#[reducer(...)]`",
            ]
        );
    }

    #[test]
    fn state_attribute_errors() {
        let unknown = parse_quote! { #[state(updates = U)] struct S { a: u8 } };
        assert_eq!(
            error(unknown),
            "unknown state option `updates`; expected `#[state(update = Name)]`"
        );
        let bare = parse_quote! { #[state] struct S { a: u8 } };
        assert_eq!(error(bare), "expected `#[state(update = Name)]`");
        let no_value = parse_quote! { #[state(update)] struct S { a: u8 } };
        assert_eq!(
            error(no_value),
            "`update` needs a name; expected `#[state(update = Name)]`"
        );
        let twice = parse_quote! { #[state(update = A)] #[state(update = B)] struct S { a: u8 } };
        assert_eq!(
            error(twice),
            "duplicate `update` option; the update type has one name, keep one"
        );
        let same = parse_quote! { #[state(update = S)] struct S { a: u8 } };
        assert_eq!(
            error(same),
            "the update type cannot have the state's name; pick another, e.g. `#[state(update = StepUpdate)]`"
        );
    }

    #[test]
    fn only_structs_with_named_fields() {
        let expected = "`#[derive(State)]` needs named fields, one per channel; write `struct Name { field: Type }`";
        assert_eq!(error(parse_quote! { struct S(u8); }), expected);
        assert_eq!(error(parse_quote! { struct S; }), expected);
        assert_eq!(
            error(parse_quote! { enum S { A } }),
            "`#[derive(State)]` works on structs with named fields, not enums; write `struct Name { field: Type }`"
        );
        assert_eq!(
            error(parse_quote! { union S { a: u8 } }),
            "`#[derive(State)]` works on structs with named fields, not unions; write `struct Name { field: Type }`"
        );
    }

    #[test]
    fn generics_are_refused() {
        assert_eq!(
            error(parse_quote! { struct S<T> { a: T } }),
            "`#[derive(State)]` does not support generic structs; give the fields concrete types"
        );
        assert_eq!(
            error(parse_quote! { struct S<'a> { a: &'a str } }),
            "`#[derive(State)]` does not support generic structs; give the fields concrete types"
        );
        assert_eq!(
            error(parse_quote! { struct S where u8: Copy { a: u8 } }),
            "`#[derive(State)]` does not support where clauses; remove it"
        );
    }

    #[test]
    fn too_many_fields() {
        let fields: Vec<String> = (0..=super::MAX_CHANNELS).map(|i| format!("f{i}: u8")).collect();
        let input = syn::parse_str(&format!("struct Big {{ {} }}", fields.join(", "))).unwrap();
        assert_eq!(
            error(input),
            "a state has at most 256 channels but `Big` has 257 fields; group related fields into a struct-valued field"
        );
        let fields: Vec<String> = (0..super::MAX_CHANNELS).map(|i| format!("f{i}: u8")).collect();
        let input = syn::parse_str(&format!("struct Full {{ {} }}", fields.join(", "))).unwrap();
        expand(input).unwrap();
    }

    #[test]
    fn overwrite_setter_clash() {
        let input = parse_quote! { struct S { overwrite_x: u8, x: u8 } };
        assert_eq!(
            error(input),
            "field `overwrite_x` clashes with `overwrite_x`, the overwrite setter generated for field `x`; rename one of them"
        );
    }

    #[test]
    fn errors_from_several_fields_are_all_reported() {
        let input = parse_quote! { struct S<T> { #[reducer(apend)] a: T, #[reducer(ad)] b: u8 } };
        assert_eq!(
            errors(input),
            [
                "`#[derive(State)]` does not support generic structs; give the fields concrete types",
                "unknown reducer `apend`; expected one of last_value, append, add, messages, fn = path, with = Type",
                "unknown reducer `ad`; expected one of last_value, append, add, messages, fn = path, with = Type",
            ]
        );
    }

    #[test]
    fn channel_names_drop_the_raw_prefix() {
        let input = parse_quote! { struct S { r#type: u8 } };
        let model = super::parse(input).unwrap();
        assert_eq!(model.fields[0].name, "type");
        assert_eq!(model.fields[0].ident.to_string(), "r#type");
        assert_eq!(model.update.to_string(), "SUpdate");
    }
}
