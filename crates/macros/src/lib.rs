//! `#[rask::task]`: turns a plain Rust function into a typed constructor of task-graph nodes.
//!
//! What it is: a proc-macro that keeps the function's body as it is, registers an untyped
//! wrapper under a stable name (`module_path!()::name`, at link time, so every process running
//! the same binary resolves it the same way), and puts in the function's place a constructor
//! that takes `Delayed` arguments and returns a `Delayed` result — running nothing.
//!
//! What it is not: a way to send code anywhere. Functions still travel by name; see the
//! `rask` crate, which this macro's output refers to as `::rask`.

use proc_macro::TokenStream;
use quote::{format_ident, quote};
use syn::{parse_macro_input, FnArg, GenericArgument, ItemFn, Pat, PathArguments, ReturnType, Type};

/// Makes `fn f(a: A, b: B) -> R` a task: `f(x, y)` with `x: impl IntoArg<A>` (a `Delayed<A>`,
/// `lit(a)`, or a `Vec<Delayed<E>>` where `A = Vec<E>`) returns a `Delayed<R>`. A function
/// returning `Result<R, E>` with `E: Display` gives a `Delayed<R>` whose failure is an error
/// naming the key, the function and `E`'s message.
///
/// `#[rask::task(pure)]` (Dask's `pure=True`): a call's key is a hash of the function's name
/// and its arguments, so identical calls in one graph are one task.
#[proc_macro_attribute]
pub fn task(attr: TokenStream, item: TokenStream) -> TokenStream {
    let pure = match attr.to_string().as_str() {
        "" => false,
        "pure" => true,
        other => {
            let message = format!("#[rask::task] takes `pure` or nothing, not `{other}`");
            return syn::Error::new(proc_macro2::Span::call_site(), message).to_compile_error().into();
        }
    };
    let function = parse_macro_input!(item as ItemFn);
    match expand(function, pure) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand(function: ItemFn, pure: bool) -> syn::Result<proc_macro2::TokenStream> {
    let sig = &function.sig;
    if !sig.generics.params.is_empty() || sig.asyncness.is_some() {
        return Err(syn::Error::new_spanned(sig, "a task is a plain, non-generic, non-async function"));
    }
    let name = &sig.ident;
    let vis = &function.vis;
    let attrs = &function.attrs;
    let body_name = format_ident!("__rask_task_body_{}", name);
    let wrapper_name = format_ident!("__rask_task_call_{}", name);
    let mut params = Vec::new();
    for input in &sig.inputs {
        let FnArg::Typed(typed) = input else {
            return Err(syn::Error::new_spanned(input, "a task cannot take `self`"));
        };
        let Pat::Ident(ident) = &*typed.pat else {
            return Err(syn::Error::new_spanned(&typed.pat, "task parameters must be plain names"));
        };
        params.push((ident.ident.clone(), (*typed.ty).clone()));
    }
    let (output, fallible) = match &sig.output {
        ReturnType::Default => (syn::parse_quote!(()), false),
        ReturnType::Type(_, ty) => match result_ok_type(ty) {
            Some(ok) => (ok, true),
            None => ((**ty).clone(), false),
        },
    };
    let arity = params.len();
    let names: Vec<_> = params.iter().map(|(n, _)| n.clone()).collect();
    let types: Vec<_> = params.iter().map(|(_, t)| t.clone()).collect();
    let indices: Vec<usize> = (0..arity).collect();
    let mut body_fn = function.clone();
    body_fn.sig.ident = body_name.clone();
    body_fn.vis = syn::Visibility::Inherited;
    body_fn.attrs.retain(|a| !a.path().is_ident("doc"));
    let finish = if fallible {
        quote! {
            match result {
                ::core::result::Result::Ok(value) => ::rask::to_value(&value),
                ::core::result::Result::Err(e) => ::core::result::Result::Err(::rask::TaskError::new("Error", e.to_string())),
            }
        }
    } else {
        quote! { ::rask::to_value(&result) }
    };
    Ok(quote! {
        #[allow(non_snake_case)]
        #[doc(hidden)]
        #body_fn

        #[allow(non_snake_case)]
        #[doc(hidden)]
        fn #wrapper_name(args: &[::rask::Value]) -> ::core::result::Result<::rask::Value, ::rask::TaskError> {
            #( let #names: #types = ::rask::from_arg(args, #indices, stringify!(#names))?; )*
            let result = #body_name(#(#names),*);
            #finish
        }

        ::rask::register!(
            ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name)),
            ::rask::Arity::Exact(#arity),
            #wrapper_name
        );

        #(#attrs)*
        #vis fn #name(#( #names: impl ::rask::IntoArg<#types> ),*) -> ::rask::Delayed<#output> {
            ::rask::Delayed::call_with(
                #pure,
                ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name)),
                ::std::vec![#( ::rask::IntoArg::<#types>::into_arg(#names) ),*],
            )
        }
    })
}

/// `T` of a return type written `Result<T, E>` (any path ending in `Result` with two arguments).
fn result_ok_type(ty: &Type) -> Option<Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else { return None };
    if args.args.len() != 2 {
        return None;
    }
    match args.args.first()? {
        GenericArgument::Type(ok) => Some(ok.clone()),
        _ => None,
    }
}
