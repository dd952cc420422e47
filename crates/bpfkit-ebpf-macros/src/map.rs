//! `#[map]`: places a map definition in `.maps` under its Rust (or given) name.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemStatic;

use crate::args::Args;

/// Expands `#[map]` / `#[map(name = "...")]` on a `static`.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let args = Args::parse(attr, "map", &["name"])?;
    let item: ItemStatic = syn::parse2(item).map_err(|e| {
        syn::Error::new(e.span(), "`map` applies to a `static` holding a map definition, e.g. `static COUNTS: HashMap<u32, u64, 1024> = HashMap::new();`")
    })?;
    if let syn::StaticMutability::Mut(m) = &item.mutability {
        return Err(syn::Error::new_spanned(
            m,
            "`map` statics must not be `mut`: maps are used through `&self` methods",
        ));
    }
    let symbol = match args.str("name")? {
        Some(name) => {
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(syn::Error::new(
                    args.span("name"),
                    format!("map name \"{name}\" may only hold ASCII letters, digits and `_`"),
                ));
            }
            quote!(#[unsafe(export_name = #name)])
        }
        None => quote!(#[unsafe(no_mangle)]),
    };
    Ok(quote! {
        #symbol
        #[unsafe(link_section = ".maps")]
        #item
    })
}
