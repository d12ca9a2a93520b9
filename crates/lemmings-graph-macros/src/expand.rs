//! Turns a checked [`Model`] into the generated code: the update type, its setters, the `State`
//! and `Update` impls, the `Command` conversion and one hidden reducer type per `fn` reducer.
//!
//! The expansion lands in the user's module, where any name may be shadowed (a local `Option`,
//! `Result`, `usize`, `format!` or `Default`), so every path is absolute (`::core::...`,
//! `::std::...`, `::lemmings_graph::...`), trait methods are called through their trait, and
//! the macro's own local variables use mixed-site spans so that user paths spliced in (a reducer
//! function named `update`, say) cannot resolve to them.

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::DeriveInput;
use syn::spanned::Spanned;

use crate::parse::{self, FieldModel, Model, ReducerChoice};

/// Checks the input and generates the code; errors are reported by the caller as
/// `compile_error!`s.
pub(crate) fn expand(input: DeriveInput) -> syn::Result<TokenStream> {
    let model = parse::parse(input)?;
    Ok(generate(&model))
}

/// A local variable of the generated code, invisible to user tokens spliced next to it.
fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

/// What the generated code needs to know about one field.
struct Channel<'a> {
    field: &'a FieldModel,
    /// Its position, as an unsuffixed literal for indices and match arms.
    index: Literal,
    /// The reducer type.
    reducer: TokenStream,
    /// The type a node writes through the reducer (`R::Update`).
    update_ty: TokenStream,
    /// The hidden reducer type to define, for `fn` reducers.
    hidden: Option<TokenStream>,
    /// Where the reducer was chosen. The channel's generated code carries it, so that a reducer
    /// that does not fit the field type (`#[reducer(append)] n: i64`) is mostly reported at the
    /// attribute rather than at the derive.
    span: Span,
}

fn channel<'a>(model: &Model, index: usize, field: &'a FieldModel) -> Channel<'a> {
    let ty = &field.ty;
    let builtin = |span: Span, name: &str| {
        let name = Ident::new(name, span);
        quote_spanned!(span=> ::lemmings_graph::#name)
    };
    let (span, reducer, hidden) = match &field.reducer {
        ReducerChoice::LastValue(span) => (*span, builtin(*span, "LastValue"), None),
        ReducerChoice::Append(span) => (*span, builtin(*span, "Append"), None),
        ReducerChoice::Add(span) => (*span, builtin(*span, "Add"), None),
        ReducerChoice::Messages(span) => (*span, builtin(*span, "Messages"), None),
        ReducerChoice::With(with) => (with.span(), quote!(#with), None),
        ReducerChoice::Fn(function) => {
            let span = function.span();
            let name = format_ident!("__LemmingsReducer_{}_{}", model.ident, field.name, span = span);
            let hidden = fn_reducer(&name, ty, function);
            (span, quote!(#name), Some(hidden))
        }
    };
    // A `fn` reducer's update is the field type itself; spelling it out keeps the private
    // reducer type out of the public update field and setter.
    let update_ty = match &field.reducer {
        ReducerChoice::Fn(_) => quote!(#ty),
        _ => quote_spanned!(span=> <#reducer as ::lemmings_graph::Reducer<#ty>>::Update),
    };
    Channel {
        field,
        index: Literal::usize_unsuffixed(index),
        reducer,
        update_ty,
        hidden,
        span,
    }
}

/// The reducer type wrapping `#[reducer(fn = function)]`.
fn fn_reducer(name: &Ident, ty: &syn::Type, function: &syn::ExprPath) -> TokenStream {
    let value = local("value");
    let update = local("update");
    let reduce = local("reduce");
    quote! {
        // Uninhabited: it only names the reducer at the type level and is never built.
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        enum #name {}

        #[automatically_derived]
        impl ::lemmings_graph::Reducer<#ty> for #name {
            type Update = #ty;
            const KIND: ::lemmings_graph::ReducerKind = ::lemmings_graph::ReducerKind::Custom;

            fn reduce(
                #value: &mut #ty,
                #update: #ty,
            ) -> ::core::result::Result<(), ::lemmings_graph::ReduceError> {
                // The coercion names the expected signature in the error when the function
                // has another one.
                let #reduce: fn(&mut #ty, #ty) = #function;
                #reduce(#value, #update);
                ::core::result::Result::Ok(())
            }
        }
    }
}

fn generate(model: &Model) -> TokenStream {
    let channels: Vec<Channel<'_>> = model
        .fields
        .iter()
        .enumerate()
        .map(|(index, field)| channel(model, index, field))
        .collect();
    let hidden = channels.iter().filter_map(|channel| channel.hidden.as_ref());
    let update_struct = update_struct(model, &channels);
    let setters = setters(model, &channels);
    let state_impl = state_impl(model, &channels);
    let update_impl = update_impl(model, &channels);
    let state = &model.ident;
    let update = &model.update;
    let count = channels.len();
    let too_many = format!("`{state}` has more channels than lemmings_graph::MAX_CHANNELS");
    quote! {
        #update_struct
        #setters
        #state_impl
        #update_impl
        #(#hidden)*

        #[automatically_derived]
        impl ::core::convert::From<#update> for ::lemmings_graph::Command<#state> {
            fn from(update: #update) -> Self {
                ::lemmings_graph::Command::<#state>::new().update(update)
            }
        }

        // The macro checks its own copy of the limit; this keeps the copy honest.
        const _: () = ::core::assert!(#count <= ::lemmings_graph::MAX_CHANNELS, #too_many);
    }
}

/// `#[doc]` attributes: `summary`, then the field's own docs as further paragraphs.
fn docs(summary: &str, field: &FieldModel) -> TokenStream {
    let own = &field.docs;
    if own.is_empty() {
        quote!(#[doc = #summary])
    } else {
        quote!(#[doc = #summary] #[doc = ""] #(#own)*)
    }
}

fn update_struct(model: &Model, channels: &[Channel<'_>]) -> TokenStream {
    let Model {
        ident: state,
        vis,
        update,
        ..
    } = model;
    let doc = format!("The partial update of [`{state}`]: one optional write per field.");
    let fields = channels.iter().map(|channel| {
        let FieldModel {
            ident, ty, docs, name, ..
        } = channel.field;
        let update_ty = &channel.update_ty;
        let docs = if docs.is_empty() {
            let doc = format!("The write to `{name}`, if any.");
            quote!(#[doc = #doc])
        } else {
            quote!(#(#docs)*)
        };
        quote! {
            #docs
            #[serde(skip_serializing_if = "::core::option::Option::is_none")]
            #vis #ident: ::core::option::Option<::lemmings_graph::Write<#ty, #update_ty>>,
        }
    });
    quote! {
        #[doc = #doc]
        #[derive(
            ::core::clone::Clone,
            ::core::fmt::Debug,
            ::core::default::Default,
            ::lemmings_graph::__private::serde::Serialize,
            ::lemmings_graph::__private::serde::Deserialize,
        )]
        #[serde(crate = "::lemmings_graph::__private::serde", default, deny_unknown_fields)]
        #vis struct #update {
            #(#fields)*
        }
    }
}

fn setters(model: &Model, channels: &[Channel<'_>]) -> TokenStream {
    let Model { vis, update, .. } = model;
    let value = local("value");
    let methods = channels.iter().map(|channel| {
        let field = channel.field;
        let FieldModel { ident, ty, name, .. } = field;
        let update_ty = &channel.update_ty;
        let overwrite = format_ident!("overwrite_{}", name, span = ident.span());
        let update_docs = docs(&format!("Writes `{name}` through its reducer."), field);
        let overwrite_docs = docs(&format!("Replaces `{name}`, bypassing its reducer."), field);
        quote! {
            #update_docs
            #[must_use = "setters return the changed update"]
            #vis fn #ident(mut self, #value: impl ::core::convert::Into<#update_ty>) -> Self {
                self.#ident = ::core::option::Option::Some(::lemmings_graph::Write::Update(
                    ::core::convert::Into::into(#value),
                ));
                self
            }

            #overwrite_docs
            #[must_use = "setters return the changed update"]
            #vis fn #overwrite(mut self, #value: impl ::core::convert::Into<#ty>) -> Self {
                self.#ident = ::core::option::Option::Some(::lemmings_graph::Write::Overwrite(
                    ::core::convert::Into::into(#value),
                ));
                self
            }
        }
    });
    quote! {
        // Setters take the field's name, so a field named `add`, `default` or `to_x` gives a
        // method clippy would question in hand-written code; a private state need not use all.
        #[automatically_derived]
        #[allow(dead_code, clippy::should_implement_trait, clippy::wrong_self_convention)]
        impl #update {
            #(#methods)*
        }
    }
}

fn state_impl(model: &Model, channels: &[Channel<'_>]) -> TokenStream {
    let Model {
        ident: state, update, ..
    } = model;
    let json = quote!(::lemmings_graph::__private::serde_json);
    let (updates, changes, channel, chain, before, after, task) = (
        local("updates"),
        local("changes"),
        local("channel"),
        local("chain"),
        local("before"),
        local("after"),
        local("task"),
    );

    let specs = channels.iter().map(|c| {
        let (reducer, ty, name) = (&c.reducer, &c.field.ty, &c.field.name);
        quote_spanned!(c.span=> ::lemmings_graph::__private::spec::<#reducer, #ty>(#name))
    });
    let applies = channels.iter().map(|c| {
        let (reducer, ty, name, ident, index) = (&c.reducer, &c.field.ty, &c.field.name, &c.field.ident, &c.index);
        quote_spanned! {c.span=>
            ::lemmings_graph::__private::apply_field::<#reducer, #ty>(
                &mut self.#ident,
                #index,
                #name,
                ::core::iter::Iterator::map(#updates.iter_mut(), |#task| (#task.writer, #task.update.#ident.take())),
                &mut #changes,
            )?;
        }
    });
    let encodes = channels.iter().map(|c| {
        let (ident, index) = (&c.field.ident, &c.index);
        quote_spanned!(c.span=> #index => #json::to_vec(&self.#ident),)
    });
    let restores = channels.iter().map(|c| {
        let (reducer, ty, name, ident, index) = (&c.reducer, &c.field.ty, &c.field.name, &c.field.ident, &c.index);
        quote_spanned! {c.span=>
            #index => ::lemmings_graph::__private::restore_field::<#reducer, #ty>(&mut self.#ident, #name, #chain),
        }
    });
    let diffs = channels.iter().map(|c| {
        let (reducer, ty, ident, index) = (&c.reducer, &c.field.ty, &c.field.ident, &c.index);
        quote_spanned! {c.span=>
            #ident: ::lemmings_graph::__private::diff_field::<#reducer, #ty>(
                &#before.#ident,
                &#after.#ident,
                #index,
                #changes,
            ),
        }
    });
    let no_channel = format!("state `{state}` has no channel {{}}");

    quote! {
        #[automatically_derived]
        // A state without fields leaves the parameters unused.
        #[allow(unused_variables, unused_mut)]
        impl ::lemmings_graph::State for #state {
            type Update = #update;

            fn channels() -> &'static [::lemmings_graph::ChannelSpec] {
                // A named constant: a `const fn` call is not promoted to `'static` otherwise.
                const CHANNELS: &[::lemmings_graph::ChannelSpec] = &[#(#specs),*];
                CHANNELS
            }

            fn apply(
                &mut self,
                #updates: &mut [::lemmings_graph::TaskUpdate<'_, #update>],
            ) -> ::core::result::Result<::lemmings_graph::Changes, ::lemmings_graph::ApplyError> {
                let mut #changes = <::lemmings_graph::Changes as ::core::default::Default>::default();
                #(#applies)*
                ::core::result::Result::Ok(#changes)
            }

            fn encode_channel(
                &self,
                #channel: ::core::primitive::usize,
            ) -> ::core::result::Result<::std::vec::Vec<::core::primitive::u8>, #json::Error> {
                match #channel {
                    #(#encodes)*
                    _ => ::core::result::Result::Err(
                        <#json::Error as ::lemmings_graph::__private::serde::ser::Error>::custom(
                            ::std::format!(#no_channel, #channel),
                        ),
                    ),
                }
            }

            fn restore_channel(
                &mut self,
                #channel: ::core::primitive::usize,
                #chain: &[::lemmings_graph::ChannelData],
            ) -> ::core::result::Result<(), ::lemmings_graph::RestoreError> {
                match #channel {
                    #(#restores)*
                    _ => ::core::result::Result::Err(::lemmings_graph::RestoreError {
                        channel: "?",
                        reason: ::std::format!(#no_channel, #channel),
                    }),
                }
            }

            fn diff(#before: &Self, #after: &Self, #changes: &::lemmings_graph::Changes) -> #update {
                #update { #(#diffs)* }
            }
        }
    }
}

fn update_impl(model: &Model, channels: &[Channel<'_>]) -> TokenStream {
    let Model {
        ident: state, update, ..
    } = model;
    let json = quote!(::lemmings_graph::__private::serde_json);
    let (set, out, write, channel, bytes) = (
        local("set"),
        local("out"),
        local("write"),
        local("channel"),
        local("bytes"),
    );

    let written = channels.iter().map(|c| {
        let (ident, index) = (&c.field.ident, &c.index);
        quote_spanned! {c.span=>
            if ::core::option::Option::is_some(&self.#ident) {
                #set.insert(#index);
            }
        }
    });
    let prepares = channels.iter().map(|c| {
        let (reducer, ty, ident) = (&c.reducer, &c.field.ty, &c.field.ident);
        quote_spanned!(c.span=> ::lemmings_graph::__private::prepare_field::<#reducer, #ty>(&mut self.#ident);)
    });
    let encodes = channels.iter().map(|c| {
        let (ident, index) = (&c.field.ident, &c.index);
        quote_spanned! {c.span=>
            if let ::core::option::Option::Some(#write) = &self.#ident {
                #out.push((#index, #json::to_vec(#write)?));
            }
        }
    });
    let decodes = channels.iter().map(|c| {
        let (ident, index) = (&c.field.ident, &c.index);
        quote_spanned! {c.span=>
            #index => {
                self.#ident = ::core::option::Option::Some(#json::from_slice(#bytes)?);
                ::core::result::Result::Ok(())
            }
        }
    });
    let no_channel = format!("state `{state}` has no channel {{}}");

    quote! {
        #[automatically_derived]
        // An update without fields leaves the parameters unused and the collections unchanged.
        #[allow(unused_variables, unused_mut)]
        impl ::lemmings_graph::Update for #update {
            fn written(&self) -> ::lemmings_graph::ChannelSet {
                let mut #set = ::lemmings_graph::ChannelSet::EMPTY;
                #(#written)*
                #set
            }

            fn prepare(&mut self) {
                #(#prepares)*
            }

            fn encode(
                &self,
            ) -> ::core::result::Result<
                ::std::vec::Vec<(::core::primitive::usize, ::std::vec::Vec<::core::primitive::u8>)>,
                #json::Error,
            > {
                let mut #out = ::std::vec::Vec::new();
                #(#encodes)*
                ::core::result::Result::Ok(#out)
            }

            fn decode_channel(
                &mut self,
                #channel: ::core::primitive::usize,
                #bytes: &[::core::primitive::u8],
            ) -> ::core::result::Result<(), #json::Error> {
                match #channel {
                    #(#decodes)*
                    _ => ::core::result::Result::Err(
                        <#json::Error as ::lemmings_graph::__private::serde::de::Error>::custom(
                            ::std::format!(#no_channel, #channel),
                        ),
                    ),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use syn::parse_quote;

    use super::expand;

    /// The expansion as one string without spaces, for `contains` checks.
    fn expanded(input: syn::DeriveInput) -> String {
        expand(input).unwrap().to_string().replace(' ', "")
    }

    #[test]
    fn fn_reducer_fields_do_not_name_the_hidden_type() {
        let code = expanded(parse_quote! {
            pub struct Demo { #[reducer(fn = merge)] pub set: Vec<u8> }
        });
        assert!(
            code.contains("pubset:::core::option::Option<::lemmings_graph::Write<Vec<u8>,Vec<u8>>>"),
            "{code}"
        );
        assert!(code.contains("enum__LemmingsReducer_Demo_set{}"), "{code}");
        assert!(
            !code.contains("pubenum"),
            "the hidden reducer type must stay private: {code}"
        );
        assert!(code.contains("ReducerKind::Custom"), "{code}");
    }

    #[test]
    fn builtin_reducers_go_through_the_projection() {
        let code = expanded(parse_quote! {
            struct Demo { #[reducer(append)] log: Vec<String>, x: i64 }
        });
        assert!(
            code.contains("log:::core::option::Option<::lemmings_graph::Write<Vec<String>,<::lemmings_graph::Appendas::lemmings_graph::Reducer<Vec<String>>>::Update>>"),
            "{code}"
        );
        assert!(
            code.contains("spec::<::lemmings_graph::LastValue,i64>(\"x\")"),
            "{code}"
        );
    }

    #[test]
    fn raw_fields_keep_their_identifier_and_lose_the_prefix_elsewhere() {
        let code = expanded(parse_quote! {
            #[state(update = Step)]
            struct Demo { r#type: String }
        });
        assert!(code.contains("structStep{"), "{code}");
        assert!(code.contains("fnr#type(mutself"), "{code}");
        assert!(code.contains("fnoverwrite_type(mutself"), "{code}");
        assert!(code.contains("(\"type\")"), "{code}");
    }

    #[test]
    fn the_update_takes_the_state_visibility() {
        let code = expanded(parse_quote! {
            pub(crate) struct Demo { x: i64 }
        });
        assert!(code.contains("pub(crate)structDemoUpdate"), "{code}");
        assert!(code.contains("pub(crate)x:"), "{code}");
        assert!(code.contains("pub(crate)fnx(mutself"), "{code}");
    }
}
