//! `__bpfkit_log!`: the expansion of bpfkit-log-ebpf's `error!`…`trace!`, with the format
//! string checked at compile time against the arguments.

use bpfkit_log_common::{Hint, Parser, Piece};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Ident, LitStr, Token};

const LEVELS: &[&str] = &["Error", "Warn", "Info", "Debug", "Trace"];

/// `Level, [target: "t",] "fmt" [, arg]*`
pub(crate) struct LogInput {
    level: Ident,
    target: Option<LitStr>,
    format: LitStr,
    args: Vec<Expr>,
}

impl Parse for LogInput {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let level: Ident = input.parse()?;
        input.parse::<Token![,]>()?;
        let target = if input.peek(Ident) && input.peek2(Token![:]) {
            let key: Ident = input.parse()?;
            if key != "target" {
                return Err(syn::Error::new(
                    key.span(),
                    "expected `target: \"...\"` or the format string",
                ));
            }
            input.parse::<Token![:]>()?;
            let target: LitStr = input.parse()?;
            input.parse::<Token![,]>()?;
            Some(target)
        } else {
            None
        };
        let format: LitStr = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "the first argument of a log macro is a string literal format",
            )
        })?;
        let mut args = Vec::new();
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            args.push(input.parse()?);
        }
        Ok(Self {
            level,
            target,
            format,
            args,
        })
    }
}

/// Expands one log call.
pub(crate) fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let LogInput {
        level,
        target,
        format,
        args,
    } = syn::parse2(input)?;
    if !LEVELS.iter().any(|l| level == l) {
        return Err(syn::Error::new(
            level.span(),
            "log level must be Error, Warn, Info, Debug or Trace",
        ));
    }
    let text = format.value();
    let mut hints = Vec::new();
    for piece in Parser::new(&text) {
        match piece {
            Ok(Piece::Placeholder(hint)) => hints.push(hint),
            Ok(Piece::Literal(_)) => {}
            Err(e) => {
                return Err(syn::Error::new(
                    format.span(),
                    format!("invalid log format: {e}"),
                ))
            }
        }
    }
    if hints.len() != args.len() {
        return Err(syn::Error::new(
            format.span(),
            format!(
                "log format has {} placeholder{} but {} argument{} given",
                hints.len(),
                if hints.len() == 1 { "" } else { "s" },
                args.len(),
                if args.len() == 1 { " is" } else { "s are" }
            ),
        ));
    }
    if args.len() > 255 {
        return Err(syn::Error::new(
            format.span(),
            "a log call takes at most 255 arguments",
        ));
    }
    let target = match target {
        Some(t) if t.value().len() > 255 => {
            return Err(syn::Error::new(
                t.span(),
                "log target is longer than 255 bytes",
            ))
        }
        Some(t) => quote!(#t),
        None => quote!(::core::module_path!()),
    };
    let p = quote!(::bpfkit_log_ebpf::__private);
    let names: Vec<Ident> = (0..args.len())
        .map(|i| format_ident!("__bpfkit_arg{i}"))
        .collect();
    let checks = hints.iter().zip(&names).map(|(hint, name)| {
        let check = match hint {
            Hint::Display => quote!(check_display),
            Hint::LowerHex | Hint::UpperHex => quote!(check_hex),
            Hint::Ip => quote!(check_ip),
            Hint::Mac => quote!(check_mac),
        };
        quote!(#p::#check(#name);)
    });
    let count = args.len() as u8;
    Ok(quote! {
        {
            let __bpfkit_level = #p::Level::#level;
            if #p::enabled(__bpfkit_level) {
                #( let #names = &(#args); )*
                #( #checks )*
                const __BPFKIT_TARGET: &str = #target;
                const __BPFKIT_FORMAT: &str = #format;
                const __BPFKIT_WORDS: usize = #p::text_word_count(__BPFKIT_TARGET, __BPFKIT_FORMAT);
                const __BPFKIT_TEXT: [u64; __BPFKIT_WORDS] = #p::text_words(__BPFKIT_TARGET, __BPFKIT_FORMAT);
                let __bpfkit_size = #p::args_offset(__BPFKIT_TARGET, __BPFKIT_FORMAT)
                    #( + #p::slot_size(#names) )*;
                if let ::core::option::Option::Some(mut __bpfkit_writer) = #p::Writer::start(
                    __bpfkit_level,
                    #count,
                    __BPFKIT_TARGET,
                    __BPFKIT_FORMAT,
                    &__BPFKIT_TEXT,
                    ::core::line!(),
                    __bpfkit_size,
                ) {
                    let __bpfkit_offset = #p::args_offset(__BPFKIT_TARGET, __BPFKIT_FORMAT);
                    #( let __bpfkit_offset = __bpfkit_writer.arg(__bpfkit_offset, #names); )*
                    let _ = __bpfkit_offset;
                    __bpfkit_writer.submit();
                }
            }
        }
    })
}
