//! Attribute arguments: `key = "text"`, `key = 123` and bare `flag`s, checked against the
//! keys each attribute accepts.

use proc_macro2::Span;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Lit, Meta, Token};

/// One parsed argument.
pub(crate) enum Value {
    Str(String),
    Int(u64),
    Flag,
}

/// The arguments of one attribute, in order.
pub(crate) struct Args {
    items: Vec<(String, Value, Span)>,
}

impl Args {
    /// Parses `attr` and rejects keys outside `allowed` (each `"key"` or `"flag?"`).
    pub(crate) fn parse(
        attr: proc_macro2::TokenStream,
        attribute: &str,
        allowed: &[&str],
    ) -> syn::Result<Self> {
        let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(attr)?;
        let mut items = Vec::new();
        for meta in metas {
            let (key, value, span) = match &meta {
                Meta::Path(path) => (path_name(path)?, Value::Flag, span_of(path)),
                Meta::NameValue(nv) => {
                    let key = path_name(&nv.path)?;
                    let value = match &nv.value {
                        Expr::Lit(ExprLit {
                            lit: Lit::Str(s), ..
                        }) => Value::Str(s.value()),
                        Expr::Lit(ExprLit {
                            lit: Lit::Int(i), ..
                        }) => Value::Int(i.base10_parse()?),
                        other => {
                            return Err(syn::Error::new_spanned(
                                other,
                                format!("`{attribute}`: `{key}` takes a string or integer literal"),
                            ))
                        }
                    };
                    (key, value, span_of(&nv.path))
                }
                Meta::List(list) => {
                    return Err(syn::Error::new_spanned(
                        list,
                        format!("`{attribute}`: arguments are `key = \"value\"` or a bare flag"),
                    ))
                }
            };
            let is_flag = matches!(value, Value::Flag);
            let accepted = allowed.iter().any(|a| match a.strip_suffix('?') {
                Some(flag) => flag == key && is_flag,
                None => *a == key && !is_flag,
            });
            if !accepted {
                let expected: Vec<String> = allowed
                    .iter()
                    .map(|a| match a.strip_suffix('?') {
                        Some(flag) => format!("`{flag}`"),
                        None => format!("`{a} = ...`"),
                    })
                    .collect();
                let expected = if expected.is_empty() {
                    "no arguments".to_string()
                } else {
                    expected.join(", ")
                };
                return Err(syn::Error::new(
                    span,
                    format!(
                        "`{attribute}` does not take `{key}{}`; it accepts {expected}",
                        if is_flag { "" } else { " = ..." }
                    ),
                ));
            }
            if items
                .iter()
                .any(|(k, _, _): &(String, Value, Span)| *k == key)
            {
                return Err(syn::Error::new(
                    span,
                    format!("`{attribute}`: `{key}` given twice"),
                ));
            }
            items.push((key, value, span));
        }
        Ok(Self { items })
    }

    /// The string given for `key`, if any.
    pub(crate) fn str(&self, key: &str) -> syn::Result<Option<String>> {
        match self.items.iter().find(|(k, _, _)| k == key) {
            None => Ok(None),
            Some((_, Value::Str(s), span)) => {
                if s.is_empty() {
                    Err(syn::Error::new(*span, format!("`{key}` must not be empty")))
                } else {
                    Ok(Some(s.clone()))
                }
            }
            Some((_, _, span)) => Err(syn::Error::new(*span, format!("`{key}` takes a string"))),
        }
    }

    /// The string given for `key`, or an error naming the attribute when absent.
    pub(crate) fn required_str(&self, key: &str, attribute: &str) -> syn::Result<String> {
        self.str(key)?.ok_or_else(|| {
            syn::Error::new(
                Span::call_site(),
                format!("`{attribute}` needs `{key} = \"...\"`"),
            )
        })
    }

    /// The integer given for `key`, if any.
    pub(crate) fn int(&self, key: &str) -> syn::Result<Option<u64>> {
        match self.items.iter().find(|(k, _, _)| k == key) {
            None => Ok(None),
            Some((_, Value::Int(i), _)) => Ok(Some(*i)),
            Some((_, _, span)) => Err(syn::Error::new(*span, format!("`{key}` takes an integer"))),
        }
    }

    /// Whether the bare flag `key` was given.
    pub(crate) fn flag(&self, key: &str) -> bool {
        self.items
            .iter()
            .any(|(k, v, _)| k == key && matches!(v, Value::Flag))
    }

    /// The span of `key`'s argument, or the call site.
    pub(crate) fn span(&self, key: &str) -> Span {
        self.items
            .iter()
            .find(|(k, _, _)| k == key)
            .map_or_else(Span::call_site, |(_, _, s)| *s)
    }
}

fn path_name(path: &syn::Path) -> syn::Result<String> {
    path.get_ident()
        .map(|i| i.to_string())
        .ok_or_else(|| syn::Error::new_spanned(path, "expected a plain argument name"))
}

fn span_of(path: &syn::Path) -> Span {
    path.get_ident().map_or_else(Span::call_site, |i| i.span())
}
